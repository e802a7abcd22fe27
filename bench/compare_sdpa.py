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

Rows with issue 14's ragged batches and score modifiers (a `flashjit bench` row's "window",
"softcap", "alibi", "varlen" and lengths) are compared with what PyTorch offers for the same
function: SDPA over nested jagged tensors for a ragged batch, and torch.nn.attention.flex_attention
(compiled, with a block mask and a score_mod) for windows, softcap and ALiBi; a column this torch
lacks is n/a with a note. `--modifiers` adds such rows to a `--flashjit` run: sliding windows of
256 and 4096 keys at 8k and 16k tokens (beside dense causal rows of those lengths), softcap 50,
ALiBi, and ragged batches of seeded lengths with the dense rows' tokens and longest sequence.

    python3 bench/compare_sdpa.py --flashjit build/tools/flashjit --modifiers --out out/compare

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

# (key in outputs, label in tables and plots, torch.nn.attention.SDPBackend member; None: not SDPA
# but flex_attention, measured for rows with score modifiers)
SDPA_BACKENDS = (
    ("flash", "SDPA flash", "FLASH_ATTENTION"),
    ("cudnn", "SDPA cuDNN", "CUDNN_ATTENTION"),
    ("mem_efficient", "SDPA mem-eff", "EFFICIENT_ATTENTION"),
    ("flex", "flex_attention", None),
)

TFLOPS_FORMULA = ("4*batch*heads*seqlen^2*head_dim / time, halved when causal; with a window, 4*heads*head_dim "
                  "per visible query-key pair; a ragged batch sums its sequences (flashjit bench's gflop)")

# What --modifiers adds: (name, flashjit bench options, sequence lengths). The window rows are causal
# sliding windows (Mistral's), compared with dense causal rows of the same lengths.
KNOWN_MODIFIERS = ("window", "softcap", "alibi", "ragged")
WINDOW_SEQLENS = (8192, 16384)
MODIFIER_SEQLEN = 4096
DEFAULT_VARLEN_SEED = 1


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


@dataclass(frozen=True)
class Modifiers:
    """A row's ragged batch and score modifiers (issue 14), as `flashjit bench --json` records them:
    window (left, right) with -1 unbounded, softcap, ALiBi (geometric slopes per head) and a ragged
    batch's query and key lengths. Frozen, so a problem stays hashable."""

    window: Optional[tuple[int, int]] = None
    softcap: Optional[float] = None
    alibi: bool = False
    q_lengths: tuple[int, ...] = ()
    k_lengths: tuple[int, ...] = ()

    @property
    def ragged(self) -> bool:
        return bool(self.q_lengths)

    def any(self) -> bool:
        return self.window is not None or self.softcap is not None or self.alibi or self.ragged

    def scores_modified(self) -> bool:
        """What SDPA cannot compute: a window, a softcap or ALiBi (flex_attention can)."""
        return self.window is not None or self.softcap is not None or self.alibi

    def label(self) -> str:
        """As flashjit bench prints it: "varlen w256,0 cap50 alibi", or "-"."""
        parts = []
        if self.ragged:
            parts.append("varlen")
        if self.window is not None:
            parts.append(f"w{self.window[0]},{self.window[1]}")
        if self.softcap is not None:
            parts.append(f"cap{self.softcap:g}")
        if self.alibi:
            parts.append("alibi")
        return " ".join(parts) if parts else "-"

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"window": list(self.window) if self.window is not None else None,
                                  "softcap": self.softcap, "alibi": self.alibi, "varlen": self.ragged}
        if self.ragged:
            result["q_lengths"] = list(self.q_lengths)
            result["k_lengths"] = list(self.k_lengths)
        return result


@dataclass(frozen=True)
class Problem:
    """One attention problem, as in a `flashjit bench` row (layout [batch, seqlen, heads, d]; a
    ragged batch's seqlen is its longest sequence, its batch the number of sequences)."""

    dtype: str
    head_dim: int
    seqlen: int
    causal: bool
    batch: int
    heads: int
    kv_heads: int
    modifiers: Modifiers = Modifiers()
    gflop: Optional[float] = None  # flashjit bench's count, which a window or ragged batch needs

    @property
    def mask(self) -> str:
        return "causal" if self.causal else "none"

    def flops(self) -> float:
        """flashjit bench's count when the row has one (a window counts visible pairs, a ragged
        batch its sequences); else two matrix products of s x s x d per head, causal half."""
        if self.gflop is not None:
            return self.gflop * 1e9
        total = 4.0 * self.batch * self.heads * self.seqlen * self.seqlen * self.head_dim
        return total / 2.0 if self.causal else total

    def tflops(self, milliseconds: float) -> float:
        return self.flops() / (milliseconds * 1e-3) / 1e12

    def sort_key(self) -> tuple:
        return (self.dtype, self.head_dim, self.causal, self.modifiers.label(), self.seqlen, self.batch,
                self.heads)


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
            **p.modifiers.to_json(),
            "flashjit": self.primary().to_json(),
            "sdpa": {key: timing.to_json() for key, timing in self.sdpa.items()},
            "ratio_flashjit_over_flash": self.ratio("flash"),
            "ratio_flashjit_over_cudnn": self.ratio("cudnn"),
            "ratio_flashjit_over_flex": self.ratio("flex"),
        }
        if len(self.flashjit) > 1:
            result["flashjit_runs"] = {
                label: {**run.to_json(), "ratio_over_flash": self.ratio("flash", label),
                        "ratio_over_cudnn": self.ratio("cudnn", label),
                        "ratio_over_flex": self.ratio("flex", label)}
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
    modifiers: list[str] = field(default_factory=list)  # --modifiers: which sweeps to add
    varlen_seed: int = DEFAULT_VARLEN_SEED


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
    parser.add_argument("--modifiers", metavar="LIST", nargs="?", const=",".join(KNOWN_MODIFIERS),
                        help="with --flashjit: also bench ragged batches and score modifiers beside "
                             "PyTorch (SDPA on nested jagged tensors, flex_attention), comma-separated "
                             f"of {','.join(KNOWN_MODIFIERS)} (no LIST: all): causal windows of 256 and "
                             f"4096 keys at {' and '.join(map(str, WINDOW_SEQLENS))} tokens, softcap 50 "
                             f"and ALiBi at {MODIFIER_SEQLEN}, ragged batches of the dense rows' tokens "
                             "and longest sequence")
    parser.add_argument("--decode", action="store_true",
                        help="compare the decode sweep instead (`flashjit bench --decode`: batch x cached keys x "
                             "page size) with SDPA flash and cuDNN on the dense equivalent; writes decode.json "
                             "and decode.md (bench/decode_comparison.py)")
    parser.add_argument("--varlen-seed", metavar="SEED", type=int, default=DEFAULT_VARLEN_SEED,
                        help="seed of the ragged batches' lengths (flashjit bench --varlen-fill; "
                             "default: %(default)s)")
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
    modifiers = []
    if args.modifiers is not None:
        if args.flashjit is None:
            raise UsageError("--modifiers runs `flashjit bench` for each modifier: give --flashjit "
                             "(rows with modifiers in --flashjit-json files are compared as they are)")
        modifiers = parse_word_list(args.modifiers, KNOWN_MODIFIERS, "--modifiers")
    if not 0 <= args.varlen_seed <= 2 ** 32 - 1:
        raise UsageError(f"--varlen-seed must be between 0 and {2 ** 32 - 1}")
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
        modifiers=modifiers,
        varlen_seed=args.varlen_seed,
    )


# --------------------------------------------------------------------------------------------
# FlashJIT side


def join_list(values: Sequence[Any]) -> str:
    return ",".join(str(value) for value in values)


@dataclass
class BenchRun:
    """One `flashjit bench` invocation: its name and the options beyond the shared ones."""

    name: str
    options: list[str]
    seqlens: list[int]
    masks: list[str]


def modifier_sweep(config: Config) -> list[BenchRun]:
    """The bench runs --modifiers adds, in order: dense causal rows at the window lengths the main
    run lacks, the causal windows, softcap, ALiBi, and ragged batches (--varlen-fill: the dense
    rows' total tokens and longest sequence)."""
    runs = []
    if "window" in config.modifiers:
        missing = [s for s in WINDOW_SEQLENS if s not in config.seqlens or "causal" not in config.masks]
        if missing:
            runs.append(BenchRun("dense causal", [], missing, ["causal"]))
        for width in (256, 4096):
            runs.append(BenchRun(f"window {width}", ["--window", f"{width},0"], list(WINDOW_SEQLENS), ["causal"]))
    if "softcap" in config.modifiers:
        runs.append(BenchRun("softcap 50", ["--softcap", "50"], [MODIFIER_SEQLEN], list(config.masks)))
    if "alibi" in config.modifiers:
        runs.append(BenchRun("ALiBi", ["--alibi"], [MODIFIER_SEQLEN], list(config.masks)))
    if "ragged" in config.modifiers:
        runs.append(BenchRun("ragged", ["--varlen-fill", str(config.varlen_seed)], list(config.seqlens),
                             list(config.masks)))
    return runs


def bench_command(config: Config, json_path: Path, run: Optional[BenchRun] = None) -> list[str]:
    """`flashjit bench` with the configured lists (a sweep run's own lengths, masks and options)."""
    seqlens = run.seqlens if run else config.seqlens
    masks = run.masks if run else config.masks
    return [config.flashjit, "bench", "--json", str(json_path),
            "--dtypes", join_list(config.dtypes), "--head-dims", join_list(config.head_dims),
            "--seqlens", join_list(seqlens), "--masks", join_list(masks),
            "--iterations", str(config.iterations), *(run.options if run else [])]


def run_flashjit_bench(config: Config, json_path: Path, run: Optional[BenchRun] = None) -> None:
    """Run `flashjit bench` with the same lists; its stdout passes through, its stderr is kept
    so that a failure can be explained."""
    command = bench_command(config, json_path, run)
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


def lengths_of(row: dict[str, Any], name: str) -> tuple[int, ...]:
    """A ragged row's lengths: a non-empty list of integers >= 0."""
    value = row.get(name)
    if (not isinstance(value, list) or not value
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in value)):
        raise ValueError(f"'{name}' must be a non-empty list of lengths (integers >= 0)")
    return tuple(value)


def modifiers_from_row(row: dict[str, Any]) -> Modifiers:
    """The row's modifiers; every field is optional (rows from before issue 14 have none)."""
    window = row.get("window")
    if window is not None:
        if (not isinstance(window, list) or len(window) != 2
                or any(isinstance(x, bool) or not isinstance(x, int) or x < -1 for x in window)):
            raise ValueError("'window' must be [left, right], integers >= -1, or null")
        window = (window[0], window[1])
    softcap = row.get("softcap")
    if softcap is not None:
        if isinstance(softcap, bool) or not isinstance(softcap, (int, float)) or not softcap > 0:
            raise ValueError("'softcap' must be a number above 0, or null")
        softcap = float(softcap)
    alibi = row.get("alibi", False)
    varlen = row.get("varlen", False)
    if not isinstance(alibi, bool) or not isinstance(varlen, bool):
        raise ValueError("'alibi' and 'varlen' must be true or false")
    q_lengths = k_lengths = ()
    if varlen:
        q_lengths, k_lengths = lengths_of(row, "q_lengths"), lengths_of(row, "k_lengths")
        if len(q_lengths) != len(k_lengths):
            raise ValueError("'q_lengths' and 'k_lengths' must have one length per sequence each")
    return Modifiers(window=window, softcap=softcap, alibi=alibi, q_lengths=q_lengths, k_lengths=k_lengths)


def problem_from_row(row: dict[str, Any]) -> Problem:
    """Build the problem of one row; kv_heads defaults to heads (plain multi-head attention)."""
    try:
        heads = int(row["heads"])
        modifiers = modifiers_from_row(row)
        gflop = optional_float(row.get("gflop")) if modifiers.any() else None
        return Problem(dtype=str(row["dtype"]), head_dim=int(row["head_dim"]),
                       seqlen=int(row["seqlen"]), causal=bool(row["causal"]),
                       batch=int(row["batch"]), heads=heads,
                       kv_heads=int(row.get("kv_heads", heads)), modifiers=modifiers, gflop=gflop)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"malformed flashjit row {str(row)[:300]}: {exc}") from None


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
            # A --flashjit run (and its --modifiers sweep) benched exactly what was asked.
            if config.flashjit_jsons and not row_selected(problem, config):
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


class MissingFeature(Exception):
    """The installed torch lacks what a column needs; the cell is n/a with this note."""


def make_inputs(torch: Any, problem: Problem) -> tuple[Any, Any, Any]:
    """q, k, v stored as FlashJIT stores them ([b, s, h, d]) and handed to SDPA as [b, h, s, d]
    transpose views, so both sides read the same memory layout. A ragged batch's are nested jagged
    tensors of its sequences (packed [tokens, h, d] values, [b, h, j, d] views)."""
    dtype = torch_dtype(torch, problem.dtype)
    if problem.modifiers.ragged:
        if not hasattr(torch, "jagged") or not hasattr(torch.nested, "nested_tensor_from_jagged"):
            raise MissingFeature("this torch has no jagged nested tensors (torch.jagged, PyTorch 2.3+)")
        m = problem.modifiers

        def jagged(lengths: Sequence[int], heads: int) -> Any:
            values = torch.randn((sum(lengths), heads, problem.head_dim), device="cuda", dtype=dtype)
            offsets = torch.tensor(sequence_offsets(lengths), device="cuda", dtype=torch.int64)
            return torch.nested.nested_tensor_from_jagged(values, offsets).transpose(1, 2)

        return jagged(m.q_lengths, problem.heads), jagged(m.k_lengths, problem.kv_heads), \
            jagged(m.k_lengths, problem.kv_heads)
    shape_q = (problem.batch, problem.seqlen, problem.heads, problem.head_dim)
    shape_kv = (problem.batch, problem.seqlen, problem.kv_heads, problem.head_dim)
    q = torch.randn(shape_q, device="cuda", dtype=dtype)
    k = torch.randn(shape_kv, device="cuda", dtype=dtype)
    v = torch.randn(shape_kv, device="cuda", dtype=dtype)
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)


def sequence_offsets(lengths: Sequence[int]) -> list[int]:
    """[0, l0, l0 + l1, ...]: a ragged batch's cu_seqlens."""
    offsets = [0]
    for length in lengths:
        offsets.append(offsets[-1] + length)
    return offsets


def alibi_slopes(heads: int) -> list[float]:
    """ALiBi's geometric slopes, as FlashJIT's `flashjit bench --alibi` uses them (Press et al.):
    2^(-8h/n) for a power of two n, else the largest power of two's, then every other slope of
    twice as many."""
    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]

    closest = 1
    while closest * 2 <= heads:
        closest *= 2
    slopes = power_of_two(closest)
    slopes += power_of_two(2 * closest)[0::2][:heads - closest]
    return slopes[:heads]


def visibility_conditions(diagonal: Any, key: Any, causal: bool,
                          window: Optional[tuple[int, int]]) -> list[Any]:
    """FlashAttention-2's rule for which keys a query sees, as conditions to AND (ints or torch
    tensors alike): key >= diagonal - left, and key <= diagonal (causal) or <= diagonal + right,
    where diagonal = query + seqlen_k - seqlen_q and -1 leaves a side unbounded."""
    conditions = []
    if window is not None and window[0] >= 0:
        conditions.append(key >= diagonal - window[0])
    if causal:
        conditions.append(key <= diagonal)
    elif window is not None and window[1] >= 0:
        conditions.append(key <= diagonal + window[1])
    return conditions


def modified_score(score: Any, distance: Any, slope: Any, softcap: Optional[float], tanh: Callable[[Any], Any]) -> Any:
    """FlashAttention-2's order: the scaled score through the softcap, then minus slope * |distance|
    (slope None: no ALiBi)."""
    if softcap is not None:
        score = softcap * tanh(score / softcap)
    if slope is not None:
        score = score - slope * abs(distance)
    return score


@dataclass
class FlexCall:
    """flex_attention's inputs for a problem: [b, h, s, d] tensors (a ragged batch packed as one
    entry), its block mask (None: every key visible) and score_mod (None: the plain score)."""

    q: Any
    k: Any
    v: Any
    block_mask: Any
    score_mod: Any


def make_flex_call(torch: Any, problem: Problem) -> FlexCall:
    """The problem's function for flex_attention: a block mask for the causal mask, the window and a
    ragged batch's sequences (a document mask over the packed tokens), a score_mod for softcap and
    ALiBi."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask  # noqa: PLC0415
    except ImportError:
        raise MissingFeature("this torch has no torch.nn.attention.flex_attention (PyTorch 2.5+)") from None
    m = problem.modifiers
    dtype = torch_dtype(torch, problem.dtype)
    batch = 1 if m.ragged else problem.batch
    q_lengths = list(m.q_lengths) if m.ragged else [problem.seqlen]
    k_lengths = list(m.k_lengths) if m.ragged else [problem.seqlen]
    q_rows, k_rows = sum(q_lengths), sum(k_lengths)

    def tensor(rows: int, heads: int) -> Any:
        return torch.randn((batch, rows, heads, problem.head_dim), device="cuda", dtype=dtype).transpose(1, 2)

    q, k, v = tensor(q_rows, problem.heads), tensor(k_rows, problem.kv_heads), tensor(k_rows, problem.kv_heads)

    def token_tables(lengths: list[int]) -> tuple[Any, Any]:
        """Each token's sequence and its position in it."""
        sequence = torch.repeat_interleave(torch.arange(len(lengths), device="cuda"),
                                           torch.tensor(lengths, device="cuda"))
        starts = torch.tensor(sequence_offsets(lengths)[:-1], device="cuda")
        return sequence, torch.arange(sum(lengths), device="cuda") - starts[sequence]

    q_sequence, q_position = token_tables(q_lengths)
    k_sequence, k_position = token_tables(k_lengths)
    # The bottom-right alignment of each sequence: seqlen_k - seqlen_q.
    alignment = torch.tensor(k_lengths, device="cuda") - torch.tensor(q_lengths, device="cuda")
    slopes = torch.tensor(alibi_slopes(problem.heads), device="cuda", dtype=torch.float32)

    def diagonal(q_idx: Any) -> Any:
        return q_position[q_idx] + alignment[q_sequence[q_idx]]

    def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        visible = q_sequence[q_idx] == k_sequence[kv_idx]
        for condition in visibility_conditions(diagonal(q_idx), k_position[kv_idx], problem.causal, m.window):
            visible = visible & condition
        return visible

    def score_mod(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        distance = diagonal(q_idx) - k_position[kv_idx]
        return modified_score(score, distance, slopes[h] if m.alibi else None, m.softcap, torch.tanh)

    masked = m.ragged or problem.causal or m.window is not None
    block_mask = create_block_mask(mask_mod, None, None, q_rows, k_rows, device="cuda") if masked else None
    modifies = m.softcap is not None or m.alibi
    return FlexCall(q, k, v, block_mask, score_mod if modifies else None)


def time_flex(torch: Any, problem: Problem, iterations: int, warmup: int) -> Timing:
    """flex_attention, compiled (its eager path is a reference, not a kernel), on the problem's
    function; a torch without it, or any failure, is n/a with why."""
    if not problem.modifiers.any():
        return Timing(error="measured for rows with a ragged batch or score modifiers (dense rows: SDPA)")
    caught: list[warnings.WarningMessage] = []
    try:
        call = make_flex_call(torch, problem)
        from torch.nn.attention.flex_attention import flex_attention  # noqa: PLC0415
        compiled = torch.compile(flex_attention, dynamic=False)
        extra = {"enable_gqa": True} if problem.kv_heads != problem.heads else {}
        with warnings.catch_warnings(record=True) as caught, torch.no_grad():
            warnings.simplefilter("always")
            samples = time_cuda_calls(
                torch, lambda: compiled(call.q, call.k, call.v, score_mod=call.score_mod,
                                        block_mask=call.block_mask, **extra),
                iterations, warmup)
    except MissingFeature as missing:
        return Timing(error=str(missing))
    except Exception as exc:  # noqa: BLE001 (a failure is n/a, not the end of the run)
        return Timing(error=describe_failure(exc, caught))
    return timing_from_samples(problem, samples)


def sdpa_refusal(problem: Problem) -> Optional[str]:
    """Why SDPA does not compute the problem's function, or None."""
    m = problem.modifiers
    if m.scores_modified():
        return "SDPA computes no sliding window, softcap or ALiBi (flex_attention does)"
    if m.ragged and problem.causal and m.q_lengths != m.k_lengths:
        return ("SDPA's causal mask is top-left aligned: it differs from FlashJIT's bottom-right one where "
                "query and key lengths differ")
    return None


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
    refusal = sdpa_refusal(problem)
    if refusal is not None:
        return Timing(error=refusal)
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
    """Measure every backend for every row, one after another on the current card; flex_attention
    for the rows with modifiers."""
    for index, comparison in enumerate(comparisons, start=1):
        problem = comparison.problem
        print(f"[{index}/{len(comparisons)}] SDPA {problem.dtype} d={problem.head_dim} "
              f"s={problem.seqlen} {problem.mask} {problem.modifiers.label()}", file=sys.stderr, flush=True)
        comparison.sdpa["flex"] = time_flex(torch, problem, iterations, warmup)
        sdpa_backends = [(key, name) for key, _, name in SDPA_BACKENDS if name is not None]
        try:
            inputs = make_inputs(torch, problem) if sdpa_refusal(problem) is None else None
        except MissingFeature as missing:
            for key, _ in sdpa_backends:
                comparison.sdpa[key] = Timing(error=str(missing))
            continue
        except Exception as exc:  # noqa: BLE001 (e.g. out of memory: n/a for all backends)
            reason = describe_failure(exc, [])
            for key, _ in sdpa_backends:
                comparison.sdpa[key] = Timing(error=reason)
            continue
        for key, backend_name in sdpa_backends:
            comparison.sdpa[key] = time_sdpa_backend(torch, problem, inputs, backend_name,
                                                     iterations, warmup)
        del inputs
    # Keep the columns' order whatever order they were measured in.
    for comparison in comparisons:
        comparison.sdpa = {key: comparison.sdpa[key] for key, _, _ in SDPA_BACKENDS if key in comparison.sdpa}


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
    over_flex: str
    kernel: str


def run_labels(comparisons: Sequence[Comparison]) -> list[str]:
    """The FlashJIT runs' labels, in the order they were given (every comparison has them all)."""
    return list(comparisons[0].flashjit) if comparisons else []


def run_columns(labels: Sequence[str]) -> list[RunColumns]:
    """One run keeps the plain names ("FlashJIT", "FJ/flash"); several carry their label."""
    if len(labels) == 1:
        return [RunColumns("FlashJIT", "FJ/flash", "FJ/cuDNN", "FJ/flex", "FlashJIT kernel")]
    return [RunColumns(f"FJ {label}", f"FJ {label}/flash", f"FJ {label}/cuDNN", f"FJ {label}/flex",
                       f"FJ {label} kernel") for label in labels]


# The ratios each run gets a column for: (backend key, RunColumns field).
RATIO_COLUMNS = (("flash", "over_flash"), ("cudnn", "over_cudnn"), ("flex", "over_flex"))
# The problem's columns: dtype, d, seqlen, causal, modifiers.
PROBLEM_COLUMNS = 5


def table_headers(labels: Sequence[str]) -> list[str]:
    """Problem, TFLOP/s of each FlashJIT run and SDPA backend (and flex_attention), the ratios,
    then the kernels."""
    columns = run_columns(labels)
    return ["dtype", "d", "seqlen", "causal", "modifiers", *(c.tflops for c in columns),
            *(label for _, label, _ in SDPA_BACKENDS),
            *(getattr(c, name) for c in columns for _, name in RATIO_COLUMNS),
            *(c.kernel for c in columns)]


def numeric_columns(labels: Sequence[str]) -> set[int]:
    """Right-aligned columns: d, seqlen and the numbers, not dtype, causal, modifiers or kernels."""
    numbers = len(labels) + len(SDPA_BACKENDS) + len(RATIO_COLUMNS) * len(labels)
    return {1, 2} | set(range(PROBLEM_COLUMNS, PROBLEM_COLUMNS + numbers))


def kernel_text(result: FlashjitResult) -> str:
    return result.kernel + (f" ({result.origin})" if result.origin else "")


def table_cells(comparison: Comparison) -> list[str]:
    """One table row as strings (TFLOP/s for each implementation, then the ratios)."""
    p = comparison.problem
    results = comparison.flashjit
    return [p.dtype, str(p.head_dim), str(p.seqlen), "yes" if p.causal else "no", p.modifiers.label(),
            *(fmt_tflops(result.timing) for result in results.values()),
            *(fmt_tflops(comparison.sdpa.get(key)) for key, _, _ in SDPA_BACKENDS),
            *(fmt_ratio(comparison.ratio(backend, label))
              for label in results for backend, _ in RATIO_COLUMNS),
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
                if p.modifiers.any():
                    where += f" {p.modifiers.label()}"
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
                     "runs, CUDA events, each backend forced with sdpa_kernel (a ragged batch on "
                     "nested jagged tensors); flex_attention compiled, for rows with modifiers")
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
    tokens = sorted({sum(c.problem.modifiers.q_lengths) if c.problem.modifiers.ragged
                     else c.problem.batch * c.problem.seqlen for c in comparisons})
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
    panel_rows = sorted({(c.problem.dtype, c.problem.mask, c.problem.modifiers.label()) for c in comparisons})
    head_dims = sorted({c.problem.head_dim for c in comparisons})
    figure, axes = plt.subplots(len(panel_rows), len(head_dims), squeeze=False,
                                figsize=(4.5 * len(head_dims), 3.5 * len(panel_rows)))
    for r, (dtype, mask, modifiers) in enumerate(panel_rows):
        for col, head_dim in enumerate(head_dims):
            selected = [c for c in comparisons if (c.problem.dtype, c.problem.mask, c.problem.modifiers.label(),
                                                   c.problem.head_dim) == (dtype, mask, modifiers, head_dim)]
            title = f"{dtype}, d={head_dim}, {mask}" + ("" if modifiers == "-" else f", {modifiers}")
            draw_panel(axes[r][col], selected, run_labels(comparisons), title)
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
    data = load_bench_json(json_path)
    # The --modifiers sweep: one bench per modifier, its rows added to the same column.
    for index, run in enumerate(modifier_sweep(config), start=1):
        sweep_path = config.out / f"flashjit_modifiers_{index}.json"
        run_flashjit_bench(config, sweep_path, run)
        data["rows"].extend(load_bench_json(sweep_path)["rows"])
    return label_runs([(str(json_path), data)])


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


def run_decode(args: argparse.Namespace, config: Config) -> int:
    """--decode: `flashjit bench --decode` (or its JSON files) beside SDPA (bench/decode_comparison.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import decode_comparison  # noqa: PLC0415 (beside this file)
    try:
        if config.flashjit:
            json_path = config.out / "flashjit_decode.json"
            command = [config.flashjit, "bench", "--decode", "--json", str(json_path),
                       "--iterations", str(config.iterations)]
            print(f"running: {shlex.join(command)}", file=sys.stderr, flush=True)
            result = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
            if result.returncode != 0:
                raise RunError(f"flashjit bench --decode exited with code {result.returncode}; its stderr:\n"
                               f"{result.stderr.rstrip()}")
            paths = [json_path]
        else:
            paths = list(config.flashjit_jsons)
        rows, device = [], "?"
        for path in paths:
            data = load_bench_json(path)
            device = str(data.get("device", device))
            rows += decode_comparison.decode_rows(data, str(path))
        if not rows:
            raise RunError("no decode rows to compare (run `flashjit bench --decode --json FILE`)")
        if not config.no_torch:
            decode_comparison.measure(rows, import_torch(), config.iterations, config.warmup, time_cuda_calls)
    except (RunError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    decode_comparison.write_outputs(rows, config.out, device)
    return EXIT_OK


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
    if args.decode:
        return run_decode(args, config)
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
