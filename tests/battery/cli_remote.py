#!/usr/bin/env python3
"""The flashjit CLI and the fleet's remote tuning cache (issue 17), against a real redis-server this
script starts on a loopback port with a password: `warm --remote` on a build machine publishes,
`cache pull` and `push` sync a local cache with the counts of added, replaced, kept and rejected,
`cache stats --remote` and `doctor --remote` report the server; bad URLs, a missing or wrong fleet
key, a tampered entry and a server that went away are each refused or ignored with a message; and
the password appears in no output of any command. Run by CTest as battery/cli_remote; skips (exit
77) without redis-server unless FLASHJIT_REQUIRE_REDIS=1.

usage: cli_remote.py --flashjit PATH --work DIR
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

PASSWORD = "Cli-Remote-S3cret-Pass"
TIMEOUT_S = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, work):
        self.dir = os.path.join(work, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--requirepass", PASSWORD, "--dir", self.dir],
            stdout=open(os.path.join(self.dir, "log"), "w"), stderr=subprocess.STDOUT)
        for _ in range(200):
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise SystemExit("cli_remote: redis-server did not start: " + open(os.path.join(self.dir, "log")).read())

    def cli(self, *args):
        done = subprocess.run(["redis-cli", "-p", str(self.port), "-a", PASSWORD, "--no-auth-warning", "--raw"] +
                              list(args), capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    def stop(self):
        self.process.kill()
        self.process.wait()


class Checks:
    def __init__(self, flashjit, work):
        self.flashjit = flashjit
        self.work = work
        self.failures = []
        self.count = 0

    def run(self, args, env_extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHJIT_REMOTE_CACHE")}
        env.update(FLASHJIT_LOG="warning", FLASHJIT_CACHE_DIR=os.path.join(self.work, "default-cache"))
        env.update(env_extra or {})
        done = subprocess.run([self.flashjit] + args, capture_output=True, timeout=TIMEOUT_S, env=env)
        return done.returncode, done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")

    def check(self, name, args, expect_rc, says, env=None, not_says=()):
        self.count += 1
        rc, text = self.run(args, env)
        problems = []
        if rc != expect_rc:
            problems.append("exit status %d, expected %d" % (rc, expect_rc))
        for phrase in ([says] if isinstance(says, str) else says):
            if phrase.lower() not in text.lower():
                problems.append("output does not say %r" % phrase)
        for phrase in list(not_says) + [PASSWORD, PASSWORD[:10]]:
            if phrase in text:
                problems.append("output shows %r" % phrase)
        if problems:
            self.failures.append("%s: %s\n  %s\n  output: %s" % (name, "; ".join(problems), " ".join(args), text[-3000:]))
        return text


def rows(path):
    import sqlite3
    if not os.path.exists(path):
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flashjit", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        if os.environ.get("FLASHJIT_REQUIRE_REDIS") == "1":
            print("cli_remote: FLASHJIT_REQUIRE_REDIS=1 but redis-server or redis-cli is not installed")
            return 1
        print("cli_remote: skipped: redis-server is not installed (scripts/setup.sh installs it)")
        return 77
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    w = args.work
    c = Checks(args.flashjit, w)
    redis = Redis(w)
    url = "redis://127.0.0.1:%d" % redis.port
    for name, text in (("key", "fleet-key-of-the-cli-test-0123456789abcdef"),
                       ("other-key", "another-fleet-key-of-the-cli-test-987654321"),
                       ("password", PASSWORD), ("wrong-password", "Wrong-" + PASSWORD[6:])):
        with open(os.path.join(w, name), "w") as f:
            f.write(text + "\n")
        os.chmod(os.path.join(w, name), 0o600)
    manifest = os.path.join(w, "manifest.json")
    with open(manifest, "w") as f:
        json.dump({"version": 1, "problems": [
            {"dtype": "bf16", "head_dim": 64, "causal": True, "num_heads": 8, "batch": 1, "seqlen": [512, 4096]}]}, f)
    fleet = {"FLASHJIT_REMOTE_CACHE_KEY_FILE": os.path.join(w, "key"),
             "FLASHJIT_REMOTE_CACHE_PASSWORD_FILE": os.path.join(w, "password")}
    build, serving, other = (os.path.join(w, n + ".sqlite") for n in ("build", "serving", "other"))

    # ---- a build machine warms the fleet; a server pulls; pushes and pulls count what they did ----
    c.check("warm publishes", ["warm", manifest, "--arch", "sm_90", "--cache", build, "--remote", url], 0,
            ["(with a password)", "stored (untuned); published", "0 fetched, 2 published"], env=fleet)
    c.check("stats", ["cache", "stats", "--remote", url, "--cache", build], 0,
            ["2 entries (0 tuned)", "2 signed with this key", "local " + build], env=fleet)
    c.check("stats without a local cache", ["cache", "stats", "--remote", url, "--cache", os.path.join(w, "none.sqlite")],
            0, "2 entries", env=fleet)
    c.check("pull", ["cache", "pull", "--remote", url, "--cache", serving], 0,
            "2 added, 0 replaced, 0 kept, 0 rejected", env=fleet)
    c.check("pull again", ["cache", "pull", "--remote", url, "--cache", serving], 0,
            "0 added, 0 replaced, 2 kept, 0 rejected", env=fleet)
    c.check("push", ["cache", "push", "--remote", url, "--cache", serving], 0,
            "0 added, 0 replaced, 2 kept, 0 rejected", env=fleet)
    c.check("pull as json", ["cache", "pull", "--json", "--remote", url, "--cache", serving], 0, '"kept": 2', env=fleet)
    c.check("warm again finds them", ["warm", manifest, "--arch", "sm_90", "--cache", other, "--remote", url], 0,
            ["fetched from the remote cache and stored", "2 fetched, 0 published"], env=fleet)
    if rows(serving) != 2 or rows(other) != 2:
        c.failures.append("the pulled caches hold %d and %d entries, not 2" % (rows(serving), rows(other)))

    # ---- what must not be read ----
    c.check("another fleet key", ["cache", "pull", "--remote", url, "--cache", os.path.join(w, "k.sqlite")], 0,
            ["0 added", "2 rejected", "signed with another fleet key"],
            env=dict(fleet, FLASHJIT_REMOTE_CACHE_KEY_FILE=os.path.join(w, "other-key")))
    c.check("no fleet key", ["cache", "pull", "--remote", url, "--cache", os.path.join(w, "n.sqlite")], 1,
            "no fleet key", env={"FLASHJIT_REMOTE_CACHE_PASSWORD_FILE": os.path.join(w, "password")})
    if os.path.exists(os.path.join(w, "n.sqlite")):
        c.failures.append("a pull refused for want of a key created its local cache")
    c.check("push without a key", ["cache", "push", "--remote", url, "--cache", serving], 1, "no fleet key",
            env={"FLASHJIT_REMOTE_CACHE_PASSWORD_FILE": os.path.join(w, "password")})
    c.check("warm without a key", ["warm", manifest, "--arch", "sm_90", "--cache", os.path.join(w, "n2.sqlite"),
                                   "--remote", url], 2, "needs the fleet key",
            env={"FLASHJIT_REMOTE_CACHE_PASSWORD_FILE": os.path.join(w, "password")})
    keys = redis.cli("--scan", "--pattern", "flashjit:v1:entry:*").split("\n")
    redis.cli("HSET", keys[0], "signature", "0" * 64)
    c.check("a tampered entry", ["cache", "pull", "--remote", url, "--cache", os.path.join(w, "t.sqlite")], 0,
            ["1 added", "1 rejected", "its signature does not verify"], env=fleet)

    # ---- the password: in no output, whether right, wrong or in the URL ----
    c.check("doctor", ["doctor", "--remote", url], 1, ["Remote tuning cache: " + url + "/0 (with a password)",
                                                        "reachable: Redis"], env=fleet)
    c.check("doctor, wrong password", ["doctor", "--remote", url], 1, ["authentication failed", "WRONGPASS"],
            env=dict(fleet, FLASHJIT_REMOTE_CACHE_PASSWORD_FILE=os.path.join(w, "wrong-password")),
            not_says=["Wrong-"])
    url_with_password = "redis://:%s@127.0.0.1:%d" % (PASSWORD, redis.port)
    c.check("password in the URL", ["cache", "stats", "--remote", url_with_password, "--cache", build], 0,
            "(with a password)", env={"FLASHJIT_REMOTE_CACHE_KEY_FILE": os.path.join(w, "key")})
    c.check("password in the URL, environment", ["doctor"], 1, "reachable",
            env={"FLASHJIT_REMOTE_CACHE": url_with_password,
                 "FLASHJIT_REMOTE_CACHE_KEY_FILE": os.path.join(w, "key")})

    # ---- bad values: refused before any cache is touched, the URL never echoed ----
    for bad, says in (("http://cache:6379", "must start with redis:// or unix://"),
                      ("redis://:%s@cache:99999" % PASSWORD, "the port is not a number"),
                      ("rediss://:%s@cache" % PASSWORD, "TLS"),
                      ("redis://user:%s@" % PASSWORD, "the host is missing")):
        fresh = os.path.join(w, "bad-%d.sqlite" % c.count)
        for command in (["cache", "pull"], ["cache", "push"], ["cache", "stats"]):
            c.check("bad url " + bad, command + ["--remote", bad, "--cache", fresh], 2, says, env=fleet)
        c.check("warm, bad url " + bad, ["warm", manifest, "--arch", "sm_90", "--remote", bad, "--cache", fresh], 2,
                says, env=fleet)
        if os.path.exists(fresh):
            c.failures.append("a bad --remote created " + fresh)
    c.check("push without a remote", ["cache", "push", "--cache", build], 2, "give the remote tuning cache")
    c.check("missing key file", ["cache", "pull", "--remote", url, "--cache", serving], 2,
            "the fleet key file: cannot read", env=dict(fleet, FLASHJIT_REMOTE_CACHE_KEY_FILE=os.path.join(w, "absent")))
    c.check("remote on list", ["cache", "list", "--remote", url, "--cache", build], 2, "--remote is for push, pull and stats",
            env=fleet)

    # ---- a server that went away: warm goes on locally; push and pull say so ----
    redis.stop()
    c.check("warm, server down", ["warm", manifest, "--arch", "sm_90", "--cache", os.path.join(w, "down.sqlite"),
                                  "--remote", url], 0,
            ["remote tuning cache unavailable", "stored (untuned); not published", "unavailable 1 time"], env=fleet)
    if rows(os.path.join(w, "down.sqlite")) != 2:
        c.failures.append("warm with the server down did not store both problems locally")
    c.check("push, server down", ["cache", "push", "--remote", url, "--cache", serving], 1, ["stopped", "Connection refused"],
            env=fleet)
    c.check("pull, server down", ["cache", "pull", "--remote", url, "--cache", serving], 1, "Connection refused", env=fleet)

    for failure in c.failures:
        print("FAILED " + failure)
    print("cli_remote: %d checks, %d failed" % (c.count, len(c.failures)))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
