"""Decode beside PyTorch (issue 15): `flashjit bench --decode` rows (batch x cached keys x page size,
32 query / 8 KV heads, d 128, bf16, one query row) set beside PyTorch SDPA's flash and cuDNN
backends on the equivalent dense problem (q [batch, 32, 1, 128]; k, v [batch, 8, keys, 128] with
enable_gqa, contiguous: what a dense cache costs PyTorch). SDPA has no paged cache, so every page
size of a (batch, keys) pair is compared with the same dense timing: the page size's cost is
FlashJIT's alone. Used by compare_sdpa.py --decode; writes decode.json and decode.md.
"""
from __future__ import annotations

import json
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

DECODE_BACKENDS = (("flash", "FLASH_ATTENTION"), ("cudnn", "CUDNN_ATTENTION"))


@dataclass
class DecodeRow:
    batch: int
    kv_len: int
    page_size: int
    heads: int
    kv_heads: int
    head_dim: int
    dtype: str
    kernel: str
    median_ms: float
    gb_per_s: float
    peak_fraction: float
    sdpa_ms: dict[str, Optional[float]] = field(default_factory=dict)
    sdpa_errors: dict[str, str] = field(default_factory=dict)

    def speedup(self, backend: str) -> Optional[float]:
        theirs = self.sdpa_ms.get(backend)
        return theirs / self.median_ms if theirs and self.median_ms > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "kv_len": self.kv_len, "page_size": self.page_size, "heads": self.heads,
                "kv_heads": self.kv_heads, "head_dim": self.head_dim, "dtype": self.dtype, "kernel": self.kernel,
                "flashjit_ms": self.median_ms, "gb_per_s": self.gb_per_s, "peak_fraction": self.peak_fraction,
                "sdpa_ms": self.sdpa_ms, "sdpa_errors": self.sdpa_errors,
                "speedup": {name: self.speedup(name) for name, _ in DECODE_BACKENDS}}


def positive_int(row: dict[str, Any], name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    return value


def finite(row: dict[str, Any], name: str) -> float:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{name}' must be a finite number, got {value!r}")
    return float(value)


def decode_rows(data: dict[str, Any], where: str) -> list[DecodeRow]:
    """The rows marked "decode" of a `flashjit bench --json` file; a malformed one is refused by its
    index and field."""
    rows = []
    for index, row in enumerate(data.get("rows", [])):
        if not isinstance(row, dict) or not row.get("decode"):
            continue
        try:
            rows.append(DecodeRow(batch=positive_int(row, "batch"), kv_len=positive_int(row, "kv_len"),
                                  page_size=positive_int(row, "page_size"), heads=positive_int(row, "heads"),
                                  kv_heads=positive_int(row, "kv_heads"), head_dim=positive_int(row, "head_dim"),
                                  dtype=str(row.get("dtype", "bf16")), kernel=str(row.get("kernel", "?")),
                                  median_ms=finite(row, "median_ms"), gb_per_s=finite(row, "gb_per_s"),
                                  peak_fraction=finite(row, "peak_fraction")))
        except ValueError as exc:
            raise ValueError(f"{where}: rows[{index}]: {exc}") from None
    return rows


def time_dense_sdpa(torch: Any, row: DecodeRow, backend_name: str, iterations: int, warmup: int,
                    time_calls: Callable[..., list[float]]) -> tuple[Optional[float], str]:
    """The median ms of SDPA with one backend on the row's dense problem, or None and why."""
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415
    from torch.nn.functional import scaled_dot_product_attention  # noqa: PLC0415
    backend = getattr(SDPBackend, backend_name, None)
    if backend is None:
        return None, f"this torch has no SDPBackend.{backend_name}"
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(row.dtype, torch.float32)
    q = torch.randn(row.batch, row.heads, 1, row.head_dim, device="cuda", dtype=dtype)
    k = torch.randn(row.batch, row.kv_heads, row.kv_len, row.head_dim, device="cuda", dtype=dtype)
    v = torch.randn_like(k)
    try:
        with warnings.catch_warnings(record=True), sdpa_kernel(backend), torch.no_grad():
            warnings.simplefilter("always")
            samples = time_calls(torch, lambda: scaled_dot_product_attention(q, k, v, enable_gqa=True),
                                 iterations, warmup)
    except Exception as exc:  # noqa: BLE001 (a refusing backend must not stop the run)
        return None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]
    samples.sort()
    return samples[len(samples) // 2], ""


def measure(rows: Sequence[DecodeRow], torch: Any, iterations: int, warmup: int,
            time_calls: Callable[..., list[float]]) -> None:
    """SDPA once per (batch, keys), shared by that pair's page sizes."""
    done: dict[tuple[int, int], tuple[dict[str, Optional[float]], dict[str, str]]] = {}
    for row in rows:
        key = (row.batch, row.kv_len)
        if key not in done:
            times, errors = {}, {}
            for name, backend in DECODE_BACKENDS:
                ms, why = time_dense_sdpa(torch, row, backend, iterations, warmup, time_calls)
                times[name] = ms
                if why:
                    errors[name] = why
            done[key] = (times, errors)
            torch.cuda.empty_cache()
        row.sdpa_ms, row.sdpa_errors = dict(done[key][0]), dict(done[key][1])


def fmt(value: Optional[float], pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def table(rows: Sequence[DecodeRow]) -> str:
    lines = ["| batch | keys | page | FlashJIT ms | GB/s | % peak | SDPA flash ms | SDPA cuDNN ms | vs flash | vs cuDNN |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.batch} | {r.kv_len} | {r.page_size} | {r.median_ms:.4f} | {r.gb_per_s:.0f} | "
                     f"{100 * r.peak_fraction:.0f} | {fmt(r.sdpa_ms.get('flash'), '{:.4f}')} | "
                     f"{fmt(r.sdpa_ms.get('cudnn'), '{:.4f}')} | {fmt(r.speedup('flash'), '{:.2f}x')} | "
                     f"{fmt(r.speedup('cudnn'), '{:.2f}x')} |")
    return "\n".join(lines)


def write_outputs(rows: Sequence[DecodeRow], out: Path, device: str) -> None:
    (out / "decode.json").write_text(json.dumps({"device": device, "rows": [r.to_json() for r in rows]}, indent=2)
                                     + "\n", encoding="utf-8")
    notes = sorted({f"{name}: {why}" for r in rows for name, why in r.sdpa_errors.items()})
    text = (f"# Decode: FlashJIT beside PyTorch SDPA ({device})\n\n"
            "32 query / 8 KV heads, d 128, one query row per sequence; SDPA on the dense cache (enable_gqa).\n\n"
            + table(rows) + "\n")
    if notes:
        text += "\nSDPA refusals:\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    (out / "decode.md").write_text(text, encoding="utf-8")
    print(table(rows), file=sys.stdout)
