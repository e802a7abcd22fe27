#!/usr/bin/env bash
# Runs on the GPU host (see DESIGN.md / GPU.md: it has the driver and CUDA 13 but cannot build
# FlashJIT). Given a Release build folder made on the development machine (or the small copy from
# scripts/pack_gpu_build.sh) and an output folder, it runs:
#   1. flashjit doctor
#   2. the GPU test suite (every dtype, head dim, mask, odd shapes, strides, GQA vs the CPU backend)
#   3. compute-sanitizer memcheck and racecheck on one small case
#   4. the main job (flashjit run) on the default problem
# Logs go to OUT_DIR; a short table is printed last. Usage: scripts/gpu_check.sh BUILD_DIR OUT_DIR
set -uo pipefail
build="$(cd "${1:?build folder}" && pwd)"
out="${2:?output folder}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export LD_LIBRARY_PATH="${CUDA_HOME:-/usr/local/cuda}/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
flashjit="$build/tools/flashjit"
gpu_tests="$build/tests/flashjit_gpu_tests"
sanitizer="$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")"
small_case='OddShapes/GpuForward.MatchesTheCpuBackend/b2_h3_kv3_q17_k17_d8_f16_causal'

declare -a rows
record() { rows+=("$(printf '%-22s %-6s %s' "$1" "$2" "$3")"); }

"$flashjit" doctor > "$out/doctor.txt" 2>&1
record doctor "$([ $? -eq 0 ] && echo ok || echo NO-GPU)" "$(grep -m1 '^GPU 0' "$out/doctor.txt")"

"$gpu_tests" --gtest_brief=1 > "$out/gpu_tests.log" 2>&1
rc=$?
summary="$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/gpu_tests.log" | tr '\n' ' ')"
status=ok
[ $rc -eq 0 ] || status=FAIL
grep -q '^\[  PASSED  \] 0 tests' "$out/gpu_tests.log" && status=SKIPPED   # no GPU: nothing was checked
record gpu-tests "$status" "$summary"

for tool in memcheck racecheck; do
  "$sanitizer" --tool "$tool" --error-exitcode 9 "$gpu_tests" --gtest_filter="$small_case" \
    > "$out/sanitizer_$tool.log" 2>&1
  rc=$?
  record "sanitizer-$tool" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" \
    "$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer_$tool.log" | tail -1)"
done

# A private tuning cache: the first run tunes (cold), the second loads the winner (warm).
export FLASHJIT_CACHE_DIR="$out/cache"
rm -rf "$FLASHJIT_CACHE_DIR"
for run in cold warm; do
  "$flashjit" run > "$out/main_job_$run.log" 2>&1
  rc=$?
  record "main-job-$run" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" \
    "$(grep -E 'kernel:|first call|TFLOP/s|max error' "$out/main_job_$run.log" | tr '\n' ' ')"
done
"$flashjit" tune --seqlen 4096 --head-dim 128 --dtype bf16 > "$out/tune.log" 2>&1
rc=$?
record tune "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "$(grep -E '^winner' "$out/tune.log")"

"$flashjit" run --seqlen 4096 --batch 1 --heads 16 --head-dim 128 --dtype bf16 > "$out/main_job_4k.log" 2>&1
rc=$?
record main-job-4k "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "$(grep -E 'TFLOP/s|max error' "$out/main_job_4k.log" | tr '\n' ' ')"

# FlashJIT beside PyTorch SDPA on the same card, in one run (a reduced sweep: the full one is
# `python3 bench/compare_sdpa.py --flashjit BUILD/tools/flashjit`).
here="$(cd "$(dirname "$0")" && pwd)"
if python3 -c 'import torch' 2>/dev/null; then
  "$flashjit" bench --json "$out/bench.json" --dtypes bf16 --head-dims 128 --seqlens 1024,4096 --masks none,causal \
    --max-candidates 8 > "$out/bench.log" 2>&1
  python3 "$here/../bench/compare_sdpa.py" --flashjit-json "$out/bench.json" --out "$out/compare" > "$out/compare.log" 2>&1
  rc=$?
  record compare-sdpa "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "see compare/comparison.md"
  cat "$out/compare/comparison.md" 2>/dev/null
else
  record compare-sdpa SKIPPED "no python3 with torch here"
fi

echo
echo "== FlashJIT GPU check ($(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1))"
printf '%s\n' "${rows[@]}"
