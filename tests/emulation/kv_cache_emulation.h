// Runs a KV-cache kernel template (any variant's `_kvcache` entry) under the emulation as the CUDA
// backend launches it: the runtime's own parameter blocks, the grid with split-KV's splits, the
// partials poisoned with NaN, then the combine step; compares with the double-precision reference on
// the same keys packed in order and checks the cache after the call bit for bit
// (tests/helpers/kv_cache_problem.h).
#pragma once

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/types.h"
#include "helpers/compare.h"
#include "helpers/kv_cache_problem.h"
#include "helpers/naive_reference.h"
#include "problem/gqa_packing.h"
#include "problem/validate.h"
#include "runtime/launch_params.h"

#include "emulation/cuda_emulation.h"
#include "split_combine.cuh"

namespace flashjit::test {

// What the generated shell of a KV-cache kernel declares besides the modifiers.
template <class Base, bool kPaged_, bool kAppend_>
struct WithKvCache : Base {
  static constexpr bool kKvCache = true;
  static constexpr bool kPaged = kPaged_;
  static constexpr bool kAppend = kAppend_;
};

// `kernel`: the `_kvcache` entry instantiated with Traits, launched with `shared_bytes`. With
// `pack_gqa`, the kernel runs the call as the CUDA backend does for a decode step
// (problem/gqa_packing.h: a KV head's query heads as the rows of one tile; the case must qualify and
// Traits be the packed kernel's, without the causal mask).
template <class Traits, class Kernel>
void expect_kv_kernel_matches(Kernel kernel, size_t shared_bytes, const KvCacheCase& c, int splits = 1,
                              bool pack_gqa = false) {
  KvCacheProblem p = make_kv_cache_problem(c);
  ASSERT_EQ(Traits::kPaged, c.page_size > 0) << c.name();
  ASSERT_EQ(Traits::kAppend, c.seqlen_new > 0) << c.name();
  ASSERT_EQ(Traits::kRagged, c.queries.ragged()) << c.name();
  Result<AttentionArgs> validated = validate_args(p.args);
  ASSERT_TRUE(validated.ok()) << validated.status().to_string();
  if (pack_gqa) {
    ASSERT_TRUE(packs_gqa(*validated)) << c.name();
  }
  const AttentionArgs packed = pack_gqa ? gqa_packed(*validated) : *validated;
  const AttentionArgs* args = &packed;
  const AttentionParams params = make_params(*args);
  const ScoreModParams mods = make_score_mod_params(*args);
  KvCacheParams kv = make_kv_cache_params(*args);
  const long long rows = static_cast<long long>(args->batch) * args->num_heads * args->seqlen_q;
  std::vector<float> partial_out(static_cast<size_t>(splits * rows * Traits::kHeadDim), NAN);
  std::vector<float> partial_lse(static_cast<size_t>(splits * rows), NAN);
  kv.num_splits = splits;
  kv.partial_out = partial_out.data();
  kv.partial_lse = partial_lse.data();
  kv.partial_rows = rows;
  const unsigned m_blocks = static_cast<unsigned>((args->seqlen_q + Traits::kBlockM - 1) / Traits::kBlockM);
  emulation::emulate_launch(kernel,
                            dim3{m_blocks * splits, static_cast<unsigned>(args->num_heads),
                                 static_cast<unsigned>(args->batch)},
                            dim3{Traits::kWarps * 32, 1, 1}, shared_bytes, params, mods, kv);
  if (splits > 1) {
    const SplitPartials parts{partial_out.data(), partial_lse.data(), args->cu_seqlens_q, rows, splits};
    emulation::emulate_launch(&dev::split_combine<Traits>,
                              dim3{static_cast<unsigned>((rows + Traits::kWarps - 1) / Traits::kWarps), 1, 1},
                              dim3{Traits::kWarps * 32, 1, 1}, 0, params, parts);
  }
  const ReferenceOutput ref = naive_attention(p.reference_args());
  EXPECT_TRUE(matches_reference(p.queries, ref, c.queries.with_lse, kKernelLseTolerance))
      << c.name() << ", " << splits << " splits";
  EXPECT_TRUE(p.cache_holds_the_append()) << c.name() << ", " << splits << " splits";
}

}  // namespace flashjit::test
