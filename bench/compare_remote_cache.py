#!/usr/bin/env python3
"""The fleet's remote tuning cache beside Triton's (issue 17), in one run on this machine.

Starts a private redis-server on a loopback port, runs flashjit_remote_cache_bench against it (a
first call served by a local SQLite hit, and by a remote hit on an empty local cache: connect,
fetch, verify the HMAC signature, the cubin's SHA-256 and the entry, store locally), then does what
Triton's RedisRemoteCacheBackend does on a hit, with the same kernel's bytes: a new redis-py client,
one MGET of the kernel's files (the cubin and its metadata JSON, under Triton's default key format
"triton:{key}:{filename}"), each written to a local cache directory. Triton verifies nothing it
fetches (no signature, no hash), and its client is Python; both are what a user of it gets.

usage: compare_remote_cache.py --bench build/flashjit_remote_cache_bench [--runs 40]
Needs redis-server (scripts/setup.sh) and redis-py (scripts/setup.sh --bench puts it in .tools/redis-py).
"""
import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".tools", "redis-py"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", required=True, help="path of flashjit_remote_cache_bench")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    try:
        import redis
    except ImportError:
        sys.exit("compare_remote_cache: redis-py is missing: scripts/setup.sh --bench installs it into .tools/redis-py")
    work = tempfile.mkdtemp(prefix="flashjit-remote-compare-")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", work], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        url = "redis://127.0.0.1:%d" % port
        env = dict(os.environ, FLASHJIT_LOG="error")
        flashjit = subprocess.run([args.bench, url], capture_output=True, text=True, env=env, timeout=600)
        if flashjit.returncode != 0:
            sys.exit("compare_remote_cache: the bench failed:\n" + flashjit.stdout + flashjit.stderr)
        print(flashjit.stdout.rstrip())

        # The same kernel's bytes, as Triton would hold them: its cubin and a metadata file.
        key = next(k for k in client.scan_iter("flashjit:v1:entry:*"))
        entry = json.loads(client.hget(key, "entry"))
        cubin = base64.b64decode(entry["cubin_base64"])
        metadata = json.dumps({"name": entry["kernel_symbol"], "spec": entry["spec"], "num_warps": 12,
                               "shared": 200000, "target": {"backend": "cuda", "arch": 90}}).encode()
        files = {"kernel.cubin": cubin, "kernel.json": metadata}
        triton_key = "2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5d6e7f80912a3b4c5d6e7f8091a"
        client.mset({"triton:%s:%s" % (triton_key, name): data for name, data in files.items()})
        times = []
        for run in range(args.runs):
            directory = os.path.join(work, "triton-cache-%d" % run, triton_key)
            os.makedirs(directory)
            start = time.perf_counter()
            fresh = redis.Redis(host="127.0.0.1", port=port)  # a new process's client
            names = list(files)
            values = fresh.mget(["triton:%s:%s" % (triton_key, name) for name in names])
            for name, value in zip(names, values):
                with open(os.path.join(directory, name), "wb") as f:
                    f.write(value)
            fresh.close()
            times.append((time.perf_counter() - start) * 1000.0)
        times.sort()
        print("Triton-style remote hit (redis-py: connect, MGET %d KiB of files, write them; nothing verified): "
              "median %.2f ms (p20 %.2f, p80 %.2f) over %d runs"
              % (sum(len(v) for v in files.values()) // 1024, statistics.median(times), times[len(times) // 5],
                 times[len(times) * 4 // 5], args.runs))
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
