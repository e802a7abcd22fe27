#!/usr/bin/env python3
"""Put FlashJIT's `flashjit bench` numbers next to PyTorch SDPA, measured on the same card.

Performance notes only mean something when the reference is measured in the same run on the
same GPU, so this script runs (or reads) a `flashjit bench` result and then, for every row,
times `torch.nn.functional.scaled_dot_product_attention` with each backend forced (FlashAttention,
cuDNN, memory-efficient) on the same problem. It prints a table and writes
comparison.json, comparison.md (for PERFORMANCE.md) and comparison.png.

    python3 bench/compare_sdpa.py --flashjit build/tools/flashjit --out out/compare
    python3 bench/compare_sdpa.py --flashjit-json out/compare/flashjit.json --out out/compare

Several --flashjit-json files (e.g. `flashjit bench` once with the selector's choice and once per
`--variant`) become one FlashJIT column each, labelled with the variant the file records; a
problem missing from a file is n/a in its column.

    python3 bench/compare_sdpa.py --flashjit-json auto.json mma_sm75.json --out out/compare

torch and matplotlib are imported lazily so that `--help`, `--no-torch` and the report code run
on machines without them. Exit codes: 0 success, 1 the flashjit binary or the measurement failed,
2 usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import shlex
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

KNOWN_DTYPES = ("bf16", "f16", "f32")
KNOWN_MASKS = ("none", "causal")
DEFAULT_DTYPES = ["bf16", "f16"]
DEFAULT_HEAD_DIMS = [64, 128, 256]
DEFAULT_SEQLENS = [1024, 4096, 16384]
DEFAULT_MASKS = ["none", "causal"]
DEFAULT_ITERATIONS = 30
DEFAULT_WARMUP = 5
MAX_REASON_CHARS = 300

# (key in outputs, label in tables and plots, torch.nn.attention.SDPBackend member)
SDPA_BACKENDS = (
    ("flash", "SDPA flash", "FLASH_ATTENTION"),
    ("cudnn", "SDPA cuDNN", "CUDNN_ATTENTION"),
    ("mem_efficient", "SDPA mem-eff", "EFFICIENT_ATTENTION"),
)

TFLOPS_FORMULA = "4*batch*heads*seqlen^2*head_dim / time, halved when causal"


class UsageError(Exception):
    """A problem with the command line; reported with exit code 2."""


class RunError(Exception):
    """The flashjit binary, its result file or the SDPA set-up failed; exit code 1."""


# --------------------------------------------------------------------------------------------
# Data


@dataclass
class Timing:
    """One implementation's result for one problem: timings, or the reason there are none."""

    median_ms: Optional[float] = None
    p20_ms: Optional[float] = None
    p80_ms: Optional[float] = None
    tflops: Optional[float] = None
    error: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        """Only the fields that carry information, so n/a entries stay readable."""
        if self.error is not None:
            return {"error": self.error}
        return {"median_ms": self.median_ms, "p20_ms": self.p20_ms, "p80_ms": self.p80_ms,
                "tflops": self.tflops}


@dataclass
class Problem:
    """One attention problem, as in a `flashjit bench` row (layout [batch, seqlen, heads, d])."""

    dtype: str
    head_dim: int
    seqlen: int
    causal: bool
    batch: int
    heads: int
    kv_heads: int

    @property
    def mask(self) -> str:
        return "causal" if self.causal else "none"

    def flops(self) -> float:
        """Two matrix products of s x s x d per head; causal skips half of them."""
        total = 4.0 * self.batch * self.heads * self.seqlen * self.seqlen * self.head_dim
        return total / 2.0 if self.causal else total

    def tflops(self, milliseconds: float) -> float:
        return self.flops() / (milliseconds * 1e-3) / 1e12

    def sort_key(self) -> tuple:
        return (self.dtype, self.head_dim, self.causal, self.seqlen, self.batch, self.heads)


@dataclass
class FlashjitRun:
    """One `flashjit bench --json` result and the label of its column."""

    label: str  # the variant, made unique among the runs by the file name where two share one
    variant: str  # as recorded: "auto" (the selector's choice per shape) or a forced variant
    source: str
    data: dict[str, Any]


@dataclass
class FlashjitResult:
    """One run's row for a problem."""

    timing: Timing
    kernel: str = ""
    origin: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kernel": self.kernel, "origin": self.origin, **self.timing.to_json()}


@dataclass
class Comparison:
    """Each FlashJIT run's row plus the SDPA backends measured on the same problem."""

    problem: Problem
    flashjit: dict[str, FlashjitResult]  # by run label, in the order the runs were given
    sdpa: dict[str, Timing] = field(default_factory=dict)

    def primary(self) -> FlashjitResult:
        """The first run's result: the one the single-run fields of comparison.json describe."""
        return next(iter(self.flashjit.values()))

    def ratio(self, backend: str, label: Optional[str] = None) -> Optional[float]:
        """A FlashJIT run's TFLOP/s (the first run's by default) over a backend's; None when
        either side has no number."""
        mine = self.primary() if label is None else self.flashjit[label]
        other = self.sdpa.get(backend)
        if mine.timing.tflops is None or other is None or not other.tflops:
            return None
        return mine.timing.tflops / other.tflops

    def to_json(self) -> dict[str, Any]:
        """The first run in the single-run fields; with several runs, every run by label too."""
        p = self.problem
        result = {
            "dtype": p.dtype, "head_dim": p.head_dim, "seqlen": p.seqlen, "causal": p.causal,
            "batch": p.batch, "heads": p.heads, "kv_heads": p.kv_heads, "gflop": p.flops() / 1e9,
            "flashjit": self.primary().to_json(),
            "sdpa": {key: timing.to_json() for key, timing in self.sdpa.items()},
            "ratio_flashjit_over_flash": self.ratio("flash"),
            "ratio_flashjit_over_cudnn": self.ratio("cudnn"),
        }
        if len(self.flashjit) > 1:
            result["flashjit_runs"] = {
                label: {**run.to_json(), "ratio_over_flash": self.ratio("flash", label),
                        "ratio_over_cudnn": self.ratio("cudnn", label)}
                for label, run in self.flashjit.items()}
        return result


@dataclass
class Environment:
    """Where the SDPA numbers came from, printed on top of every report."""

    device: str
    torch_version: str
    cuda_version: str
    sdpa_measured: bool


@dataclass
class Config:
    """The resolved command line."""

    flashjit: Optional[str]
    flashjit_jsons: list[Path]
    out: Path
    dtypes: list[str]
    head_dims: list[int]
    seqlens: list[int]
    masks: list[str]
    iterations: int
    warmup: int
    no_torch: bool
    explicit_filters: set[str]


# --------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Compare `flashjit bench` with PyTorch SDPA (flash, cuDNN, mem-efficient) "
                    "on the same GPU; writes comparison.json, comparison.md and comparison.png.",
        epilog=f"TFLOP/s = {TFLOPS_FORMULA}. Exit codes: 0 success, 1 flashjit or measurement "
               "failure, 2 usage error.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--flashjit", metavar="BINARY",
                        help="flashjit binary to run as `BINARY bench --json OUT/flashjit.json ...`")
    source.add_argument("--flashjit-json", metavar="FILE", type=Path, nargs="+", action="extend",
                        help="use these existing `flashjit bench --json` results instead of "
                             "running it; several files (e.g. one per `flashjit bench --variant`) "
                             "give one FlashJIT column each, labelled with the recorded variant")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("compare_sdpa_out"),
                        help="output directory (default: %(default)s)")
    parser.add_argument("--dtypes", metavar="LIST",
                        help=f"comma-separated, of {','.join(KNOWN_DTYPES)} "
                             f"(default: {','.join(DEFAULT_DTYPES)})")
    parser.add_argument("--head-dims", metavar="LIST",
                        help=f"comma-separated (default: {','.join(map(str, DEFAULT_HEAD_DIMS))})")
    parser.add_argument("--seqlens", metavar="LIST",
                        help=f"comma-separated (default: {','.join(map(str, DEFAULT_SEQLENS))})")
    parser.add_argument("--masks", metavar="LIST",
                        help=f"comma-separated, of {','.join(KNOWN_MASKS)} "
                             f"(default: {','.join(DEFAULT_MASKS)})")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help="timed runs per implementation and problem (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP,
                        help="untimed SDPA runs before timing (default: %(default)s)")
    parser.add_argument("--no-torch", action="store_true",
                        help="debugging: skip the SDPA timing (all n/a) so the report code runs "
                             "without torch or a GPU")
    return parser


def parse_word_list(text: str, allowed: Sequence[str], option: str) -> list[str]:
    """Split a comma list and reject unknown words now, before a long benchmark starts."""
    words = [word.strip() for word in text.split(",") if word.strip()]
    if not words:
        raise UsageError(f"{option}: empty list")
    unknown = [word for word in words if word not in allowed]
    if unknown:
        raise UsageError(f"{option}: unknown {', '.join(unknown)} (choose from {', '.join(allowed)})")
    return words


def parse_int_list(text: str, option: str) -> list[int]:
    """Split a comma list of positive integers."""
    words = [word.strip() for word in text.split(",") if word.strip()]
    if not words:
        raise UsageError(f"{option}: empty list")
    values = []
    for word in words:
        try:
            value = int(word)
        except ValueError:
            raise UsageError(f"{option}: {word!r} is not an integer") from None
        if value <= 0:
            raise UsageError(f"{option}: {value} must be positive")
        values.append(value)
    return values


def resolve_config(args: argparse.Namespace) -> Config:
    """Turn parsed arguments into a Config; remembers which filters the user set explicitly,
    because with --flashjit-json only those should narrow the rows of the file."""
    explicit = {name for name in ("dtypes", "head_dims", "seqlens", "masks")
                if getattr(args, name) is not None}
    if args.iterations <= 0:
        raise UsageError("--iterations must be positive")
    if args.warmup < 0:
        raise UsageError("--warmup must not be negative")
    if args.flashjit is not None and shutil.which(args.flashjit) is None:
        raise UsageError(f"--flashjit: {args.flashjit} is not an executable file")
    for path in args.flashjit_json or []:
        if not path.is_file():
            raise UsageError(f"--flashjit-json: {path} does not exist")
    return Config(
        flashjit=args.flashjit,
        flashjit_jsons=list(args.flashjit_json or []),
        out=args.out,
        dtypes=parse_word_list(args.dtypes, KNOWN_DTYPES, "--dtypes") if args.dtypes
        else list(DEFAULT_DTYPES),
        head_dims=parse_int_list(args.head_dims, "--head-dims") if args.head_dims
        else list(DEFAULT_HEAD_DIMS),
        seqlens=parse_int_list(args.seqlens, "--seqlens") if args.seqlens
        else list(DEFAULT_SEQLENS),
        masks=parse_word_list(args.masks, KNOWN_MASKS, "--masks") if args.masks
        else list(DEFAULT_MASKS),
        iterations=args.iterations,
        warmup=args.warmup,
        no_torch=args.no_torch,
        explicit_filters=explicit,
    )


# --------------------------------------------------------------------------------------------
# FlashJIT side


def join_list(values: Sequence[Any]) -> str:
    return ",".join(str(value) for value in values)


def run_flashjit_bench(config: Config, json_path: Path) -> None:
    """Run `flashjit bench` with the same lists; its stdout passes through, its stderr is kept
    so that a failure can be explained."""
    command = [config.flashjit, "bench", "--json", str(json_path),
               "--dtypes", join_list(config.dtypes), "--head-dims", join_list(config.head_dims),
               "--seqlens", join_list(config.seqlens), "--masks", join_list(config.masks),
               "--iterations", str(config.iterations)]
    print(f"running: {shlex.join(command)}", file=sys.stderr, flush=True)
    try:
        result = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
    except OSError as exc:
        raise RunError(f"cannot run {config.flashjit}: {exc}") from None
    if result.returncode != 0:
        raise RunError(f"flashjit bench exited with code {result.returncode}; its stderr:\n"
                       f"{result.stderr.rstrip()}")
    if result.stderr.strip():
        print(result.stderr.rstrip(), file=sys.stderr)
    if not json_path.is_file():
        raise RunError(f"flashjit bench succeeded but wrote no {json_path}")


def load_bench_json(path: Path) -> dict[str, Any]:
    """Read a `flashjit bench --json` file; a clear message beats a KeyError later."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise RunError(f"{path}: expected an object with a 'rows' list")
    return data


def optional_float(value: Any) -> Optional[float]:
    """A finite float, or None for missing, null or non-numeric values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def problem_from_row(row: dict[str, Any]) -> Problem:
    """Build the problem of one row; kv_heads defaults to heads (plain multi-head attention)."""
    try:
        heads = int(row["heads"])
        return Problem(dtype=str(row["dtype"]), head_dim=int(row["head_dim"]),
                       seqlen=int(row["seqlen"]), causal=bool(row["causal"]),
                       batch=int(row["batch"]), heads=heads,
                       kv_heads=int(row.get("kv_heads", heads)))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"malformed flashjit row {row!r}: {exc}") from None


def flashjit_timing(problem: Problem, row: dict[str, Any]) -> Timing:
    """FlashJIT's own numbers; TFLOP/s recomputed from the median when the row lacks it, and a
    row without a median (a failed kernel) is n/a rather than a crash."""
    median = optional_float(row.get("median_ms"))
    if median is None or median <= 0:
        return Timing(error=str(row.get("error") or "no median_ms in the flashjit row"))
    tflops = optional_float(row.get("tflops"))
    return Timing(median_ms=median, p20_ms=optional_float(row.get("p20_ms")),
                  p80_ms=optional_float(row.get("p80_ms")),
                  tflops=tflops if tflops is not None else problem.tflops(median))


def row_selected(problem: Problem, config: Config) -> bool:
    """With --flashjit-json, keep only rows matching the filters the user typed."""
    checks = {
        "dtypes": problem.dtype in config.dtypes,
        "head_dims": problem.head_dim in config.head_dims,
        "seqlens": problem.seqlen in config.seqlens,
        "masks": problem.mask in config.masks,
    }
    return all(ok for name, ok in checks.items() if name in config.explicit_filters)


def label_runs(results: Sequence[tuple[str, dict[str, Any]]]) -> list[FlashjitRun]:
    """Label each (source, data) by the variant its file records ("auto": the selector's choice;
    files from before `flashjit bench --variant` record none and count as "auto"). Two files with
    the same variant are told apart by their file names."""
    variants = [str(data.get("variant") or "auto") for _, data in results]
    runs = []
    for (source, data), variant in zip(results, variants):
        label = variant if variants.count(variant) == 1 else f"{variant} ({Path(source).stem})"
        runs.append(FlashjitRun(label=label, variant=variant, source=source, data=data))
    labels = [run.label for run in runs]
    if len(set(labels)) != len(labels):
        raise RunError(f"the flashjit results cannot be told apart ({', '.join(labels)}); "
                       "was a file given twice?")
    return runs


def comparisons_from_bench(runs: Sequence[FlashjitRun], config: Config) -> list[Comparison]:
    """One Comparison per selected problem, with every run's row for it (n/a where a run has
    none), sorted so tables read by dtype, d, mask, seqlen. A problem a file lists twice is
    two rows, as it is in the file."""
    by_problem: dict[tuple, Comparison] = {}
    for run in runs:
        seen: dict[tuple, int] = {}
        for row in run.data["rows"]:
            if not isinstance(row, dict):
                raise RunError(f"malformed flashjit row {row!r}")
            problem = problem_from_row(row)
            if not row_selected(problem, config):
                continue
            shape = dataclasses.astuple(problem)
            seen[shape] = seen.get(shape, 0) + 1
            key = (shape, seen[shape])
            comparison = by_problem.setdefault(key, Comparison(problem=problem, flashjit={}))
            comparison.flashjit[run.label] = FlashjitResult(
                timing=flashjit_timing(problem, row), kernel=str(row.get("kernel", "")),
                origin=str(row.get("origin", "")))
    comparisons = list(by_problem.values())
    for comparison in comparisons:
        comparison.flashjit = {
            run.label: comparison.flashjit.get(run.label)
            or FlashjitResult(timing=Timing(error=f"no such row in {run.source}"))
            for run in runs}
    comparisons.sort(key=lambda c: c.problem.sort_key())
    return comparisons


# --------------------------------------------------------------------------------------------
# SDPA side (torch imported lazily)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of an already sorted, non-empty list."""
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def timing_from_samples(problem: Problem, samples_ms: Sequence[float]) -> Timing:
    """Median and p20/p80 the way flashjit bench reports them, plus TFLOP/s from the median."""
    ordered = sorted(samples_ms)
    median = percentile(ordered, 0.5)
    return Timing(median_ms=median, p20_ms=percentile(ordered, 0.2),
                  p80_ms=percentile(ordered, 0.8), tflops=problem.tflops(median))


def import_torch() -> Any:
    """Import torch only when SDPA is measured, so the rest works without it."""
    try:
        import torch  # noqa: PLC0415 (lazy on purpose)
    except ImportError as exc:
        raise RunError(f"cannot import torch ({exc}); use --no-torch to skip the SDPA timing") \
            from None
    if not torch.cuda.is_available():
        raise RunError("torch sees no CUDA device; use --no-torch to skip the SDPA timing")
    return torch


def torch_dtype(torch: Any, name: str) -> Any:
    return {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[name]


def make_inputs(torch: Any, problem: Problem) -> tuple[Any, Any, Any]:
    """q, k, v stored as FlashJIT stores them ([b, s, h, d]) and handed to SDPA as [b, h, s, d]
    transpose views, so both sides read the same memory layout."""
    dtype = torch_dtype(torch, problem.dtype)
    shape_q = (problem.batch, problem.seqlen, problem.heads, problem.head_dim)
    shape_kv = (problem.batch, problem.seqlen, problem.kv_heads, problem.head_dim)
    q = torch.randn(shape_q, device="cuda", dtype=dtype)
    k = torch.randn(shape_kv, device="cuda", dtype=dtype)
    v = torch.randn(shape_kv, device="cuda", dtype=dtype)
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)


def time_cuda_calls(torch: Any, call: Callable[[], Any], iterations: int, warmup: int) -> list[float]:
    """Warm up, then time each call with its own pair of CUDA events (milliseconds).
    Events bracket only the attention call, not input creation or host-side bookkeeping."""
    for _ in range(warmup):
        call()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    for start, end in zip(starts, ends):
        start.record()
        call()
        end.record()
    torch.cuda.synchronize()
    return [start.elapsed_time(end) for start, end in zip(starts, ends)]


def describe_failure(exc: BaseException, caught: Sequence[warnings.WarningMessage]) -> str:
    """SDPA's "No available kernel" error says little; the warnings it emits just before say
    why each backend refused, so they are folded into the reason."""
    reason = ""
    for message in caught:
        text = " ".join(str(message.message).split())
        if text and text not in reason:
            separator = " " if not reason or reason.endswith(":") else "; "
            reason = (reason + separator + text).strip()
    lines = str(exc).strip().splitlines()
    error = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    reason = f"{reason}; {error}" if reason else error
    return reason if len(reason) <= MAX_REASON_CHARS else reason[:MAX_REASON_CHARS - 3] + "..."


def time_sdpa_backend(torch: Any, problem: Problem, inputs: tuple[Any, Any, Any],
                      backend_name: str, iterations: int, warmup: int) -> Timing:
    """Time SDPA with exactly one backend allowed; any refusal or error becomes n/a."""
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415
    from torch.nn.functional import scaled_dot_product_attention  # noqa: PLC0415

    backend = getattr(SDPBackend, backend_name, None)
    if backend is None:
        return Timing(error=f"this torch has no SDPBackend.{backend_name}")
    q, k, v = inputs
    extra = {"enable_gqa": True} if problem.kv_heads != problem.heads else {}
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught, sdpa_kernel(backend), torch.no_grad():
            warnings.simplefilter("always")
            samples = time_cuda_calls(
                torch, lambda: scaled_dot_product_attention(q, k, v, is_causal=problem.causal,
                                                            **extra),
                iterations, warmup)
    except Exception as exc:  # noqa: BLE001 (an unsupported backend must not stop the run)
        return Timing(error=describe_failure(exc, caught))
    return timing_from_samples(problem, samples)


def measure_sdpa(torch: Any, comparisons: list[Comparison], iterations: int, warmup: int) -> None:
    """Measure every backend for every row, one after another on the current card."""
    for index, comparison in enumerate(comparisons, start=1):
        problem = comparison.problem
        print(f"[{index}/{len(comparisons)}] SDPA {problem.dtype} d={problem.head_dim} "
              f"s={problem.seqlen} {problem.mask}", file=sys.stderr, flush=True)
        try:
            inputs = make_inputs(torch, problem)
        except Exception as exc:  # noqa: BLE001 (e.g. out of memory: n/a for all backends)
            reason = describe_failure(exc, [])
            comparison.sdpa = {key: Timing(error=reason) for key, _, _ in SDPA_BACKENDS}
            continue
        for key, _, backend_name in SDPA_BACKENDS:
            comparison.sdpa[key] = time_sdpa_backend(torch, problem, inputs, backend_name,
                                                     iterations, warmup)
        del inputs


def mark_sdpa_unmeasured(comparisons: list[Comparison]) -> None:
    """--no-torch: every SDPA cell is n/a with the reason spelled out."""
    for comparison in comparisons:
        comparison.sdpa = {key: Timing(error="not measured (--no-torch)")
                           for key, _, _ in SDPA_BACKENDS}


def torch_environment(torch: Any) -> Environment:
    return Environment(device=torch.cuda.get_device_name(), torch_version=str(torch.__version__),
                       cuda_version=str(torch.version.cuda), sdpa_measured=True)


# --------------------------------------------------------------------------------------------
# Reports


def fmt_tflops(timing: Optional[Timing]) -> str:
    return "n/a" if timing is None or timing.tflops is None else f"{timing.tflops:.1f}"


def fmt_ratio(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


@dataclass
class RunColumns:
    """The headers of one FlashJIT run's columns."""

    tflops: str
    over_flash: str
    over_cudnn: str
    kernel: str


def run_labels(comparisons: Sequence[Comparison]) -> list[str]:
    """The FlashJIT runs' labels, in the order they were given (every comparison has them all)."""
    return list(comparisons[0].flashjit) if comparisons else []


def run_columns(labels: Sequence[str]) -> list[RunColumns]:
    """One run keeps the plain names ("FlashJIT", "FJ/flash"); several carry their label."""
    if len(labels) == 1:
        return [RunColumns("FlashJIT", "FJ/flash", "FJ/cuDNN", "FlashJIT kernel")]
    return [RunColumns(f"FJ {label}", f"FJ {label}/flash", f"FJ {label}/cuDNN",
                       f"FJ {label} kernel") for label in labels]


def table_headers(labels: Sequence[str]) -> list[str]:
    """Problem, TFLOP/s of each FlashJIT run and SDPA backend, the ratios, then the kernels."""
    columns = run_columns(labels)
    return ["dtype", "d", "seqlen", "causal", *(c.tflops for c in columns),
            *(label for _, label, _ in SDPA_BACKENDS),
            *(name for c in columns for name in (c.over_flash, c.over_cudnn)),
            *(c.kernel for c in columns)]


def numeric_columns(labels: Sequence[str]) -> set[int]:
    """Right-aligned columns: everything but dtype, causal and the kernel names."""
    return set(range(1, 4 + len(labels) + len(SDPA_BACKENDS) + 2 * len(labels))) - {3}


def kernel_text(result: FlashjitResult) -> str:
    return result.kernel + (f" ({result.origin})" if result.origin else "")


def table_cells(comparison: Comparison) -> list[str]:
    """One table row as strings (TFLOP/s for each implementation, then the ratios)."""
    p = comparison.problem
    results = comparison.flashjit
    return [p.dtype, str(p.head_dim), str(p.seqlen), "yes" if p.causal else "no",
            *(fmt_tflops(result.timing) for result in results.values()),
            *(fmt_tflops(comparison.sdpa.get(key)) for key, _, _ in SDPA_BACKENDS),
            *(fmt_ratio(comparison.ratio(backend, label))
              for label in results for backend in ("flash", "cudnn")),
            *(kernel_text(result) for result in results.values())]


def failure_notes(comparisons: Sequence[Comparison]) -> list[str]:
    """The distinct n/a reasons, each once, so the table stays narrow."""
    notes: list[str] = []
    columns = run_columns(run_labels(comparisons))
    for comparison in comparisons:
        p = comparison.problem
        cells = [(column.tflops, result.timing)
                 for column, result in zip(columns, comparison.flashjit.values())]
        cells += [(label, comparison.sdpa.get(key)) for key, label, _ in SDPA_BACKENDS]
        for label, timing in cells:
            if timing is not None and timing.error is not None:
                note = f"{label}: {timing.error}"
                where = f"{p.dtype} d={p.head_dim} s={p.seqlen} {p.mask}"
                if not any(existing.startswith(note) for existing in notes):
                    notes.append(f"{note} (first at {where})")
    return notes


def render_text_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                      numeric: set[int]) -> str:
    """Fixed-width console table; numbers right-aligned."""
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) if rows else len(headers[i])
              for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def run_description(run: FlashjitRun) -> str:
    if run.variant == "auto":
        return "the selector's choice per shape"
    return "forced for every shape"


def header_lines(env: Environment, runs: Sequence[FlashjitRun], config: Config) -> list[str]:
    """Card, versions and method: the context without which the numbers cannot be judged."""
    lines = [f"device: {env.device}",
             f"torch: {env.torch_version} (CUDA {env.cuda_version})"]
    for run in runs:
        name = "flashjit" if len(runs) == 1 else f"flashjit {run.label}"
        # One run of the selector's choice reads as before variants could be forced.
        variant = ("" if len(runs) == 1 and run.variant == "auto"
                   else f"; variant {run.variant}, {run_description(run)}")
        lines.append(f"{name}: {run.data.get('flashjit_version', '?')} (bench device: "
                     f"{run.data.get('device', '?')}{variant})")
    if env.sdpa_measured:
        lines.append(f"SDPA: median of {config.iterations} runs after {config.warmup} warm-up "
                     "runs, CUDA events, each backend forced with sdpa_kernel")
    else:
        lines.append("SDPA: not measured (--no-torch)")
    lines.append(f"TFLOP/s = {TFLOPS_FORMULA}")
    return lines


def print_report(comparisons: Sequence[Comparison], env: Environment, runs: Sequence[FlashjitRun],
                 config: Config) -> None:
    labels = run_labels(comparisons)
    print("\n".join(header_lines(env, runs, config)))
    print()
    print(render_text_table(table_headers(labels), [table_cells(c) for c in comparisons],
                            numeric_columns(labels)))
    notes = failure_notes(comparisons)
    if notes:
        print("\nn/a reasons:")
        for note in notes:
            print(f"  - {note}")


def markdown_escape(text: str) -> str:
    """Keep pipes from splitting cells and asterisks (the formula) from turning into italics."""
    return text.replace("|", "\\|").replace("*", "\\*")


def markdown_kernel(result: FlashjitResult) -> str:
    """The kernel name as code, so its underscores stay literal."""
    kernel = f"`{result.kernel}`" if result.kernel else ""
    origin = f" ({markdown_escape(result.origin)})" if result.origin else ""
    return kernel + origin


def markdown_cells(comparison: Comparison) -> list[str]:
    """Table cells for Markdown: numbers escaped, kernel names (the last columns) as code."""
    runs = len(comparison.flashjit)
    cells = [markdown_escape(cell) for cell in table_cells(comparison)[:-runs]]
    return cells + [markdown_kernel(result) for result in comparison.flashjit.values()]


def shapes_summary(comparisons: Sequence[Comparison]) -> str:
    """Describe the shapes compactly (e.g. constant tokens and hidden size) for the notes."""
    tokens = sorted({c.problem.batch * c.problem.seqlen for c in comparisons})
    hidden = sorted({c.problem.heads * c.problem.head_dim for c in comparisons})
    gqa = any(c.problem.kv_heads != c.problem.heads for c in comparisons)
    text = (f"total tokens (batch·seqlen) {', '.join(map(str, tokens))}; "
            f"hidden (heads·head_dim) {', '.join(map(str, hidden))}")
    return text + ("; some rows use GQA (see comparison.json)" if gqa else "")


def render_markdown(comparisons: Sequence[Comparison], env: Environment,
                    runs: Sequence[FlashjitRun], config: Config, today: str) -> str:
    """A section ready to paste into bench/PERFORMANCE.md."""
    labels = run_labels(comparisons)
    headers = table_headers(labels)
    numeric = numeric_columns(labels)
    lines = [f"### FlashJIT vs PyTorch SDPA: {env.device}, {today}", ""]
    lines += [f"- {markdown_escape(line)}" for line in header_lines(env, runs, config)]
    lines += [f"- shapes: {shapes_summary(comparisons)}", "- numbers are TFLOP/s; FJ = FlashJIT", ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---:" if i in numeric else "---"
                                for i in range(len(headers))) + "|")
    for comparison in comparisons:
        lines.append("| " + " | ".join(markdown_cells(comparison)) + " |")
    notes = failure_notes(comparisons)
    if notes:
        lines += ["", "n/a reasons:", ""]
        lines += [f"- {markdown_escape(note)}" for note in notes]
    return "\n".join(lines) + "\n"


def comparison_json(comparisons: Sequence[Comparison], env: Environment,
                    runs: Sequence[FlashjitRun], config: Config,
                    generated_at: str) -> dict[str, Any]:
    """Every number, with enough context to redraw the table or plot later. The flashjit_*
    fields describe the first run; with several runs, "flashjit_runs" lists them all."""
    result = {
        "generated_at": generated_at,
        "device": env.device,
        "flashjit_device": runs[0].data.get("device"),
        "flashjit_version": runs[0].data.get("flashjit_version"),
        "torch_version": env.torch_version,
        "cuda_version": env.cuda_version,
        "sdpa_measured": env.sdpa_measured,
        "iterations": config.iterations,
        "warmup": config.warmup,
        "tflops_formula": TFLOPS_FORMULA,
        "rows": [c.to_json() for c in comparisons],
    }
    if len(runs) > 1:
        result["flashjit_runs"] = [
            {"label": run.label, "source": run.source, "variant": run.data.get("variant"),
             "device": run.data.get("device"), "version": run.data.get("flashjit_version")}
            for run in runs]
    return result


def plot_series(labels: Sequence[str]) -> list[tuple[str, Callable[[Comparison], Optional[float]]]]:
    """The lines of each subplot: each FlashJIT run first, then each SDPA backend."""
    series: list[tuple[str, Callable[[Comparison], Optional[float]]]] = [
        (column.tflops, lambda c, label=label: c.flashjit[label].timing.tflops)
        for column, label in zip(run_columns(labels), labels)]
    for key, label, _ in SDPA_BACKENDS:
        series.append((label, lambda c, key=key: c.sdpa[key].tflops if key in c.sdpa else None))
    return series


def write_plot(comparisons: Sequence[Comparison], env: Environment, path: Path) -> bool:
    """TFLOP/s against seqlen, one subplot per (dtype, mask) row and head_dim column.
    Returns False (after saying so) when matplotlib is missing; the rest of the run still counts."""
    try:
        import matplotlib  # noqa: PLC0415 (lazy on purpose)
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        print("matplotlib is not installed; skipping comparison.png", file=sys.stderr)
        return False
    panel_rows = sorted({(c.problem.dtype, c.problem.mask) for c in comparisons})
    head_dims = sorted({c.problem.head_dim for c in comparisons})
    figure, axes = plt.subplots(len(panel_rows), len(head_dims), squeeze=False,
                                figsize=(4.5 * len(head_dims), 3.5 * len(panel_rows)))
    for r, (dtype, mask) in enumerate(panel_rows):
        for col, head_dim in enumerate(head_dims):
            selected = [c for c in comparisons if (c.problem.dtype, c.problem.mask,
                                                   c.problem.head_dim) == (dtype, mask, head_dim)]
            draw_panel(axes[r][col], selected, run_labels(comparisons),
                       f"{dtype}, d={head_dim}, {mask}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=len(labels) or 1)
    figure.suptitle(f"{env.device}: TFLOP/s vs sequence length", y=0.995)
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def draw_panel(axis: Any, comparisons: Sequence[Comparison], labels: Sequence[str],
               title: str) -> None:
    """One subplot; points without a number (n/a) are left out of their line."""
    for label, value_of in plot_series(labels):
        points = sorted((c.problem.seqlen, value_of(c)) for c in comparisons
                        if value_of(c) is not None)
        axis.plot([x for x, _ in points], [y for _, y in points], marker="o", label=label)
    axis.set_xscale("log", base=2)
    seqlens = sorted({c.problem.seqlen for c in comparisons})
    if seqlens:
        axis.set_xticks(seqlens)
        axis.set_xticklabels([str(s) for s in seqlens])
    axis.set_title(title)
    axis.set_xlabel("seqlen")
    axis.set_ylabel("TFLOP/s")
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)


# --------------------------------------------------------------------------------------------
# Main


def obtain_bench_data(config: Config) -> list[FlashjitRun]:
    """Run flashjit bench into OUT/flashjit.json, or read the files the user gave."""
    if config.flashjit_jsons:
        return label_runs([(str(path), load_bench_json(path)) for path in config.flashjit_jsons])
    json_path = config.out / "flashjit.json"
    run_flashjit_bench(config, json_path)
    return label_runs([(str(json_path), load_bench_json(json_path))])


def warn_if_cards_differ(runs: Sequence[FlashjitRun], torch_device: Optional[str]) -> None:
    """Ratios between numbers from two cards compare machines, not implementations."""
    for run in runs:
        bench_device = run.data.get("device")
        if torch_device and bench_device and bench_device != torch_device:
            print(f"warning: flashjit ran on {bench_device!r} but torch uses {torch_device!r}; "
                  "ratios compare different cards", file=sys.stderr)
    devices = {run.data.get("device") for run in runs if run.data.get("device")}
    if len(devices) > 1:
        print("warning: the flashjit results come from different cards "
              f"({', '.join(sorted(devices))})", file=sys.stderr)


def measure(comparisons: list[Comparison], runs: Sequence[FlashjitRun],
            config: Config) -> Environment:
    """SDPA timing (or its --no-torch stand-in), warning when the cards differ."""
    if config.no_torch:
        mark_sdpa_unmeasured(comparisons)
        warn_if_cards_differ(runs, None)
        return Environment(device=str(runs[0].data.get("device", "unknown")),
                           torch_version="not used", cuda_version="n/a", sdpa_measured=False)
    torch = import_torch()
    env = torch_environment(torch)
    warn_if_cards_differ(runs, env.device)
    measure_sdpa(torch, comparisons, config.iterations, config.warmup)
    return env


def write_outputs(comparisons: list[Comparison], env: Environment, runs: Sequence[FlashjitRun],
                  config: Config) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    json_path = config.out / "comparison.json"
    json_path.write_text(json.dumps(comparison_json(comparisons, env, runs, config,
                                                    now.isoformat(timespec="seconds")),
                                    indent=2) + "\n", encoding="utf-8")
    md_path = config.out / "comparison.md"
    md_path.write_text(render_markdown(comparisons, env, runs, config, now.date().isoformat()),
                       encoding="utf-8")
    written = [json_path, md_path]
    png_path = config.out / "comparison.png"
    if write_plot(comparisons, env, png_path):
        written.append(png_path)
    print("\nwrote " + ", ".join(str(p) for p in written))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on malformed options
    try:
        config = resolve_config(args)
        config.out.mkdir(parents=True, exist_ok=True)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: cannot create {args.out}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        runs = obtain_bench_data(config)
        comparisons = comparisons_from_bench(runs, config)
        if not comparisons:
            raise RunError("no flashjit rows to compare (check the files and the filters)")
        env = measure(comparisons, runs, config)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print_report(comparisons, env, runs, config)
    write_outputs(comparisons, env, runs, config)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
