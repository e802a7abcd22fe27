#!/usr/bin/env python3
"""Checks of bench/compare_cpu.py without numpy's timing, torch or pytest (CTest runs it as
bench/compare_cpu_reads_cpu_rows): how it reads `flashjit bench --cpu --json` rows (and refuses
malformed ones by index and field), the report and its ratios from given peer numbers, llama.cpp's
column only where issue 16 measured it (2 threads, no mask), and a --no-peers run end to end.

usage: compare_cpu_check.py PATH/TO/compare_cpu.py SCRATCH_DIR
"""
import contextlib
import copy
import io
import json
import shutil
import sys
from pathlib import Path

from check_support import expect, load, summary


def row(threads, dtype, b, h, s, d, causal, gflops):
    return {"cpu": True, "threads": threads, "dtype": dtype, "batch": b, "heads": h, "seqlen": s, "head_dim": d,
            "causal": causal, "median_ms": 10.0, "p20_ms": 9.0, "p80_ms": 11.0, "gflops": gflops}


def main():
    cc = load(sys.argv[1], "compare_cpu")
    scratch = Path(sys.argv[2])
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    document = {"device": "cpu", "rows": [row(2, "f32", 1, 8, 2048, 64, False, 60.5),
                                          row(2, "f32", 1, 8, 2048, 64, True, 55.0),
                                          row(1, "bf16", 2, 16, 1024, 128, False, 40.0)]}
    rows = cc.read_flashjit_rows(document)
    expect(len(rows) == 3, "three rows read")

    for change, says in [(lambda d: d.pop("rows"), "no 'rows' list"),
                         (lambda d: d["rows"][1].pop("gflops"), "row 1: no field 'gflops'"),
                         (lambda d: d["rows"][0].update(cpu=False), "row 0: not a --cpu row"),
                         (lambda d: d["rows"][2].update(threads=0), "row 2: field 'threads' is not a positive"),
                         (lambda d: d["rows"][2].update(dtype="fp8"), "row 2: field 'dtype' is not f32"),
                         (lambda d: d["rows"][0].update(gflops=float("nan")), "row 0: field 'gflops' is not a positive"),
                         (lambda d: d.update(rows=[]), "no rows")]:
        bad = copy.deepcopy(document)
        change(bad)
        try:
            cc.read_flashjit_rows(bad)
            expect(False, f"malformed document accepted (expected {says!r})")
        except cc.BadRows as error:
            expect(says in str(error), f"message {str(error)!r} does not say {says!r}")

    sgemm = {(2, 1, 8, 2048, 64): 200.0, (1, 2, 16, 1024, 128): 100.0}
    sdpa = {(2, (1, 8, 2048, 64, "f32"), False): 50.0, (2, (1, 8, 2048, 64, "f32"), True): 110.0}
    table = cc.report(rows, sgemm, sdpa, "2.5.1").splitlines()
    expect(len(table) == 5, f"a header, a rule and 3 lines: {len(table)}")
    expect("PyTorch 2.5.1 SDPA" in table[0], "the header names the torch version")
    # 60.5 / 200 sgemm, / 50 torch, / 121 llama.cpp (issue 16's row at 2 threads, no mask).
    expect("| 200.0 | 50.0 | 121.0 | 60.5 | 0.30 | 1.21 | 0.50 |" in table[2], f"first row: {table[2]}")
    # Causal: no llama.cpp figure (the issue measured no mask only).
    expect("| 200.0 | 110.0 | - | 55.0 | 0.28 | 0.50 | - |" in table[3], f"causal row: {table[3]}")
    # One thread: no llama.cpp figure either, no torch number given.
    expect("| 100.0 | - | - | 40.0 | 0.40 | - | - |" in table[4], f"1-thread row: {table[4]}")

    rows_path = scratch / "rows.json"
    rows_path.write_text(json.dumps(document))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cc.main(["--rows", str(rows_path), "--no-peers", "--out", str(scratch / "out")])
    expect(rc == 0, f"--no-peers run returned {rc}")
    expect((scratch / "out" / "cpu.md").read_text().count("\n") == 5, "cpu.md holds the table")
    written = json.loads((scratch / "out" / "cpu.json").read_text())
    expect(len(written["rows"]) == 3 and written["sgemm"] == [], "cpu.json holds the rows and no peers")
    bad_path = scratch / "bad.json"
    bad_path.write_text(json.dumps({"rows": [{"cpu": True}]}))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cc.main(["--rows", str(bad_path), "--no-peers", "--out", str(scratch / "bad")])
    expect(rc == 2 and "row 0: no field 'threads'" in err.getvalue(), f"malformed rows refused: {err.getvalue()!r}")

    return summary("compare_cpu_check")


if __name__ == "__main__":
    sys.exit(main())
