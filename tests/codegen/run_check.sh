#!/usr/bin/env bash
# A tiny lit-like runner for the codegen tests: runs the `RUN:` lines of one .check file.
#
#   run_check.sh --flashjit=PATH --filecheck=PATH --not=PATH CHECK_FILE
#
# Substitutions in RUN lines (as in LLVM lit):
#   %flashjit   the flashjit binary under test
#   %FileCheck  LLVM FileCheck
#   %not        LLVM `not` (succeeds when the command fails, but not when it crashes)
#   %s          the check file itself (FileCheck reads its CHECK lines from there)
#   %S          the folder of the check file
#   %t          a scratch path unique to this run, for temporary files (%t.ptx, ...)
# A RUN line ending in `\` continues on the next RUN line. Each command runs with
# `bash -o pipefail -c`, so a failing flashjit on the left of `| %FileCheck` fails the line.
#
# `REQUIRES: no-gpu` skips the file (exit code 77, CTest's SKIP_RETURN_CODE) where a CUDA driver
# library can be loaded: those files pin the output of a machine without one.
# `REQUIRES: old-nvrtc` needs the older NVRTCs (12.9 and 11.8, for sm_50..sm_72) that
# FLASHJIT_TEST_OLD_NVRTC names (tests/CMakeLists.txt sets it; RUN lines pass it on as
# FLASHJIT_NVRTC): the file is skipped where one is missing, and fails instead when
# FLASHJIT_REQUIRE_OLD_NVRTC=1 (scripts/test.sh sets it, so CI cannot skip it).
set -uo pipefail

flashjit="" filecheck="" not_tool="" check_file=""
for arg in "$@"; do
  case "$arg" in
    --flashjit=*) flashjit="${arg#*=}" ;;
    --filecheck=*) filecheck="${arg#*=}" ;;
    --not=*) not_tool="${arg#*=}" ;;
    -*) echo "run_check.sh: unknown option '$arg'" >&2; exit 2 ;;
    *) check_file="$arg" ;;
  esac
done
usage="usage: run_check.sh --flashjit=PATH --filecheck=PATH --not=PATH CHECK_FILE"
if [[ -z "$flashjit" || -z "$filecheck" || -z "$not_tool" || -z "$check_file" ]]; then
  echo "run_check.sh: missing argument; $usage" >&2
  exit 2
fi
for tool in "$flashjit" "$filecheck" "$not_tool"; do
  [[ -f "$tool" && -x "$tool" ]] || { echo "run_check.sh: '$tool' is not an executable file" >&2; exit 2; }
done
[[ -r "$check_file" ]] || { echo "run_check.sh: cannot read check file '$check_file'" >&2; exit 2; }

# The dynamic loader finds libcuda.so.1 through the ld.so cache or LD_LIBRARY_PATH; look in both.
cuda_driver_present() {
  local ldconfig_bin
  ldconfig_bin="$(command -v ldconfig || echo /sbin/ldconfig)"
  if [[ -x "$ldconfig_bin" ]] && "$ldconfig_bin" -p 2>/dev/null | grep -Eq '^[[:space:]]*libcuda\.so\.1[[:space:]]'; then
    return 0
  fi
  local dir
  IFS=: read -ra dirs <<< "${LD_LIBRARY_PATH:-}"
  for dir in "${dirs[@]}"; do
    [[ -n "$dir" && -e "$dir/libcuda.so.1" ]] && return 0
  done
  return 1
}

while IFS= read -r line; do
  [[ "$line" == *"REQUIRES:"* ]] || continue
  for feature in ${line#*REQUIRES:}; do
    feature="${feature%,}"
    case "$feature" in
      no-gpu)
        if cuda_driver_present; then
          echo "SKIP: $check_file requires no-gpu, but libcuda.so.1 is present on this machine"
          exit 77
        fi ;;
      old-nvrtc)
        missing=""
        IFS=: read -ra old_nvrtcs <<< "${FLASHJIT_TEST_OLD_NVRTC:-}"
        (( ${#old_nvrtcs[@]} >= 2 )) || missing="FLASHJIT_TEST_OLD_NVRTC names ${#old_nvrtcs[@]} of the 2 older NVRTCs ('${FLASHJIT_TEST_OLD_NVRTC:-}')"
        for library in "${old_nvrtcs[@]}"; do
          [[ -f "$library" ]] || missing="$library does not exist"
        done
        if [[ -n "$missing" ]]; then
          if [[ "${FLASHJIT_REQUIRE_OLD_NVRTC:-}" == 1 ]]; then
            echo "FAIL: $check_file requires old-nvrtc: $missing (FLASHJIT_REQUIRE_OLD_NVRTC=1: CI must not skip it)" >&2
            exit 1
          fi
          echo "SKIP: $check_file requires old-nvrtc: $missing; scripts/setup.sh installs NVRTC 12.9 and 11.8 under .tools/"
          exit 77
        fi ;;
      *) echo "run_check.sh: $check_file: unknown REQUIRES feature '$feature'" >&2; exit 2 ;;
    esac
  done
done < "$check_file"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/flashjit-codegen.XXXXXX")" || exit 2
trap 'rm -rf "$scratch"' EXIT
temp_base="$scratch/$(basename "$check_file")"

# Collect RUN commands with the line number each starts on; join `\` continuations.
commands=() starts=()
pending="" pending_start=0 number=0
while IFS= read -r line || [[ -n "$line" ]]; do
  number=$((number + 1))
  [[ "$line" == *"RUN:"* ]] || continue
  text="${line#*RUN:}"
  [[ -z "$pending" ]] && pending_start=$number
  if [[ "$text" =~ ^(.*)\\[[:space:]]*$ ]]; then
    pending+="${BASH_REMATCH[1]} "
    continue
  fi
  commands+=("$pending$text")
  starts+=("$pending_start")
  pending=""
done < "$check_file"
if [[ -n "$pending" ]]; then
  printf 'FAIL: %s:%s: the RUN line ends in a backslash with no RUN line after it\n' "$check_file" "$pending_start" >&2
  exit 1
fi
if (( ${#commands[@]} == 0 )); then
  echo "FAIL: $check_file has no RUN lines" >&2
  exit 1
fi

quote() { printf '%q' "$1"; }
for i in "${!commands[@]}"; do
  cmd="${commands[$i]}"
  # Longest names first, so that %s cannot eat the start of another substitution.
  cmd="${cmd//%FileCheck/$(quote "$filecheck")}"
  cmd="${cmd//%flashjit/$(quote "$flashjit")}"
  cmd="${cmd//%not/$(quote "$not_tool")}"
  cmd="${cmd//%S/$(quote "$(dirname "$check_file")")}"
  cmd="${cmd//%s/$(quote "$check_file")}"
  cmd="${cmd//%t/$(quote "$temp_base")}"
  echo "RUN at line ${starts[$i]}: $cmd"
  bash -o pipefail -c "$cmd"
  status=$?
  if (( status != 0 )); then
    echo "FAIL: $check_file:${starts[$i]}: RUN line $((i + 1)) of ${#commands[@]} exited with status $status:" >&2
    echo "  ${commands[$i]# }" >&2
    exit 1
  fi
done
echo "PASS: $check_file (${#commands[@]} RUN lines)"
