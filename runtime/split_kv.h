// Split-KV (flash-decoding, issue 15) for one call: how many blocks share each query block's keys,
// and the workspace their partial results take. A function of the arguments and the SM count alone
// (not of the kernel's tiles), so that Runtime::workspace_size() answers before any kernel is built,
// plan() and doctor report the same count, and a captured graph replays with the size it was given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flashjit/status.h"
#include "flashjit/types.h"
#include "problem/problem_shape.h"
#include "kv_cache_params.cuh"
#include "split_partials.cuh"

namespace flashjit {

struct SplitKv {
  int splits = 1;            // 1: no split, no workspace, no combine step
  long long rows = 0;        // partial rows per split: the call's lse rows (a bound when ragged)
  size_t workspace_bytes = 0;  // splits * rows * (head_dim + 1) floats when split, else 0
};

// The nominal tile decode_split_count is asked about: 64 query rows (a KV head's queries packed
// across its GQA group) and 64 keys per block.
inline constexpr int kSplitNominalRows = 64;
inline constexpr int kSplitNominalKeys = 64;

// For a validated call reading a KV cache (no split otherwise): tiles = batch * KV heads * the
// nominal query tiles of a KV head's rows (seqlen_q * GQA ratio), key blocks = seqlen_k / 64, split
// by gen::decode_split_count.
SplitKv split_kv_of(const AttentionArgs& normalized, int sm_count);

// The split count of a KV-cache call of these sizes (what split_kv_of decides; doctor asks it of a
// problem without data).
int split_count(const ProblemShape& shape, int sm_count);

// Whether the call's own workspace (args.workspace, when given) holds what `split` needs: an
// invalid_argument error that gives the size needed otherwise. Success without one (the runtime's).
Status check_workspace(const AttentionArgs& normalized, const SplitKv& split);

// Points the kernel's KvCacheParams at `workspace` (split.workspace_bytes of device memory,
// 16-byte aligned): the partial outputs first, then the lse.
void set_split_partials(const SplitKv& split, void* workspace, KvCacheParams& kv);

// The combine kernel's parameters for the same workspace.
SplitPartials split_partials(const SplitKv& split, const void* workspace, const AttentionArgs& normalized);

}  // namespace flashjit
