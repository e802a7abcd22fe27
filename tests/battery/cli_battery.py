#!/usr/bin/env python3
"""The battery of bad inputs, faults and concurrent runs against the flashjit CLI (issue 12).

Each case runs one command the way a new user or a hostile file would and asserts:
  - it ends by itself (a timeout is a hang) with an exit status below 128 (no abort, no signal);
  - the status is the expected one (non-zero for what must be refused);
  - its output names what was wrong (a substring per case, checked case-insensitively);
  - the tuning cache is unchanged, or exactly what a success leaves (compared row by row: every
    key field, spec, symbol, SHA-256 and the cubin bytes' hash, so a set-aside file counts).
Run by CTest as battery/cli; prints how many inputs of each kind were tried.

usage: cli_battery.py --flashjit PATH --work DIR
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading

TIMEOUT_S = 120


class Battery:
    def __init__(self, flashjit, work):
        self.flashjit = flashjit
        self.work = work
        self.kinds = {}
        self.failures = []
        self.case_number = 0

    # ---- running one case ----

    def run(self, args, stdin=None, env_extra=None, memory_limit=None):
        env = dict(os.environ, FLASHJIT_LOG="warning", FLASHJIT_CACHE_DIR=os.path.join(self.work, "default-cache"))
        env.update(env_extra or {})

        def limit_memory():
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

        try:
            done = subprocess.run([self.flashjit] + args, input=stdin, capture_output=True, timeout=TIMEOUT_S,
                                  env=env, preexec_fn=limit_memory if memory_limit else None)
        except subprocess.TimeoutExpired:
            return None, ""
        text = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
        return done.returncode, text

    def check(self, kind, name, args, expect_rc, says, cache=None, cache_after=None, stdin=None, memory_limit=None,
              env=None):
        """cache: a database whose rows must be as `cache_after` (default: as before) afterwards.
        memory_limit: bytes of address space the command may use (RLIMIT_AS). env: variables set for it."""
        self.case_number += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        before = rows_of(cache) if cache else None
        rc, text = self.run(args, stdin=stdin, env_extra=env, memory_limit=memory_limit)
        problems = []
        if rc is None:
            problems.append("hung (no exit within %d s)" % TIMEOUT_S)
        else:
            if rc < 0 or rc >= 128:
                problems.append("died with status %d" % rc)
            if expect_rc == "nonzero" and rc == 0:
                problems.append("succeeded, but must be refused")
            if isinstance(expect_rc, int) and rc != expect_rc:
                problems.append("exit status %d, expected %d" % (rc, expect_rc))
            for phrase in ([says] if isinstance(says, str) else says):
                if phrase.lower() not in text.lower():
                    problems.append("output does not say %r" % phrase)
            if len(text) > 20000:
                problems.append("printed %d bytes (a bad value echoed whole?)" % len(text))
        if cache:
            after = rows_of(cache)
            wanted = before if cache_after is None else cache_after
            if after != wanted:
                problems.append("the cache changed: %d rows before, %d after, %d wanted" %
                                (len(before or []), len(after or []), len(wanted or [])))
        if problems:
            self.failures.append("%s / %s: %s\n    command: flashjit %s\n    output: %s" %
                                 (kind, name, "; ".join(problems), " ".join(a[:80] for a in args), text[:600]))

    def scratch(self, name):
        path = os.path.join(self.work, "case-%d-%s" % (self.case_number, name))
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path


def rows_of(database):
    """Every row of the cache as comparable tuples; None when there is no readable cache there."""
    if not os.path.isfile(database):
        return None
    try:
        connection = sqlite3.connect("file:%s?mode=ro" % database, uri=True)
        rows = connection.execute(
            "SELECT e.device_name, e.compute_capability, e.sm_count, e.driver_version, e.nvrtc_version, "
            "e.generator_hash, e.compile_options, e.problem_key, e.spec_json, e.kernel_symbol, e.cubin_sha256, "
            "e.tuned, c.bytes FROM entries e LEFT JOIN cubins c ON c.entry_id = e.id ORDER BY e.problem_key").fetchall()
        connection.close()
    except sqlite3.Error as error:
        return ("unreadable", str(error))
    return [row[:-1] + (hashlib.sha256(row[-1] or b"").hexdigest(),) for row in rows]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def manifest(problems, version=1):
    return json.dumps({"version": version, "problems": problems})


# ---- the cases ----------------------------------------------------------------------------------

def command_line_cases(b):
    sizes = [("--seqlen", "-5"), ("--seqlen", "2147483647"), ("--seqlen", "1e9"),
             ("--seqlen", ""), ("--batch", "-1"), ("--batch", "99999999999"), ("--heads", "0"),
             ("--heads", "-3"), ("--kv-heads", "-1"), ("--head-dim", "-8"), ("--head-dim", "100000"),
             ("--head-dim", "60"), ("--seqlen-k", "-2"), ("--iterations", "-3"), ("--iterations", "0")]
    for option, value in sizes:
        b.check("option value", option + "=" + value, ["run", "--cpu", option + "=" + value], "nonzero",
                "head_dim" if option == "--head-dim" else option)
    b.check("option value", "huge problem", ["run", "--cpu", "--batch", "65535", "--heads", "65535", "--seqlen",
                                             "16777216"], "nonzero", "bytes")
    for option, value in [("--max-candidates", "-1"), ("--budget-ms", "-1"), ("--budget-ms", "nan"),
                          ("--budget-ms", "inf")]:
        b.check("option value", option + "=" + value, ["tune", option + "=" + value], "nonzero", option)
    for value in ["half", "f16\x01", "x" * 5000, "bf16 "]:
        b.check("option value", "dtype %r" % value[:10], ["run", "--cpu", "--dtype", value], "nonzero", "dtype")
    b.check("option value", "long dtype is cut", ["emit", "--dtype", "y" * 100000], "nonzero", "bytes)")
    for value in ["sm_", "sm_abc", "sm_9999999999", "compute_90", "sm_90\x02"]:
        b.check("option value", "arch %r" % value, ["warm", os.path.join(b.work, "one.json"), "--arch", value],
                "nonzero", "arch")
    # Issue 14's ragged batch and score modifiers, on every command that takes them.
    modifiers = [(["--window", "3"], "--window"), (["--window", "-2,0"], "--window"), (["--window", "-1,-1"], "--window"),
                 (["--window", "1," + "9" * 30], "--window"), (["--window", ""], "--window"),
                 (["--softcap", "0"], "--softcap"), (["--softcap", "-5"], "--softcap"), (["--softcap", "nan"], "--softcap"),
                 (["--softcap", "inf"], "--softcap"), (["--softcap", "1e999"], "--softcap"), (["--softcap", "x"], "--softcap"),
                 (["--varlen", ""], "--varlen"), (["--varlen", "4,x"], "--varlen"), (["--varlen", "0,0"], "--varlen"),
                 (["--varlen", "-3"], "--varlen"), (["--varlen", "99999999999"], "--varlen"),
                 (["--varlen", ",".join(["1"] * 5000) + ",x"], "--varlen"),
                 (["--varlen-k", "4"], "--varlen-k"), (["--varlen", "4,5", "--varlen-k", "4"], "--varlen-k"),
                 (["--varlen", "4", "--varlen-random", "2,1"], "--varlen-random"),
                 (["--varlen-random", "2"], "--varlen-random"), (["--varlen-random", "0,1"], "--varlen-random"),
                 (["--varlen-random", "2,-1"], "--varlen-random"), (["--varlen-random", "x,y"], "--varlen-random"),
                 # Issue 15's KV cache options.
                 (["--page-size", "12"], "--page-size"), (["--page-size", "0"], "--page-size"),
                 (["--page-size", "-16"], "--page-size"), (["--page-size", "4194304"], "--page-size"),
                 (["--page-size", "x"], "--page-size"), (["--append", "0"], "--append"),
                 (["--append", "-1"], "--append"), (["--append", "x"], "--append")]
    for extra, says in modifiers:
        # bench takes no KV cache options (its --decode sweep has its own page sizes).
        kv_option = extra[0] in ("--page-size", "--append")
        for command in (["run", "--cpu"], ["emit"]) + (() if kv_option else (["bench"],)):
            b.check("option value", " ".join(command[:1] + [e[:20] for e in extra]), command + extra, "nonzero", says)
    for extra, says in [(["--varlen", "4,5", "--batch", "2"], "--batch"), (["--varlen", "4,5", "--seqlen", "9"], "--seqlen"),
                        (["--varlen-random", "3,1", "--seqlen-k", "9"], "--seqlen-k")]:
        b.check("option value", "run " + " ".join(extra), ["run", "--cpu"] + extra, "nonzero", says)
    for extra, says in [(["--varlen-fill", "x"], "--varlen-fill"), (["--varlen-fill", "1", "--varlen", "3"], "--varlen-fill"),
                        (["--varlen", "3", "--seqlens", "5"], "--seqlens")]:
        b.check("option value", "bench " + " ".join(extra), ["bench"] + extra, 2, says)
    # Issue 16's CPU sweep: its worker counts, and the GPU sweep's options it refuses.
    for extra, says in [(["--cpu", "--threads", "0"], "--threads"), (["--cpu", "--threads", "-2"], "--threads"),
                        (["--cpu", "--threads", "x"], "--threads"), (["--cpu", "--threads", ""], "--threads"),
                        (["--cpu", "--threads", "99999999999"], "--threads"), (["--threads", "2"], "--threads"),
                        (["--cpu", "--seqlens", "5"], "--seqlens"), (["--cpu", "--variant", "generic"], "--variant"),
                        (["--cpu", "--decode"], "--decode"), (["--cpu", "--varlen", "3,4"], "ragged"),
                        (["--cpu", "--iterations", "0"], "--iterations")]:
        b.check("option value", "bench " + " ".join(extra), ["bench"] + extra, 2, says)
    # The CPU backend's instruction set from the environment (issue 16): a name that is not one is
    # refused by name (quoted, cut when long), before anything runs; doctor reports it and goes on.
    for value in ["bogus", "AVX512", "avx512 ", " portable", "avx2\x01", "x" * 5000, "avx512_bf16_extra"]:
        b.check("environment", "FLASHJIT_CPU_ISA %r" % value[:20], ["run", "--cpu", "--seqlen", "64"], "nonzero",
                "cpu_isa", env={"FLASHJIT_CPU_ISA": value})
        b.check("environment", "bench FLASHJIT_CPU_ISA %r" % value[:20], ["bench", "--cpu", "--iterations", "1"],
                "nonzero", "cpu_isa", env={"FLASHJIT_CPU_ISA": value})
    b.check("environment", "doctor FLASHJIT_CPU_ISA bogus", ["doctor"], "nonzero", "FLASHJIT_CPU_ISA",
            env={"FLASHJIT_CPU_ISA": "bogus"})
    b.check("environment", "FLASHJIT_CPU_ISA portable", ["run", "--cpu", "--seqlen", "64"], 0,
            "portable kernels (forced by cpu_isa)", env={"FLASHJIT_CPU_ISA": "portable"})
    b.check("option value", "huge ragged problem", ["run", "--cpu", "--heads", "65535", "--varlen",
                                                    ",".join(["16777216"] * 8)], "nonzero", "bytes")
    b.check("option value", "unknown option", ["run", "--frobnicate"], "nonzero", "frobnicate")
    b.check("option value", "unknown command", ["frobnicate"], "nonzero", "frobnicate")
    for verb in ["frobnicate", "show", "export", "import", "remove\x01"]:
        b.check("option value", "cache verb %r" % verb, ["cache", verb, "--cache", os.path.join(b.work, "none.sqlite")],
                "nonzero", "")


def input_file_cases(b, base_cache):
    """Files given to warm and cache import: what they are and what they hold."""
    d = b.scratch("inputs")
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    files = {
        "missing file": (os.path.join(d, "missing.json"), ["no such file"]),
        "directory": (d, ["directory"]),
        "/dev/zero": ("/dev/zero", ["character device"]),
        "fifo": (fifo, ["fifo"]),
        "empty file": (write(os.path.join(d, "empty.json"), b""), ["json"]),
        "binary file": (write(os.path.join(d, "binary.json"), bytes(range(256)) * 8), ["json"]),
        "truncated": (write(os.path.join(d, "truncated.json"), manifest([{"dtype": "f16"}])[:20]), ["json"]),
        "deep nesting": (write(os.path.join(d, "deep.json"), '{"version": ' + "[" * 100000 + "]" * 100000 + "}"),
                         ["nest"]),
        "utf-16": (write(os.path.join(d, "utf16.json"), manifest([]).encode("utf-16")), ["json"]),
    }
    for name, (path, says) in files.items():
        b.check("input file", "warm " + name, ["warm", path, "--arch", "sm_75", "--cache",
                                               os.path.join(d, "warm.sqlite")], "nonzero", says)
        cache = os.path.join(d, "import-%d.sqlite" % b.case_number)
        shutil.copy(base_cache, cache)
        b.check("input file", "import " + name, ["cache", "import", path, "--cache", cache], "nonzero", says,
                cache=cache)
    big = write(os.path.join(d, "big.json"), b" " * (2 << 20) + manifest([]).encode())
    b.check("input file", "over the limit", ["warm", big, "--arch", "sm_75", "--max-input-bytes", "1048576",
                                             "--cache", os.path.join(d, "w.sqlite")], "nonzero", "1048576")
    # Within the byte limit but not within the process's memory: a 200 MB string value read (200 MB)
    # and parsed (200 MB more) under a 300 MB address-space limit. Out of memory is a message and
    # EX_OSERR (71), not LLVM's abort.
    huge = os.path.join(d, "huge-string.json")
    with open(huge, "wb") as out:
        out.write(b'{"format": "')
        out.write(b"a" * (200 << 20))
        out.write(b'"}')
    cache = os.path.join(d, "import-oom.sqlite")
    shutil.copy(base_cache, cache)
    b.check("input file", "import out of memory", ["cache", "import", huge, "--cache", cache], 71, "out of memory",
            cache=cache, memory_limit=300 << 20)
    os.remove(huge)


def manifest_cases(b):
    d = b.scratch("manifests")
    good = {"dtype": "f16", "head_dim": 64, "seqlen": 128}
    bad_entries = [
        ("dtype number", dict(good, dtype=16), "dtype"),
        ("dtype unknown", dict(good, dtype="f8"), "dtype"),
        ("dtype huge", dict(good, dtype="z" * (1 << 20)), "bytes)"),
        ("head_dim string", dict(good, head_dim="64"), "head_dim"),
        ("head_dim negative", dict(good, head_dim=-64), "head_dim"),
        ("head_dim huge", dict(good, head_dim=2 ** 64), "head_dim"),
        ("head_dim float", dict(good, head_dim=64.5), "head_dim"),
        ("seqlen zero", dict(good, seqlen=0), "seqlen"),
        ("seqlen negative list", dict(good, seqlen=[128, -1]), "seqlen"),
        ("seqlen huge", dict(good, seqlen=2 ** 40), "seqlen"),
        ("seqlen empty list", dict(good, seqlen=[]), "seqlen"),
        ("batch negative", dict(good, batch=-4), "batch"),
        ("num_heads zero", dict(good, num_heads=0), "num_heads"),
        ("kv heads not dividing", dict(good, num_heads=6, num_kv_heads=4), "num_kv_heads"),
        ("causal string", dict(good, causal="yes"), "causal"),
        ("window number", dict(good, window=16), "window"),
        ("window one bound", dict(good, window=[16]), "window"),
        ("window three bounds", dict(good, window=[1, 2, 3]), "window"),
        ("window below -1", dict(good, window=[-2, 0]), "window[0]"),
        ("window huge", dict(good, window=[0, 2 ** 40]), "window[1]"),
        ("window string", dict(good, window=["16", 0]), "window[0]"),
        ("window unbounded", dict(good, window=[-1, -1]), "window"),
        ("softcap zero", dict(good, softcap=0), "softcap"),
        ("softcap negative", dict(good, softcap=-1.5), "softcap"),
        ("softcap string", dict(good, softcap="50"), "softcap"),
        ("softcap huge", dict(good, softcap=1e300), "softcap"),
        ("alibi number", dict(good, alibi=1), "alibi"),
        ("varlen string", dict(good, varlen="yes"), "varlen"),
        ("kv_cache number", dict(good, kv_cache=1), "kv_cache"),
        ("page_size not a power of two", dict(good, page_size=12), "page_size"),
        ("page_size zero", dict(good, page_size=0), "page_size"),
        ("page_size huge", dict(good, page_size=2 ** 40), "page_size"),
        ("append string", dict(good, append="2"), "append"),
        ("append past the keys", dict(good, append=2 ** 25), "append"),
        ("seqlen_q zero", dict(good, seqlen_q=0), "seqlen_q"),
        ("unknown field", dict(good, colour="blue"), "colour"),
        ("NUL in a field name", dict([("dt\x00ype", "f16")] + list(good.items())), "\\x00"),
        ("null entry", None, "problem"),
        ("list entry", [1, 2], "problem"),
    ]
    for name, entry, says in bad_entries:
        path = write(os.path.join(d, "m%d.json" % b.case_number), manifest([entry]))
        b.check("manifest", name, ["warm", path, "--arch", "sm_75", "--cache", os.path.join(d, "c.sqlite")],
                "nonzero", says)
    for name, text, says in [("version 2", manifest([good], 2), "version"),
                             ("version string", manifest([good], "1"), "version"),
                             ("version huge", manifest([good], 10 ** 30), "version"),
                             ("no problems", json.dumps({"version": 1}), "problems"),
                             ("problems an object", json.dumps({"version": 1, "problems": {}}), "problems"),
                             ("top-level list", "[]", "object"),
                             ("trailing garbage", manifest([good]) + "}", "json"),
                             ("duplicate keys", '{"version": 1, "version": 2, "problems": []}', "version")]:
        path = write(os.path.join(d, "t%d.json" % b.case_number), text)
        b.check("manifest", name, ["warm", path, "--arch", "sm_75", "--cache", os.path.join(d, "c.sqlite")],
                "nonzero", says)


def import_document_cases(b, base_cache, export_path):
    d = b.scratch("imports")
    document = json.load(open(export_path))
    entry = document["entries"][0]

    def altered(change):
        copy = json.loads(json.dumps(document))
        change(copy)
        return json.dumps(copy)

    def set_entry(field, value):
        def change(doc):
            if value is None:
                del doc["entries"][0][field]
            else:
                doc["entries"][0][field] = value
        return change

    def with_cubin(data):
        import base64
        return lambda doc: doc["entries"][0].update(cubin_base64=base64.b64encode(data).decode(),
                                                    cubin_sha256=hashlib.sha256(data).hexdigest())

    spec_other_head_dim = dict(entry["spec"], head_dim=128)
    cases = [
        ("format", lambda doc: doc.update(format="something else"), "format"),
        ("format_version", lambda doc: doc.update(format_version=2), "format_version"),
        ("entries an object", lambda doc: doc.update(entries={}), "entries"),
        ("entry a number", lambda doc: doc["entries"].__setitem__(0, 17), "entry 0"),
        ("spec for another head dim", set_entry("spec", spec_other_head_dim), "spec is a kernel for"),
        ("spec for another arch", set_entry("spec", dict(entry["spec"], target="sm_80")), "sm_80"),
        ("spec with huge tiles", set_entry("spec", dict(entry["spec"], block_m=2 ** 30)), "entry 0"),
        ("spec with negative warps", set_entry("spec", dict(entry["spec"], warps=-4)), "entry 0"),
        ("spec a list", set_entry("spec", [1, 2]), "spec"),
        ("problem key unparsable", set_entry("problem_key", "f16_d64_none_gqa1_len128_extra"), "problem key"),
        ("problem key of another problem", set_entry("problem_key", "f16_d128_none_gqa1_len128"), "spec is a kernel for"),
        ("compute capability huge", set_entry("compute_capability", 10 ** 12), "compute_capability"),
        ("compute capability other", set_entry("compute_capability", 80), "compute capability"),
        ("device name with control bytes", set_entry("device_name", "GPU\u0007\u0000"), "device_name"),
        ("device name huge", set_entry("device_name", "G" * 100000), "device_name"),
        ("sha256 of other bytes", set_entry("cubin_sha256", hashlib.sha256(b"x").hexdigest()), "cubin_sha256"),
        ("cubin not base64", set_entry("cubin_base64", "!!!!"), "cubin_base64"),
        ("cubin a shell script", with_cubin(b"#!/bin/sh\nrm -rf /\n"), "not an ELF"),
        ("cubin an x86 ELF", with_cubin(b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + b"\x00" * 44),
         "machine 62"),
        ("cubin truncated", lambda doc: with_cubin(__import__("base64").b64decode(entry["cubin_base64"])[:100])(doc),
         "cubin"),
        ("symbol missing from cubin", set_entry("kernel_symbol", "_Z5otherv"), "no kernel named"),
        ("timing negative", set_entry("median_ms", -1), "median_ms"),
        ("tuned a string", set_entry("tuned", "yes"), "tuned"),
        ("field missing", set_entry("generator_hash", None), "generator_hash"),
        ("unknown field", set_entry("colour", "blue"), "colour"),
    ]
    for name, change, says in cases:
        path = write(os.path.join(d, "doc%d.json" % b.case_number), altered(change))
        cache = os.path.join(d, "c%d.sqlite" % b.case_number)
        shutil.copy(base_cache, cache)
        b.check("import document", name, ["cache", "import", path, "--cache", cache], "nonzero", says, cache=cache)
    # The good document imports, and importing it twice changes nothing the second time.
    cache = os.path.join(d, "fresh.sqlite")
    b.check("import document", "the export itself", ["cache", "import", export_path, "--cache", cache], 0, "",
            cache=cache, cache_after=rows_of(base_cache))
    b.check("import document", "the export again", ["cache", "import", export_path, "--cache", cache], 0, "",
            cache=cache)


def cache_file_cases(b, base_cache):
    d = b.scratch("cache-files")
    original = open(base_cache, "rb").read()
    size = len(original)
    damaged = {
        "empty file": b"",
        "garbage": bytes((i * 131 + 7) & 0xff for i in range(8192)),
        "truncated to half": original[: size // 2],
        "truncated to 100 bytes": original[:100],
        "header zeroed": b"\x00" * 100 + original[100:],
    }
    for offset in [20, 28, 60, 100, 4096, 4096 + 8, size // 2, size - 10]:
        flipped = bytearray(original)
        flipped[offset] ^= 0xff
        damaged["bit flip at %d" % offset] = bytes(flipped)
    for name, data in damaged.items():
        for verb in [["list"], ["show", "1"], ["verify"], ["export", os.path.join(d, "out.json")]]:
            path = write(os.path.join(d, "c%d.sqlite" % b.case_number), data)
            # Whatever a damaged file yields, it ends by itself below 128, and what only reads a cache
            # never moves or rewrites it.
            b.check("cache file", "%s %s" % (verb[0], name), ["cache"] + verb + ["--cache", path], "any", "")
            if open(path, "rb").read() != data:
                b.failures.append("cache file / %s %s: the file was changed or moved by a reading command" %
                                  (verb[0], name))
        # A damaged file is never used as is by a command that writes: it is set aside with a warning.
        path = write(os.path.join(d, "w%d.sqlite" % b.case_number), data)
        b.check("cache file", "import into " + name, ["cache", "import", os.path.join(b.work, "base.json"),
                                                      "--cache", path], "any", "")
    b.check("cache file", "cache path a directory", ["cache", "list", "--cache", d], "nonzero", "")
    missing = os.path.join(d, "no", "such", "dir", "c.sqlite")
    for verb in ["list", "verify"]:
        b.check("cache file", verb + " a mistyped path", ["cache", verb, "--cache", missing], "nonzero",
                "no tuning cache at")
    if os.path.exists(os.path.join(d, "no")):
        b.failures.append("cache file / mistyped path: a read-only command created directories")
    # Rows tampered in place: read commands report, never abort.
    tampered = os.path.join(d, "tampered.sqlite")
    shutil.copy(base_cache, tampered)
    connection = sqlite3.connect(tampered)
    connection.execute("UPDATE entries SET spec_json = '[1, 2]'")
    connection.commit()
    connection.close()
    for verb in [["list"], ["show", "1"], ["list", "--json"]]:
        b.check("cache file", "tampered spec, " + " ".join(verb), ["cache"] + verb + ["--cache", tampered], 0, "")
    b.check("cache file", "tampered spec, verify", ["cache", "verify", "--json", "--cache", tampered], 1,
            '"ok": false')


def concurrent_cases(b, export_path):
    d = b.scratch("concurrent")
    cache = os.path.join(d, "shared.sqlite")
    results = []

    def importer():
        results.append(b.run(["cache", "import", export_path, "--cache", cache]))

    threads = [threading.Thread(target=importer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b.kinds["concurrent"] = b.kinds.get("concurrent", 0) + len(threads)
    for rc, text in results:
        if rc != 0:
            b.failures.append("concurrent / import: status %s: %s" % (rc, text[:400]))
    expected = rows_of(os.path.join(b.work, "base.sqlite"))
    if rows_of(cache) != expected:
        b.failures.append("concurrent / import: the cache does not hold each entry exactly once")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flashjit", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    b = Battery(os.path.abspath(args.flashjit), os.path.abspath(args.work))

    # One real cache to damage and to import from: a compile-only warm of one small problem.
    base_cache = os.path.join(b.work, "base.sqlite")
    base_manifest = write(os.path.join(b.work, "one.json"),
                          manifest([{"dtype": "f16", "head_dim": 64, "seqlen": 128}]))
    rc, text = b.run(["warm", base_manifest, "--arch", "sm_75", "--cache", base_cache])
    if rc != 0:
        sys.exit("battery: cannot build the base cache: " + text)
    export_path = os.path.join(b.work, "base.json")
    rc, text = b.run(["cache", "export", export_path, "--cache", base_cache])
    if rc != 0:
        sys.exit("battery: cannot export the base cache: " + text)

    command_line_cases(b)
    input_file_cases(b, base_cache)
    manifest_cases(b)
    import_document_cases(b, base_cache, export_path)
    cache_file_cases(b, base_cache)
    concurrent_cases(b, export_path)

    total = sum(b.kinds.values())
    print("battery: %d inputs: %s" % (total, ", ".join("%d %s" % (n, k) for k, n in sorted(b.kinds.items()))))
    if b.failures:
        print("battery: %d wrong outcomes:" % len(b.failures))
        for failure in b.failures:
            print("  " + failure)
        sys.exit(1)
    print("battery: every input refused with a message or handled; nothing aborted, hung or changed the cache")


if __name__ == "__main__":
    main()
