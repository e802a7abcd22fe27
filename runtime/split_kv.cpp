#include "runtime/split_kv.h"

#include <algorithm>

#include <llvm/Support/FormatVariadic.h>

#include "generator/decode_splits.h"
#include "generator/variant_rules.h"
#include "problem/kv_cache_args.h"

namespace flashjit {
namespace {

// The lse rows of the call: [batch, heads, seqlen_q], or [heads, total_q] for a ragged batch, whose
// total is bounded by batch * seqlen_q unless the call gives it.
long long lse_rows(const AttentionArgs& a) {
  long long q_rows = static_cast<long long>(a.batch) * a.seqlen_q;
  if (a.cu_seqlens_q != nullptr && a.total_q > 0) q_rows = std::min<long long>(q_rows, a.total_q);
  return q_rows * a.num_heads;
}

}  // namespace

ProblemKey device_problem_key(const Problem& problem, const gen::DeviceDescription& device) {
  ProblemKey key = problem.key();
  if (problem.features().kv_cache && !device.nominal && device.sm_count > 0)
    key.splits = gen::problem_split_count(problem.shape(), device.sm_count);
  return key;
}

SplitKv split_kv_exact(const AttentionArgs& a, int splits) {
  SplitKv split;
  if (!has_kv_cache(a) || splits <= 1) return split;
  split.splits = splits;
  split.rows = lse_rows(a);
  split.workspace_bytes =
      static_cast<size_t>(split.splits) * static_cast<size_t>(split.rows) * (static_cast<size_t>(a.head_dim) + 1) *
      sizeof(float);
  return split;
}

SplitKv split_kv_of(const AttentionArgs& a, int sm_count, int tuned) {
  if (!has_kv_cache(a)) return SplitKv{};
  const int heuristic = gen::problem_split_count(shape_of(a), sm_count);
  return split_kv_exact(a, tuned > 0 ? std::min(tuned, gen::split_ceiling(heuristic)) : heuristic);
}

SplitKv kernel_split(const gen::KernelSpec& spec, const AttentionArgs& a, int sm_count) {
  if (!spec.kv_cache || !gen::rules_for(spec.variant).modifiers.splits_keys) return SplitKv{};
  return split_kv_of(a, sm_count, spec.splits);
}

size_t workspace_bound(const AttentionArgs& a, int sm_count) {
  if (!has_kv_cache(a)) return 0;
  return split_kv_of(a, sm_count, gen::split_ceiling(gen::problem_split_count(shape_of(a), sm_count))).workspace_bytes;
}

Status check_workspace(const AttentionArgs& a, const SplitKv& split) {
  if (a.workspace == nullptr || a.workspace_bytes >= split.workspace_bytes) return Status::success();
  return Status(ErrorCode::invalid_argument,
                llvm::formatv("workspace of {0} bytes is smaller than the {1} bytes this call needs for split-KV "
                              "({2} splits of {3} rows; Runtime::workspace_size gives it)",
                              a.workspace_bytes, split.workspace_bytes, split.splits, split.rows));
}

void set_split_partials(const SplitKv& split, void* workspace, KvCacheParams& kv) {
  kv.num_splits = split.splits;
  if (split.splits <= 1) return;
  kv.partial_rows = split.rows;
  kv.partial_out = static_cast<float*>(workspace);
  // head_dim is a multiple of 8: the lse that follows stays 32-byte aligned.
  kv.partial_lse = kv.partial_out + split.workspace_bytes / sizeof(float) - split.splits * split.rows;
}

SplitPartials split_partials(const SplitKv& split, const void* workspace, const AttentionArgs& a) {
  KvCacheParams kv{};
  set_split_partials(split, const_cast<void*>(workspace), kv);
  return SplitPartials{kv.partial_out, kv.partial_lse, a.cu_seqlens_q, split.rows, split.splits};
}

}  // namespace flashjit
