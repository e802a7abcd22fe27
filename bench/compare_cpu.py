#!/usr/bin/env python3
"""FlashJIT's CPU backend beside its peers on this machine, in one run (issue 16).

For each of `flashjit bench --cpu`'s rows and each thread count:
  - OpenBLAS sgemm (Debian's libopenblas0-pthread when installed, as the issue measured, else numpy's own
    BLAS; --blas picks) on the attention's own products, per head
    S = Q K^T (s x d . d x s) and O = P V (s x s . s x d): the GEMM ceiling the issue measures against;
  - PyTorch's CPU scaled_dot_product_attention (its blocked flash-attention kernel) in the row's dtype;
  - llama.cpp's CPU flash attention as issue 16 measured it (2 threads, no mask; not re-measured here:
    the project does not build llama.cpp);
  - FlashJIT's CPU backend (flashjit bench --cpu).
FLOPs are 4 s^2 d per head for every column (half under the causal mask, for FlashJIT and PyTorch).
Writes cpu.md (a Markdown table), cpu.json and, when matplotlib imports, cpu.png.

numpy, torch and matplotlib come from pip and are installed by this script when missing (never by CI):
  python3 bench/compare_cpu.py --flashjit build/tools/flashjit --out bench/cpu_results
Run it on an idle machine: every column shares the same cores.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# Issue 16's llama.cpp column (ggml test-backend-ops perf, f32 Q, f16 K/V, no mask, 2 threads), by
# (batch, heads, seqlen, head_dim, dtype).
LLAMA_CPP_GFLOPS = {
    (1, 8, 2048, 64, "f32"): 121.0,
    (1, 8, 2048, 128, "f32"): 135.0,
    (2, 16, 1024, 128, "bf16"): 134.0,
    (1, 4, 4096, 128, "bf16"): 132.0,
    (1, 4, 2048, 256, "f16"): 120.0,
}

ROW_FIELDS = ("threads", "dtype", "batch", "heads", "seqlen", "head_dim", "causal", "median_ms", "gflops")


class BadRows(ValueError):
    pass


def read_flashjit_rows(document):
    """The rows of a `flashjit bench --cpu --json` document, each checked by index and field."""
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        raise BadRows("not a flashjit bench document: no 'rows' list")
    rows = []
    for i, row in enumerate(document["rows"]):
        if not isinstance(row, dict) or row.get("cpu") is not True:
            raise BadRows(f"row {i}: not a --cpu row")
        for field in ROW_FIELDS:
            if field not in row:
                raise BadRows(f"row {i}: no field '{field}'")
        for field in ("threads", "batch", "heads", "seqlen", "head_dim"):
            if not isinstance(row[field], int) or isinstance(row[field], bool) or row[field] <= 0:
                raise BadRows(f"row {i}: field '{field}' is not a positive integer")
        if row["dtype"] not in ("f32", "f16", "bf16"):
            raise BadRows(f"row {i}: field 'dtype' is not f32, f16 or bf16")
        for field in ("median_ms", "gflops"):
            value = row[field]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise BadRows(f"row {i}: field '{field}' is not a positive number")
        rows.append(row)
    if not rows:
        raise BadRows("no rows")
    return rows


def shape_key(row):
    return (row["batch"], row["heads"], row["seqlen"], row["head_dim"], row["dtype"])


def flops(row):
    full = 4.0 * row["batch"] * row["heads"] * row["seqlen"] ** 2 * row["head_dim"]
    return full / 2 if row["causal"] else full


# Debian's OpenBLAS (libopenblas0-pthread), the library the sgemm column ran: its AVX-512
# kernels where the CPU has them. numpy's own (pip's wheel) is the fallback.
DEBIAN_OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"

SGEMM_CHILD = r"""
import ctypes, json, sys, time
import numpy as np
shapes, library = json.loads(sys.argv[1]), sys.argv[2]
if library == "numpy":
    def products(q, k, v, p, o):
        np.matmul(q, k.T, out=p)
        np.matmul(p, v, out=o)
    name = "numpy's BLAS"
else:
    blas = ctypes.CDLL(library)
    f, i, ptr = ctypes.c_float, ctypes.c_int, ctypes.c_void_p
    blas.cblas_sgemm.argtypes = [i, i, i, i, i, i, f, ptr, i, ptr, i, f, ptr, i]
    blas.openblas_get_config.restype = ctypes.c_char_p
    ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
    def products(q, k, v, p, o):
        s, d = q.shape
        blas.cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, s, s, d, 1.0, q.ctypes.data, d, k.ctypes.data, d, 0.0,
                         p.ctypes.data, s)
        blas.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, s, d, s, 1.0, p.ctypes.data, s, v.ctypes.data, d, 0.0,
                         o.ctypes.data, d)
    name = blas.openblas_get_config().decode().split(" MAX_THREADS")[0]
out = {}
for b, h, s, d in shapes:
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((s, d), dtype=np.float32) for _ in range(3))
    p, o = np.empty((s, s), np.float32), np.empty((s, d), np.float32)
    def once():
        for _ in range(b * h):
            products(q, k, v, p, o)
    once()
    times = []
    for _ in range(3):
        t0 = time.perf_counter(); once(); times.append(time.perf_counter() - t0)
    times.sort()
    out[f"{b},{h},{s},{d}"] = 4.0 * b * h * s * s * d / times[1] / 1e9
print(json.dumps({"name": name, "gflops": out}))
"""


def default_blas():
    return DEBIAN_OPENBLAS if os.path.exists(DEBIAN_OPENBLAS) else "numpy"


def sgemm_gflops(shapes, threads, library):
    """sgemm on each shape's products with `threads` BLAS threads (set before the BLAS loads), through
    `library` (a libopenblas path, called with ctypes) or numpy's own ("numpy"). Returns the BLAS's
    name and the GFLOP/s by shape."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    text = subprocess.run([sys.executable, "-c", SGEMM_CHILD, json.dumps(sorted(shapes)), library], env=env,
                          check=True, capture_output=True, text=True).stdout
    result = json.loads(text)
    return result["name"], {tuple(int(x) for x in key.split(",")): value for key, value in result["gflops"].items()}


def torch_gflops(rows, threads):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    dtypes = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    out = {}
    for row in rows:
        if row["threads"] != threads:
            continue
        b, h, s, d = row["batch"], row["heads"], row["seqlen"], row["head_dim"]
        gen = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(b, h, s, d, generator=gen).to(dtypes[row["dtype"]]) for _ in range(3))
        F.scaled_dot_product_attention(q, k, v, is_causal=row["causal"])
        import time
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            F.scaled_dot_product_attention(q, k, v, is_causal=row["causal"])
            times.append(time.perf_counter() - t0)
        times.sort()
        out[(shape_key(row), row["causal"])] = flops(row) / times[1] / 1e9
    return out


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def number(x):
    return f"{x:.1f}" if x else "-"


def report(rows, sgemm, sdpa, torch_version, blas_name="OpenBLAS"):
    """The Markdown table: one line per FlashJIT row, its peers beside it."""
    isas = sorted({row.get("isa", "") for row in rows} - {""})
    flashjit = f"FlashJIT CPU, {'/'.join(isas)} kernels (GFLOP/s)" if isas else "FlashJIT CPU (GFLOP/s)"
    lines = [
        f"| threads | dtype | b | h | s | d | mask | {blas_name} sgemm on the products (GFLOP/s) | "
        f"PyTorch {torch_version} SDPA (GFLOP/s) | llama.cpp (issue 16, 2 threads, no mask) | {flashjit} | "
        "FlashJIT / sgemm | FlashJIT / PyTorch | FlashJIT / llama.cpp |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        key = shape_key(row)
        ceiling = sgemm.get((row["threads"],) + key[:4])
        peer = sdpa.get((row["threads"], key, row["causal"]))
        llama = LLAMA_CPP_GFLOPS.get(key) if row["threads"] == 2 and not row["causal"] else None
        lines.append(
            f"| {row['threads']} | {row['dtype']} | {row['batch']} | {row['heads']} | {row['seqlen']} | "
            f"{row['head_dim']} | {'causal' if row['causal'] else 'none'} | {number(ceiling)} | {number(peer)} | "
            f"{number(llama)} | {row['gflops']:.1f} | {ratio(row['gflops'], ceiling)} | {ratio(row['gflops'], peer)} | "
            f"{ratio(row['gflops'], llama)} |")
    return "\n".join(lines) + "\n"


def plot(rows, sgemm, sdpa, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    labels, ours, ceilings, peers = [], [], [], []
    for row in rows:
        key = shape_key(row)
        labels.append(f"{row['threads']}t {row['dtype']} s{row['seqlen']} d{row['head_dim']}"
                      f"{' c' if row['causal'] else ''}")
        ours.append(row["gflops"])
        ceilings.append(sgemm.get((row["threads"],) + key[:4], 0.0))
        peers.append(sdpa.get((row["threads"], key, row["causal"]), 0.0))
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.6), 5))
    xs = range(len(rows))
    ax.bar([x - 0.27 for x in xs], ceilings, 0.27, label="OpenBLAS sgemm (products)")
    ax.bar(list(xs), peers, 0.27, label="PyTorch SDPA")
    ax.bar([x + 0.27 for x in xs], ours, 0.27, label="FlashJIT CPU")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("GFLOP/s")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def ensure_peers():
    """numpy (pip's wheel bundles OpenBLAS), torch (the CPU build) and matplotlib, installed when missing."""
    missing = []
    for module in ("numpy", "torch", "matplotlib"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if not missing:
        return
    command = [sys.executable, "-m", "pip", "install", "--quiet"]
    if "torch" in missing:
        # The CPU-only wheel is a tenth of the default one; where its index is out of reach, PyPI's.
        cpu_index = ["--index-url", "https://download.pytorch.org/whl/cpu", "--extra-index-url",
                     "https://pypi.org/simple", "--retries", "1", "--timeout", "15"]
        if subprocess.run(command + cpu_index + missing).returncode == 0:
            return
    subprocess.run(command + missing, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flashjit", default="build/tools/flashjit", help="the flashjit command")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--out", default="bench/cpu_results", help="directory for cpu.md, cpu.json, cpu.png")
    parser.add_argument("--rows", help="read FlashJIT's rows from this JSON instead of running flashjit")
    parser.add_argument("--no-peers", action="store_true", help="FlashJIT's rows alone (no numpy or torch)")
    parser.add_argument("--blas", default=default_blas(),
                        help="the sgemm column's BLAS: a libopenblas path (default: Debian's when installed) or "
                             "'numpy' for numpy's own")
    args = parser.parse_args(argv)

    if args.rows:
        with open(args.rows) as f:
            document = json.load(f)
    else:
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            subprocess.run([args.flashjit, "bench", "--cpu", "--threads", args.threads, "--json", tmp.name],
                           check=True)
            document = json.load(open(tmp.name))
    try:
        rows = read_flashjit_rows(document)
    except BadRows as error:
        print(f"compare_cpu.py: error: {error}", file=sys.stderr)
        return 2

    sgemm, sdpa, torch_version, blas_name = {}, {}, "-", "OpenBLAS"
    if not args.no_peers:
        ensure_peers()
        import torch
        torch_version = torch.__version__.split("+")[0]
        for t in sorted({row["threads"] for row in rows}):
            shapes = {shape_key(r)[:4] for r in rows if r["threads"] == t}
            blas_name, by_shape = sgemm_gflops(shapes, t, args.blas)
            for shape, value in by_shape.items():
                sgemm[(t,) + shape] = value
            for (key, causal), value in torch_gflops(rows, t).items():
                sdpa[(t, key, causal)] = value

    os.makedirs(args.out, exist_ok=True)
    table = report(rows, sgemm, sdpa, torch_version, blas_name)
    with open(os.path.join(args.out, "cpu.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, "cpu.json"), "w") as f:
        json.dump({"rows": rows,
                   "sgemm": [{"threads": k[0], "shape": list(k[1:]), "gflops": v} for k, v in sgemm.items()],
                   "sdpa": [{"threads": k[0], "shape": list(k[1]), "causal": k[2], "gflops": v}
                            for k, v in sdpa.items()],
                   "torch": torch_version, "blas": blas_name}, f, indent=2)
    if not args.no_peers:
        plot(rows, sgemm, sdpa, os.path.join(args.out, "cpu.png"))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
