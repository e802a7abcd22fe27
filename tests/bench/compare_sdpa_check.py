#!/usr/bin/env python3
"""Checks of bench/compare_sdpa.py without torch, a GPU or pytest (CTest runs it as
bench/compare_sdpa_reads_modifier_rows): its command line (--modifiers, --varlen-seed), the bench
runs --modifiers adds, how it reads `flashjit bench --json` rows with issue 14's modifiers (and
refuses malformed ones by the field), the report it writes from them with --no-torch, and the
pieces of PyTorch's side that need no torch: ALiBi's slopes, FlashAttention-2's visibility rule and
score order as flex_attention gets them; and --decode's report of `flashjit bench --decode` rows.

usage: compare_sdpa_check.py PATH/TO/compare_sdpa.py SCRATCH_DIR
"""
import contextlib
import io
import json
import math
import shutil
import sys
from pathlib import Path

from check_support import expect, expect_raises, load, summary


def config_of(cs, argv):
    return cs.resolve_config(cs.build_parser().parse_args(argv))


DENSE_ROW = {"dtype": "bf16", "head_dim": 128, "seqlen": 4096, "causal": True, "batch": 4, "heads": 16,
             "kv_heads": 16, "variant": "auto", "kernel": "k_dense", "origin": "tuned", "median_ms": 1.0,
             "p20_ms": 0.9, "p80_ms": 1.1, "tflops": 100.0, "window": None, "softcap": None, "alibi": False,
             "varlen": False, "gflop": 100.0}
MODIFIED_ROW = dict(DENSE_ROW, kernel="k_mod", window=[256, 0], softcap=50, alibi=True, varlen=True,
                    batch=3, q_lengths=[4096, 3000, 100], k_lengths=[4096, 3000, 100], gflop=12.5, median_ms=0.5,
                    tflops=25.0)


def check_command_line(cs, work):
    fake_flashjit = sys.executable  # any executable passes --flashjit's check
    json_file = work / "bench.json"
    json_file.write_text(json.dumps({"rows": [DENSE_ROW]}))
    config = config_of(cs, ["--flashjit", fake_flashjit, "--modifiers"])
    expect(config.modifiers == ["window", "softcap", "alibi", "ragged"], f"--modifiers alone: {config.modifiers}")
    config = config_of(cs, ["--flashjit", fake_flashjit, "--modifiers", "ragged,window"])
    expect(config.modifiers == ["ragged", "window"], f"--modifiers ragged,window: {config.modifiers}")
    expect(config_of(cs, ["--flashjit", fake_flashjit]).modifiers == [], "no --modifiers: none")
    expect_raises(cs.UsageError, lambda: config_of(cs, ["--flashjit", fake_flashjit, "--modifiers", "window,bogus"]),
                  "--modifiers: unknown bogus (choose from window, softcap, alibi, ragged)", "an unknown modifier")
    expect_raises(cs.UsageError, lambda: config_of(cs, ["--flashjit-json", str(json_file), "--modifiers"]),
                  "--modifiers runs `flashjit bench` for each modifier: give --flashjit", "--modifiers without --flashjit")
    expect_raises(cs.UsageError, lambda: config_of(cs, ["--flashjit", fake_flashjit, "--varlen-seed", "-1"]),
                  "--varlen-seed must be between 0 and 4294967295", "a negative seed")
    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = cs.main(["--flashjit-json", str(json_file), "--modifiers", "--out", str(work / "usage")])
    expect(code == 2, f"a usage error exits 2, got {code}")
    expect("--modifiers runs" in err.getvalue(), f"the usage error is printed: {err.getvalue()!r}")


def check_sweep(cs):
    config = config_of(cs, ["--flashjit", sys.executable, "--modifiers", "--seqlens", "1024,4096", "--varlen-seed", "9"])
    runs = cs.modifier_sweep(config)
    expect([run.name for run in runs] == ["dense causal", "window 256", "window 4096", "softcap 50", "ALiBi", "ragged"],
           f"the sweep's runs: {[run.name for run in runs]}")
    commands = {run.name: cs.bench_command(config, Path("x.json"), run) for run in runs}
    window = commands["window 256"]
    expect(window[window.index("--window") + 1] == "256,0", f"a causal window of 256 keys: {window}")
    expect(window[window.index("--seqlens") + 1] == "8192,16384", f"at 8k and 16k tokens: {window}")
    expect(window[window.index("--masks") + 1] == "causal", f"causal: {window}")
    dense = commands["dense causal"]
    expect("--window" not in dense and dense[dense.index("--seqlens") + 1] == "8192,16384",
           f"the dense rows the windows are compared with: {dense}")
    ragged = commands["ragged"]
    expect(ragged[ragged.index("--varlen-fill") + 1] == "9", f"the seeded ragged batch: {ragged}")
    expect(ragged[ragged.index("--seqlens") + 1] == "1024,4096", f"ragged at the dense rows' lengths: {ragged}")
    expect(commands["softcap 50"][-2:] == ["--softcap", "50"], f"softcap: {commands['softcap 50']}")
    expect(commands["ALiBi"][-1] == "--alibi", f"ALiBi: {commands['ALiBi']}")
    # The main run covers 16k causal already: only 8k is added.
    config = config_of(cs, ["--flashjit", sys.executable, "--modifiers", "window", "--seqlens", "16384"])
    runs = cs.modifier_sweep(config)
    expect(runs[0].name == "dense causal" and runs[0].seqlens == [8192], f"only the missing length: {runs[0]}")


def check_rows(cs):
    modified = cs.problem_from_row(MODIFIED_ROW)
    m = modified.modifiers
    expect(m.window == (256, 0) and m.softcap == 50.0 and m.alibi and m.ragged, f"the row's modifiers: {m}")
    expect(m.q_lengths == (4096, 3000, 100), f"the row's lengths: {m.q_lengths}")
    expect(m.label() == "varlen w256,0 cap50 alibi", f"label: {m.label()}")
    expect(modified.flops() == 12.5e9, "a row with modifiers counts flashjit bench's gflop")
    dense = cs.problem_from_row({k: v for k, v in DENSE_ROW.items()
                                 if k not in ("window", "softcap", "alibi", "varlen", "gflop")})
    expect(not dense.modifiers.any() and dense.modifiers.label() == "-", "a row from before issue 14 is dense")
    expect(dense.flops() == 4.0 * 4 * 16 * 4096 * 4096 * 128 / 2, "a dense row counts with the formula")
    expect(hash(modified) != hash(dense), "problems stay hashable")
    for change, says in [({"window": [1]}, "'window' must be [left, right]"),
                         ({"window": [-2, 0]}, "'window' must be [left, right]"),
                         ({"window": "256"}, "'window' must be [left, right]"),
                         ({"softcap": 0}, "'softcap' must be a number above 0"),
                         ({"softcap": True}, "'softcap' must be a number above 0"),
                         ({"alibi": "yes"}, "'alibi' and 'varlen' must be true or false"),
                         ({"q_lengths": None}, "'q_lengths' must be a non-empty list"),
                         ({"k_lengths": [1, -1, 2]}, "'k_lengths' must be a non-empty list"),
                         ({"k_lengths": [1, 2]}, "one length per sequence")]:
        expect_raises(cs.RunError, lambda: cs.problem_from_row(dict(MODIFIED_ROW, **change)), says, f"row {change}")
    expect(cs.sdpa_refusal(modified) is not None and "flex_attention does" in cs.sdpa_refusal(modified),
           "SDPA does not compute a window, softcap or ALiBi")
    ragged_only = cs.problem_from_row(dict(MODIFIED_ROW, window=None, softcap=None, alibi=False))
    expect(cs.sdpa_refusal(ragged_only) is None, "SDPA computes a ragged batch (nested jagged tensors)")
    uneven = cs.problem_from_row(dict(MODIFIED_ROW, window=None, softcap=None, alibi=False, k_lengths=[4096, 5, 1]))
    expect("top-left" in (cs.sdpa_refusal(uneven) or ""), "SDPA's causal mask is top-left aligned")


def check_report(cs, work):
    json_file = work / "rows.json"
    json_file.write_text(json.dumps({"flashjit_version": "0.2.0", "device": "Fake H200", "variant": "auto",
                                     "rows": [DENSE_ROW, MODIFIED_ROW]}))
    out = work / "report"
    with contextlib.redirect_stdout(io.StringIO()) as printed, contextlib.redirect_stderr(io.StringIO()):
        code = cs.main(["--flashjit-json", str(json_file), "--no-torch", "--out", str(out)])
    expect(code == 0, f"--no-torch over rows with modifiers exits 0, got {code}")
    report = json.loads((out / "comparison.json").read_text())
    rows = report["rows"]
    expect(len(rows) == 2, f"both rows are compared: {len(rows)}")
    modified = next((row for row in rows if row["varlen"]), {})
    expect(modified.get("window") == [256, 0] and modified.get("softcap") == 50.0 and modified.get("alibi"),
           f"the comparison keeps the modifiers: {modified}")
    expect(modified.get("q_lengths") == [4096, 3000, 100], "and the lengths")
    expect(modified.get("gflop") == 12.5, f"and flashjit's count: {modified.get('gflop')}")
    expect(modified.get("flashjit", {}).get("kernel") == "k_mod", "the row is the modified kernel's")
    expect(modified.get("sdpa", {}).get("flex") == {"error": "not measured (--no-torch)"},
           f"flex_attention is a column: {modified.get('sdpa')}")
    expect("ratio_flashjit_over_flex" in modified, "with its ratio")
    dense = next((row for row in rows if not row["varlen"]), {})
    expect(dense.get("window") is None and dense.get("softcap") is None and "q_lengths" not in dense,
           f"a dense row has none: {dense}")
    markdown = (out / "comparison.md").read_text()
    expect("| modifiers |" in markdown and "| varlen w256,0 cap50 alibi |" in markdown,
           "the Markdown table has the modifiers column")
    expect("flex_attention" in printed.getvalue() and "FJ/flex" in printed.getvalue(),
           "the printed table has flex_attention and the ratio over it")


def check_pytorch_side(cs):
    expect(cs.alibi_slopes(8) == [2.0 ** -h for h in range(1, 9)], f"ALiBi's 8 slopes: {cs.alibi_slopes(8)}")
    twelve = cs.alibi_slopes(12)
    expect(len(twelve) == 12 and twelve[:8] == cs.alibi_slopes(8)
           and all(math.isclose(twelve[8 + i], 2.0 ** (-0.5 - i)) for i in range(4)),
           f"ALiBi's 12 slopes (FlashJIT's alibi_geometric_slopes): {twelve}")
    expect(cs.sequence_offsets([5, 0, 3]) == [0, 5, 5, 8], "offsets")
    # The visibility rule against FlashAttention-2's definition, on every small case.
    for sq, sk in [(5, 5), (7, 3), (3, 8)]:
        for causal in (False, True):
            for window in (None, (2, -1), (-1, 1), (1, 2), (0, 0)):
                for i in range(sq):
                    for j in range(sk):
                        diagonal = i + sk - sq
                        wanted = True
                        if window is not None and window[0] >= 0:
                            wanted = wanted and j >= diagonal - window[0]
                        right = 0 if causal else (window[1] if window is not None else -1)
                        if right >= 0:
                            wanted = wanted and j <= diagonal + right
                        got = all(cs.visibility_conditions(diagonal, j, causal, window))
                        if got != wanted:
                            expect(False, f"visibility sq={sq} sk={sk} causal={causal} window={window} i={i} j={j}")
    expect(True, "visibility rule")
    score = cs.modified_score(3.0, -4, 0.25, 50.0, math.tanh)
    expect(math.isclose(score, 50.0 * math.tanh(3.0 / 50.0) - 1.0), f"softcap, then ALiBi: {score}")
    expect(cs.modified_score(3.0, 7, None, None, math.tanh) == 3.0, "no modifier: the score")


DECODE_ROW = {"decode": True, "dtype": "bf16", "head_dim": 128, "batch": 32, "heads": 32, "kv_heads": 8,
              "seqlen": 1, "kv_len": 8192, "page_size": 16, "causal": True, "kernel": "k_decode", "origin": "tuned",
              "median_ms": 0.3, "p20_ms": 0.29, "p80_ms": 0.31, "gb_per_s": 3580.0, "peak_fraction": 0.74}


def check_decode(cs, work):
    """Issue 15: --decode reads `flashjit bench --decode` rows (decode_comparison.py), refuses a
    malformed one by its index and field, and reports every page size with --no-torch (SDPA n/a)."""
    bench = work / "decode_bench.json"
    rows = [DECODE_ROW, dict(DECODE_ROW, page_size=1, median_ms=0.4, gb_per_s=2700.0, peak_fraction=0.56),
            DENSE_ROW]
    bench.write_text(json.dumps({"device": "Test GPU", "rows": rows}))
    out = work / "decode_out"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = cs.main(["--flashjit-json", str(bench), "--decode", "--no-torch", "--out", str(out)])
    expect(code == 0, f"--decode --no-torch exit code {code}")
    report = (out / "decode.md").read_text() if (out / "decode.md").is_file() else ""
    expect("| 32 | 8192 | 16 | 0.3000 | 3580 | 74 | n/a | n/a | n/a | n/a |" in report, f"decode row: {report!r}")
    expect("| 32 | 8192 | 1 | 0.4000 | 2700 | 56 |" in report, "the page-size-1 row")
    expect("k_dense" not in report, "a dense row is not a decode row")
    data = json.loads((out / "decode.json").read_text()) if (out / "decode.json").is_file() else {}
    expect(len(data.get("rows", [])) == 2, f"decode.json rows: {data}")
    expect("| 32 | 8192 | 16 |" in printed.getvalue(), "the table is printed")

    sys.path.insert(0, str(Path(cs.__file__).parent))
    import decode_comparison
    expect_raises(ValueError, lambda: decode_comparison.decode_rows({"rows": [dict(DECODE_ROW, kv_len=0)]}, "f.json"),
                  "f.json: rows[0]: 'kv_len' must be a positive integer, got 0", "a bad kv_len")
    expect_raises(ValueError,
                  lambda: decode_comparison.decode_rows({"rows": [dict(DECODE_ROW, median_ms=float("nan"))]}, "f"),
                  "rows[0]: 'median_ms' must be a finite number", "a NaN time")
    row = decode_comparison.decode_rows({"rows": [DECODE_ROW]}, "f")[0]
    row.sdpa_ms = {"flash": 0.42, "cudnn": 0.25}
    expect(math.isclose(row.speedup("flash"), 1.4) and math.isclose(row.speedup("cudnn"), 0.25 / 0.3),
           "speedups are SDPA's time over FlashJIT's")
    with contextlib.redirect_stderr(io.StringIO()):
        empty = cs.main(["--flashjit-json", str(work / "none.json"), "--decode", "--no-torch", "--out", str(out)]) \
            if (work / "none.json").write_text(json.dumps({"rows": [DENSE_ROW]})) else 1
    expect(empty == 1, "no decode rows: a failure")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cs = load(sys.argv[1], "compare_sdpa")
    work = Path(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    check_command_line(cs, work)
    check_sweep(cs)
    check_rows(cs)
    check_report(cs, work)
    check_pytorch_side(cs)
    check_decode(cs, work)
    sys.exit(summary("compare_sdpa_check"))


if __name__ == "__main__":
    main()
