#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build, and run attention for the default
# problem (on the GPU when one is usable; otherwise the JIT compile check and the CPU backend).
# Extra arguments go to `flashjit run` (see `build/tools/flashjit run --help`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build"
"$root/build/tools/flashjit" doctor || true   # exit 1 only says "no usable GPU"; run still works
exec "$root/build/tools/flashjit" run "$@"
