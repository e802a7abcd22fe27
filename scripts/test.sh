#!/usr/bin/env bash
# The whole test suite on a fresh machine: install dependencies, build, run every test with CTest.
# GPU tests skip (saying why) where no GPU is usable.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
