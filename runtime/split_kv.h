// Split-KV (flash-decoding, issue 15) for one call: how many blocks share each query block's keys,
// and the workspace their partial results take. A function of the arguments and the SM count alone
// (not of the kernel's tiles), so that Runtime::workspace_size() answers before any kernel is built,
// plan() and doctor report the same count, and a captured graph replays with the size it was given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flashjit/status.h"
#include "flashjit/types.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "problem/problem.h"
#include "problem/problem_shape.h"
#include "kv_cache_params.cuh"
#include "split_partials.cuh"

namespace flashjit {

struct SplitKv {
  int splits = 1;            // 1: no split, no workspace, no combine step
  long long rows = 0;        // partial rows per split: the call's lse rows (a bound when ragged)
  size_t workspace_bytes = 0;  // splits * rows * (head_dim + 1) floats when split, else 0
};

// For a validated call reading a KV cache (no split otherwise): gen::problem_split_count's count
// on `sm_count` SMs, or `tuned` (a kernel's KernelSpec::splits; 0: none) clamped to the heuristic's
// gen::split_ceiling, so the workspace Runtime::workspace_size gave is always enough.
SplitKv split_kv_of(const AttentionArgs& normalized, int sm_count, int tuned = 0);

// The split a kernel of `spec` launches the call with: none for a kernel without a cache or whose
// template does not split (wgmma_sm90), else split_kv_of with the spec's tuned count.
SplitKv kernel_split(const gen::KernelSpec& spec, const AttentionArgs& normalized, int sm_count);

// The split of a call reading a KV cache into exactly `splits` blocks per tile (none at 1 or
// without a cache): the tuner's timing and correctness runs of a split count.
SplitKv split_kv_exact(const AttentionArgs& normalized, int splits);

// The workspace bytes any kernel may need for this call on `sm_count` SMs, whatever split count it
// was tuned to: Runtime::workspace_size.
size_t workspace_bound(const AttentionArgs& normalized, int sm_count);


// The key a problem's kernel has on `device`: Problem::key() with, for a KV cache, the split
// count there (none on a nominal device, whose SM count is unknown: its kernels split by the
// heuristic at each launch). The kernel table and the tuning cache key kernels by it.
ProblemKey device_problem_key(const Problem& problem, const gen::DeviceDescription& device);

// Whether the call's own workspace (args.workspace, when given) holds what `split` needs: an
// invalid_argument error that gives the size needed otherwise. Success without one (the runtime's).
Status check_workspace(const AttentionArgs& normalized, const SplitKv& split);

// Points the kernel's KvCacheParams at `workspace` (split.workspace_bytes of device memory,
// 16-byte aligned): the partial outputs first, then the lse.
void set_split_partials(const SplitKv& split, void* workspace, KvCacheParams& kv);

// The combine kernel's parameters for the same workspace.
SplitPartials split_partials(const SplitKv& split, const void* workspace, const AttentionArgs& normalized);

}  // namespace flashjit
