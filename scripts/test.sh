#!/usr/bin/env bash
# The whole test suite on a fresh machine: install dependencies, build, run every test with CTest,
# then the sanitizer jobs: the host-code (unit) tests built and run again under ASan+UBSan and under
# TSan. GPU tests skip (saying why) where no GPU is usable.
#
#   scripts/test.sh                                 all of it (what CI runs)
#   scripts/test.sh --sanitize none                 the suite without the sanitizer jobs
#   scripts/test.sh --sanitize address,undefined    one sanitizer job alone (build-asan/)
#   scripts/test.sh --sanitize thread               one sanitizer job alone (build-tsan/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The tests that compile with the older NVRTCs scripts/setup.sh installs (12.9 and 11.8, for
# sm_50..sm_72) skip where they are missing; here they must run, so a missing one fails them.
export FLASHJIT_REQUIRE_OLD_NVRTC=1
# The remote tuning cache's tests start a redis-server (setup.sh installs it): missing, they fail.
export FLASHJIT_REQUIRE_REDIS=1

usage() {
  echo "usage: scripts/test.sh [--sanitize address,undefined|thread|none]" >&2
  exit 2
}

jobs=(suite address,undefined thread)
if [ $# -gt 0 ]; then
  [ $# -eq 2 ] && [ "$1" = "--sanitize" ] || usage
  case "$2" in
    none) jobs=(suite) ;;
    address,undefined|thread) jobs=("$2") ;;
    *) echo "test.sh: --sanitize takes address,undefined, thread or none, not '$2'" >&2; usage ;;
  esac
fi

run_suite() {
  "$root/scripts/build.sh" "$root/build"
  (cd "$root/build" && ctest --output-on-failure -j "$(nproc)" --timeout 600)
}

# The host-code tests (label unit, and the fuzz replay, label host), built with the sanitizers in a
# tree of their own; a sanitizer build defines no other test (tests/CMakeLists.txt), and only their
# executables are built. A finding stops its test at once and fails it (UBSan is built not to
# recover: cmake/sanitizers.cmake).
run_sanitizer_job() {
  local sanitize="$1" build
  case "$sanitize" in
    address,undefined) build="$root/build-asan" ;;
    thread) build="$root/build-tsan" ;;
  esac
  echo "test.sh: the unit tests under -fsanitize=$sanitize, in $build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFLASHJIT_SANITIZE="$sanitize" >/dev/null
  cmake --build "$build" -j "$(nproc)" --target flashjit_unit_tests flashjit_block_kernels_check flashjit_fuzz_replay \
    flashjit_fuzz_make_seeds
  (cd "$build" &&
   ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1" \
   UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
   TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
   ctest -L 'unit|host' --output-on-failure -j "$(nproc)" --timeout 600)
}

"$root/scripts/setup.sh"
for job in "${jobs[@]}"; do
  if [ "$job" = suite ]; then
    run_suite
  else
    run_sanitizer_job "$job"
  fi
done
