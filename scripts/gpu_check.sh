#!/usr/bin/env bash
# Runs on the GPU host (see README "Checking on a GPU host": it has the driver and CUDA 13 but cannot build
# FlashJIT). Given a Release build folder made on the development machine (or the small copy from
# scripts/pack_gpu_build.sh) and an output folder, it runs:
#   1. flashjit doctor
#   2. the GPU test suite (every dtype, head dim, mask, odd shapes, strides, GQA vs the CPU backend;
#      the tensor-core variants forced, wgmma_sm90 on a Hopper GPU)
#   3. compute-sanitizer memcheck and racecheck on the generic kernel (forced, small cases), and
#      memcheck, racecheck and synccheck on one small case per tensor-core variant (wgmma_sm90's
#      skips, and says so, on a GPU that is not Hopper)
#   4. the main job (flashjit run) on the default problem, and a tune
#   5. flashjit bench, one run per FlashJIT column, beside PyTorch SDPA (flash, cuDNN, mem-efficient)
#      in one table: on a Hopper GPU (compute capability 9.0) wgmma_sm90 forced, mma_sm80 forced
#      and the selector's choice (tuned); on Volta (7.0, 7.2) the selector's choice and mma_sm70 forced,
#      plus issue 13's shape (batch 1, 32 heads, 1024 x 1024, d 64, causal); elsewhere the selector's
#      choice and mma_sm75 forced
# Logs go to OUT_DIR; a short table is printed last. Usage: scripts/gpu_check.sh BUILD_DIR OUT_DIR
#
# A device session is short (a few minutes per command), so the steps can be chosen:
#   GPU_CHECK_PHASES="tests sanitizer main bench modifiers decode" (the default: all of them; doctor
#   always runs; modifiers: issue 14's ragged batches, windows, softcap and ALiBi beside PyTorch;
#   decode: issue 15's `run --decode` and the decode sweep beside SDPA flash and cuDNN)
#   GPU_CHECK_SWEEP=quick (default: d 128, seqlen 1k and 4k, both masks, bf16 and f16) or full (the
#   issue's sweep: bf16 and f16 x d 64, 128, 256 x seqlen 1k, 4k, 16k x causal and not; always
#   16k tokens in all (batch = 16384 / seqlen) and hidden 2048 (heads = 2048 / d))
#   GPU_CHECK_BENCH_VARIANTS: the bench columns instead of the defaults above, e.g.
#   "wgmma_sm90 mma_sm80" (forced variants; "auto" is the selector's choice, tuned)
set -uo pipefail
phases=" ${GPU_CHECK_PHASES:-tests sanitizer main bench modifiers decode} "
wants() { [[ "$phases" == *" $1 "* ]]; }
build="$(cd "${1:?build folder}" && pwd)"
out="${2:?output folder}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export LD_LIBRARY_PATH="${CUDA_HOME:-/usr/local/cuda}/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
flashjit="$build/tools/flashjit"
gpu_tests="$build/tests/flashjit_gpu_tests"
sanitizer="$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")"
# The generic kernel forced (on Turing and newer the selector picks a tensor-core variant): eight
# tiles on two small problems (tests/gpu/gpu_forward_test.cpp).
generic_case='GpuForwardTiles.ForcedTilesMatchTheCpuBackend'
# One small case per tensor-core variant (tests/gpu/gpu_tensor_core_test.cpp, "Sanitizer" suite):
# odd lengths, causal, GQA, d 64.
sm80_case='Sanitizer/GpuTensorCore.MatchesTheCpuBackend/mma_sm80_*'
sm75_case='Sanitizer/GpuTensorCore.MatchesTheCpuBackend/mma_sm75_*'
sm70_case='Sanitizer/GpuTensorCore.MatchesTheCpuBackend/mma_sm70_*'
# wgmma_sm90's: its default d64 tile (two consumer warpgroups) over three K/V blocks, so the ring
# of TMA slots wraps; it skips on a GPU that is not compute capability 9.0.
sm90_case='Sanitizer/GpuTensorCore.MatchesTheCpuBackend/wgmma_sm90_*'

# Every step runs under GPU_CHECK_TIMEOUT seconds (default 900), so a hung kernel costs one step,
# not the device session; a step stopped so exits 124.
limited() { timeout -k 10 "${GPU_CHECK_TIMEOUT:-900}" "$@"; }

declare -a rows
record() { rows+=("$(printf '%-30s %-7s %s' "$1" "$2" "$3")"); }
ok_or_fail() { [ "$1" -eq 0 ] && echo ok || echo FAIL; }

# compute-sanitizer TOOL on the one GPU test FILTER names, recorded as LABEL-TOOL (log LABEL_TOOL.log).
# A filter that matches no test, or a test that skipped, is not reported as a clean run.
sanitize() {
  local label="$1" filter="$2" tool="$3"
  local log="$out/${label}_$tool.log"
  limited "$sanitizer" --tool "$tool" --error-exitcode 9 "$gpu_tests" --gtest_filter="$filter" > "$log" 2>&1
  local rc=$?
  local status=ok detail
  detail="$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1)"
  if [ $rc -ne 0 ]; then
    status=FAIL
  elif grep -q '^\[  SKIPPED \] 1 test' "$log"; then
    status=SKIPPED
    detail="$(grep -m1 -A1 'Skipped$' "$log" | tail -1)"
  elif ! grep -q '^\[  PASSED  \] 1 test' "$log"; then
    status=FAIL
    detail="no test matched $filter"
  fi
  record "$label-$tool" "$status" "$detail"
}

limited "$flashjit" doctor > "$out/doctor.txt" 2>&1
record doctor "$([ $? -eq 0 ] && echo ok || echo NO-GPU)" "$(grep -m1 '^GPU 0' "$out/doctor.txt")"
# GPU 0's compute capability as XY (90 for 9.0), from doctor's "compute capability: 9.0 (...)"; 0
# when doctor found no GPU.
cc="$(grep -m1 -oE 'compute capability: [0-9]+\.[0-9]+' "$out/doctor.txt" | grep -oE '[0-9]+\.[0-9]+' | tr -d .)"
cc="${cc:-0}"

if wants tests; then
# The suite compiles a few hundred kernels with NVRTC, one at a time per process: GPU_CHECK_JOBS
# gtest shards run side by side (default: the cores, at most 8), each under the time limit, and
# their logs are joined in shard order (gtest's summary lines are then summed below).
jobs="${GPU_CHECK_JOBS:-$(nproc)}"
[ "$jobs" -gt 8 ] && jobs=8
pids=()
for ((shard = 0; shard < jobs; ++shard)); do
  GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$shard limited "$gpu_tests" --gtest_brief=1 \
    > "$out/gpu_tests.$shard.log" 2>&1 &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
for ((shard = 0; shard < jobs; ++shard)); do cat "$out/gpu_tests.$shard.log"; done > "$out/gpu_tests.log"
rm -f "$out"/gpu_tests.[0-9]*.log
summary="$(awk '/^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ test/ {n[$2] += $3} END {for (k in n) printf "%s %d ", k, n[k]}' FS='[][ ]+' "$out/gpu_tests.log")"
[ $rc -eq 124 ] && summary+="(a shard ran past ${GPU_CHECK_TIMEOUT:-900} s and was stopped) "
status=ok
[ $rc -eq 0 ] || status=FAIL
# Nothing should skip on the GPU host: a skip means a case was not checked (no GPU, or one too old).
# The exceptions: GpuDevices.PointersOfAnotherGpuAreRefused, which needs two GPUs (on a one-GPU host
# it always skips), and the wgmma_sm90 cases on a GPU that is not Hopper (they run on compute
# capability 9.0 only), and the GpuVolta cases on a GPU that is not Volta (the selector takes mma_sm70
# on sm_70/72 only; forced, it runs in GpuTensorCore everywhere); those alone must not hide a clean
# run, but the summary says what skipped.
skipped="$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$out/gpu_tests.log" | grep -oE '[0-9]+' | awk '{n += $1} END {print n + 0}')"
two_gpu_skips="$(grep -c 'needs two GPUs, found' "$out/gpu_tests.log")"
not_hopper_skips="$(grep -c 'wgmma_sm90 needs compute capability 9.0' "$out/gpu_tests.log")"
not_volta_skips="$(grep -c 'the selector takes mma_sm70 on Volta only' "$out/gpu_tests.log")"
[ "$status" = ok ] && [ "${skipped:-0}" -gt $((two_gpu_skips + not_hopper_skips + not_volta_skips)) ] && status=SKIPPED
[ "$not_hopper_skips" -gt 0 ] && summary+="($not_hopper_skips wgmma_sm90 tests skipped: not a Hopper GPU)"
[ "$not_volta_skips" -gt 0 ] && summary+="($not_volta_skips GpuVolta tests skipped: not a Volta GPU)"
record gpu-tests "$status" "$summary"
fi

if wants sanitizer; then
for tool in memcheck racecheck; do
  sanitize sanitizer-generic "$generic_case" "$tool"
done
for tool in memcheck racecheck synccheck; do
  sanitize sanitizer-mma_sm80 "$sm80_case" "$tool"
done
for tool in memcheck racecheck synccheck; do
  sanitize sanitizer-mma_sm75 "$sm75_case" "$tool"
done
for tool in memcheck racecheck synccheck; do
  sanitize sanitizer-mma_sm70 "$sm70_case" "$tool"
done
for tool in memcheck racecheck synccheck; do
  sanitize sanitizer-wgmma_sm90 "$sm90_case" "$tool"
done
fi

if wants main; then
# A private tuning cache: the first run tunes (cold), the second loads the winner (warm).
export FLASHJIT_CACHE_DIR="$out/cache"
rm -rf "$FLASHJIT_CACHE_DIR"
for run in cold warm; do
  limited "$flashjit" run > "$out/main_job_$run.log" 2>&1
  rc=$?
  record "main-job-$run" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" \
    "$(grep -E 'kernel:|first call|TFLOP/s|max error' "$out/main_job_$run.log" | tr '\n' ' ')"
done
limited "$flashjit" tune --seqlen 4096 --head-dim 128 --dtype bf16 > "$out/tune.log" 2>&1
rc=$?
record tune "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "$(grep -E '^winner' "$out/tune.log")"

limited "$flashjit" run --seqlen 4096 --batch 1 --heads 16 --head-dim 128 --dtype bf16 > "$out/main_job_4k.log" 2>&1
rc=$?
record main-job-4k "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "$(grep -E 'TFLOP/s|max error' "$out/main_job_4k.log" | tr '\n' ' ')"
fi

# FlashJIT beside PyTorch SDPA on the same card, in one run and one table (the sweep is also
# `python3 bench/compare_sdpa.py --flashjit BUILD/tools/flashjit`, for the selector's choice only):
# one `flashjit bench` per FlashJIT column, each a JSON that compare_sdpa.py reads (--flashjit-json,
# one column per file, labelled with its variant). A forced variant runs with its default tiles,
# untuned; "auto" is the selector's choice per shape, tuned (at most 8 candidates). On Hopper the
# table compares wgmma_sm90 and mma_sm80 (and the tuned choice) with SDPA flash and cuDNN.
here="$(cd "$(dirname "$0")" && pwd)"
if wants bench; then
export FLASHJIT_CACHE_DIR="$out/cache"
# The issue's shapes: 16k tokens in all (batch = 16384 / seqlen), hidden 2048 (heads = 2048 / d).
sweep=(--tokens 16384 --hidden 2048 --head-dims 128 --seqlens 1024,4096 --masks none,causal)
[ "${GPU_CHECK_SWEEP:-quick}" = full ] &&
  sweep=(--tokens 16384 --hidden 2048 --head-dims 64,128,256 --seqlens 1024,4096,16384 --masks none,causal)
if [ -n "${GPU_CHECK_BENCH_VARIANTS:-}" ]; then
  read -r -a bench_variants <<< "${GPU_CHECK_BENCH_VARIANTS//,/ }"
elif [ "$cc" -eq 90 ]; then
  bench_variants=(wgmma_sm90 mma_sm80 auto)
elif [ "$cc" -eq 70 ] || [ "$cc" -eq 72 ]; then
  bench_variants=(auto mma_sm70)
else
  bench_variants=(auto mma_sm75)
fi
bench_jsons=()
for variant in "${bench_variants[@]}"; do
  if [ "$variant" = auto ]; then
    name=bench
    label=bench
    variant_flags=(--max-candidates 8)
  else
    name="bench_$variant"
    label="bench-$variant"
    variant_flags=(--variant "$variant")
  fi
  dtypes=bf16,f16
  [ "$variant" = mma_sm75 ] && dtypes=f16  # mma_sm75 computes f16 only
  [ "$variant" = mma_sm70 ] && dtypes=f16  # so does mma_sm70 (Volta has no bf16 tensor cores)
  rm -f "$out/$name.json"
  started=$SECONDS
  limited "$flashjit" bench --json "$out/$name.json" "${variant_flags[@]}" --dtypes "$dtypes" "${sweep[@]}" \
    > "$out/$name.log" 2>&1
  rc=$?
  record "$label" "$(ok_or_fail $rc)" \
    "$(grep -cE '^(bf16|f16) ' "$out/$name.log") shapes in $((SECONDS - started)) s, see $name.log"
  [ -s "$out/$name.json" ] && bench_jsons+=("$out/$name.json")
done
# On Volta, issue 13's own shape (a community V100 fork's benchmark: batch 1, 32 heads, 1024 x 1024,
# d 64, causal), the number bench/PERFORMANCE.md predicts for mma_sm70.
if [ "$cc" -eq 70 ] || [ "$cc" -eq 72 ]; then
  started=$SECONDS
  "$flashjit" bench --json "$out/bench_volta_issue.json" --variant mma_sm70 --dtypes f16 --tokens 1024 \
    --hidden 2048 --head-dims 64 --seqlens 1024 --masks causal > "$out/bench_volta_issue.log" 2>&1
  rc=$?
  record bench-volta-issue "$(ok_or_fail $rc)" \
    "$(grep -E '^f16 ' "$out/bench_volta_issue.log" | head -1) ($((SECONDS - started)) s)"
  [ -s "$out/bench_volta_issue.json" ] && bench_jsons+=("$out/bench_volta_issue.json")
fi
if [ ${#bench_jsons[@]} -eq 0 ]; then
  record compare-sdpa SKIPPED "no bench results"
else
  torch_flag=()
  python3 -c 'import torch' 2>/dev/null || torch_flag=(--no-torch)
  python3 "$here/../bench/compare_sdpa.py" --flashjit-json "${bench_jsons[@]}" ${torch_flag[@]+"${torch_flag[@]}"} \
    --out "$out/compare" > "$out/compare.log" 2>&1
  rc=$?
  if [ ${#torch_flag[@]} -gt 0 ]; then
    record compare-sdpa SKIPPED "no python3 with torch here: FlashJIT columns only, see compare/comparison.md"
  else
    record compare-sdpa "$(ok_or_fail $rc)" "see compare/comparison.md"
  fi
  cat "$out/compare/comparison.md" 2>/dev/null
fi
fi

# Issue 14's rows: ragged batches, windows, softcap and ALiBi beside what PyTorch offers for the same
# function (SDPA on nested jagged tensors, flex_attention), at d 128 bf16, with the dense rows beside
# them (bench/compare_sdpa.py --modifiers says which).
if wants modifiers; then
  export FLASHJIT_CACHE_DIR="$out/cache"
  started=$SECONDS
  limited python3 "$here/../bench/compare_sdpa.py" --flashjit "$flashjit" --modifiers --dtypes bf16 --head-dims 128 \
    --seqlens 4096 --masks causal --iterations "${GPU_CHECK_ITERATIONS:-20}" --out "$out/compare_modifiers" \
    > "$out/compare_modifiers.log" 2>&1
  rc=$?
  record compare-modifiers "$(ok_or_fail $rc)" "$((SECONDS - started)) s, see compare_modifiers/comparison.md"
  cat "$out/compare_modifiers/comparison.md" 2>/dev/null
fi

# Issue 15's decode: the issue's default problem (batch 32, GQA 32/8, d 128, 8k keys in pages of 16),
# then the sweep (batch x keys x page size) beside SDPA flash and cuDNN on the dense equivalent.
if wants decode; then
  export FLASHJIT_CACHE_DIR="$out/cache"
  limited "$flashjit" run --decode > "$out/decode_run.log" 2>&1
  rc=$?
  record decode-run "$(ok_or_fail $rc)" "$(grep -E '^(time|memory|max error)' "$out/decode_run.log" | tr '\n' ' ')"
  started=$SECONDS
  limited python3 "$here/../bench/compare_sdpa.py" --flashjit "$flashjit" --decode \
    --iterations "${GPU_CHECK_ITERATIONS:-20}" --out "$out/compare_decode" > "$out/compare_decode.log" 2>&1
  rc=$?
  record compare-decode "$(ok_or_fail $rc)" "$((SECONDS - started)) s, see compare_decode/decode.md"
  cat "$out/compare_decode/decode.md" 2>/dev/null
fi

echo
echo "== FlashJIT GPU check ($(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1))"
printf '%s\n' "${rows[@]}"
