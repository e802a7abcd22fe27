#!/usr/bin/env bash
# Copies what the GPU host needs from a Release build into a small folder (no object files):
# the flashjit tool, the GPU and unit test executables and libflashjit.
# Usage: scripts/pack_gpu_build.sh BUILD_DIR DEST_DIR
set -euo pipefail
build="${1:?build folder}"
dest="${2:?destination folder}"
rm -rf "$dest"
mkdir -p "$dest/tools" "$dest/tests"
cp "$build/tools/flashjit" "$dest/tools/"
cp "$build/tests/flashjit_gpu_tests" "$dest/tests/"
cp -P "$build"/libflashjit.so* "$dest/"
strip --strip-unneeded "$dest/tools/flashjit" "$dest/tests/flashjit_gpu_tests" 2>/dev/null || true
du -sh "$dest"
