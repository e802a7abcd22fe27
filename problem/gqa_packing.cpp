#include "problem/gqa_packing.h"

#include "problem/kv_cache_args.h"
#include "problem/problem_features.h"

namespace flashjit {
namespace {

// The one rule for calls and problems alike.
bool packs(const ProblemFeatures& f, int seqlen_q, int group) {
  return f.kv_cache && !f.ragged && seqlen_q == 1 && group > 1 && !f.window && !f.alibi;
}

}  // namespace

bool packs_gqa(const AttentionArgs& a) {
  const int group = a.num_kv_heads > 0 ? a.num_heads / a.num_kv_heads : 1;
  return packs(features_of(a), a.seqlen_q, group);
}

llvm::Expected<Problem> gqa_packed(const Problem& problem) {
  const ProblemShape& s = problem.shape();
  if (!packs(problem.features(), s.seqlen_q, problem.gqa_ratio())) return problem;
  ProblemFeatures f = problem.features();
  f.mask = MaskKind::none;
  ProblemShape packed = s;
  packed.seqlen_q = problem.gqa_ratio();
  packed.num_heads = s.num_kv_heads;
  ScoreModValues values = problem.score_mod_values();
  values.window_left = values.window_right = -1;
  return Problem::of_shape(f, packed, values);
}

AttentionArgs gqa_packed(const AttentionArgs& a) { return packs_gqa(a) ? pack_query_heads(a) : a; }

AttentionArgs pack_query_heads(const AttentionArgs& a) {
  const int group = a.num_heads / a.num_kv_heads;
  AttentionArgs packed = a;
  packed.num_heads = a.num_kv_heads;
  packed.seqlen_q = group;
  // One query row: bottom-right, the causal diagonal lies past every key, as the packed rows' must;
  // a right bound under it (not a window: packs_gqa) goes with it.
  packed.mask = MaskKind::none;
  packed.window_left = packed.window_right = -1;
  // Row j of KV head g is query head g * group + j.
  packed.q.strides.seq = a.q.strides.head;
  packed.q.strides.head = a.q.strides.head * group;
  packed.out.strides.seq = a.out.strides.head;
  packed.out.strides.head = a.out.strides.head * group;
  return packed;
}

}  // namespace flashjit
