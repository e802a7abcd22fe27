#!/usr/bin/env bash
# Checks that kernels emit byte-identical PTX: each line of a fingerprint list is the SHA-256 of
# `flashjit emit ARGS --what ptx` and its ARGS (tests/codegen/ptx_fingerprints/).
#
#   check_ptx_fingerprints.sh --flashjit=PATH [--update] [--keep=DIR] LIST
#
# The list's `nvrtc:` line is the "Cuda compilation tools" line of the PTX the hashes were made
# from: PTX from another NVRTC differs anyway, so the check then skips (exit 77) and says why.
# A changed kernel is reported as "PTX changed: ARGS" (exit 1), its PTX kept in --keep's folder
# for a diff against a build from before. --update rewrites the list's hashes and nvrtc line from
# what the build emits now.
set -uo pipefail

flashjit="" list="" update=0 keep=""
for arg in "$@"; do
  case "$arg" in
    --flashjit=*) flashjit="${arg#*=}" ;;
    --keep=*) keep="${arg#*=}" ;;
    --update) update=1 ;;
    -*) echo "check_ptx_fingerprints.sh: unknown option '$arg'" >&2; exit 2 ;;
    *) list="$arg" ;;
  esac
done
if [[ -z "$flashjit" || -z "$list" ]]; then
  echo "usage: check_ptx_fingerprints.sh --flashjit=PATH [--update] [--keep=DIR] LIST" >&2
  exit 2
fi
[[ -x "$flashjit" ]] || { echo "check_ptx_fingerprints.sh: '$flashjit' is not executable" >&2; exit 2; }
[[ -r "$list" ]] || { echo "check_ptx_fingerprints.sh: cannot read '$list'" >&2; exit 2; }

scratch="$(mktemp -d "${TMPDIR:-/tmp}/flashjit-ptx-fingerprints.XXXXXX")" || exit 2
trap 'rm -rf "$scratch"' EXIT
[[ -n "$keep" ]] && mkdir -p "$keep"

expected_nvrtc="$(sed -n 's/^nvrtc: //p' "$list")"
[[ -n "$expected_nvrtc" ]] || { echo "check_ptx_fingerprints.sh: '$list' has no 'nvrtc:' line" >&2; exit 2; }

updated=() changed=0 checked=0 index=0
while IFS= read -r line || [[ -n "$line" ]]; do
  if [[ -z "$line" || "$line" == \#* || "$line" == nvrtc:* ]]; then
    updated+=("$line")
    continue
  fi
  index=$((index + 1))
  expected_hash="${line%% *}"
  args="${line#* }"
  ptx="$scratch/$index.ptx"
  # shellcheck disable=SC2086 # ARGS are separate options
  if ! "$flashjit" emit $args --what ptx > "$ptx"; then
    echo "FAIL: flashjit emit $args --what ptx failed" >&2
    exit 1
  fi
  nvrtc="$(grep -m1 -o 'Cuda compilation tools.*' "$ptx")"
  if (( update )); then
    expected_nvrtc="$nvrtc"
    updated+=("$(sha256sum "$ptx" | cut -d' ' -f1) $args")
    continue
  fi
  if [[ "$nvrtc" != "$expected_nvrtc" ]]; then
    echo "SKIP: the hashes are of PTX from '$expected_nvrtc'; this NVRTC is '$nvrtc'"
    exit 77
  fi
  hash="$(sha256sum "$ptx" | cut -d' ' -f1)"
  checked=$((checked + 1))
  if [[ "$hash" != "$expected_hash" ]]; then
    changed=$((changed + 1))
    echo "PTX changed: $args (sha256 $hash, expected $expected_hash)"
    [[ -n "$keep" ]] && cp "$ptx" "$keep/$index.ptx" && echo "  kept as $keep/$index.ptx"
  else
    echo "unchanged: $args"
  fi
done < "$list"

if (( update )); then
  for i in "${!updated[@]}"; do
    [[ "${updated[$i]}" == nvrtc:* ]] && updated[$i]="nvrtc: $expected_nvrtc"
  done
  printf '%s\n' "${updated[@]}" > "$list"
  echo "updated $list"
  exit 0
fi
if (( changed > 0 )); then
  echo "FAIL: $changed of $checked kernels emit other PTX than $list records" >&2
  exit 1
fi
echo "PASS: $checked kernels emit the PTX $list records"
