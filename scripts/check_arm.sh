#!/usr/bin/env bash
# The CPU backend's portable block kernels built for AArch64 (NEON) with the cross compiler and run
# under qemu-user against double arithmetic (tests/kernels_check/block_kernels_check.cpp): the Arm
# build of the kernels, checked on this x86 machine. The kernels are the only per-architecture code
# of the CPU backend; the walks around them are the same C++ on every target.
#   scripts/check_arm.sh [build-dir]      (default: build/aarch64)
# Needs aarch64-linux-gnu-g++ and qemu-aarch64 (scripts/setup.sh installs both).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build/aarch64}"
mkdir -p "$out"
aarch64-linux-gnu-g++ -std=c++17 -O3 -fno-trapping-math -DFLASHJIT_KERNELS_CHECK_PORTABLE_ONLY \
  -I"$root" -I"$root/include" \
  "$root/tests/kernels_check/block_kernels_check.cpp" "$root/runtime/cpu/block_kernels.cpp" \
  "$root/support/numeric.cpp" -static -o "$out/block_kernels_check"
# The binary is static: qemu needs no AArch64 libraries.
qemu-aarch64 "$out/block_kernels_check"
