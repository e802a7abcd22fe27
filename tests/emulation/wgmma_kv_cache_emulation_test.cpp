// The Hopper template's KV-cache entry (wgmma_sm90_forward_kvcache, issue 15) executed by the
// emulation as the CUDA backend launches it (the runtime's tensor maps, score-modifier and cache
// parameter blocks, a persistent grid), against the double-precision reference on the same keys
// packed in order: a paged cache's K/V tiles loaded by TMA box by box through the block table (one
// box per page of 64 keys and more, 64-key boxes across 128-key and 192-key tiles, 32-key boxes for
// 96-key tiles, boxes past a sequence's pages zero-filled), a dense cache, counts 0, 1, a page
// boundary +-1 and long, shared and shuffled pages, both masks (bottom-right against each
// sequence's count), ragged queries (a chunked prefill, the tile walk ordered by the cached counts),
// GQA and MQA, the score modifiers, lse. Every cache slot no sequence owns is NaN
// (tests/helpers/kv_cache_problem.h): a V row past a sequence's keys that the consumers did not
// clear would turn its zero probabilities into NaN.
#define FLASHJIT_HOST_EMULATION 1

#include <gtest/gtest.h>

#include "flashjit/types.h"
#include "generator/kernel_spec.h"
#include "helpers/compare.h"
#include "helpers/kv_cache_problem.h"
#include "helpers/naive_reference.h"
#include "problem/problem_features.h"
#include "problem/tma_addressability.h"
#include "problem/validate.h"
#include "runtime/launch_params.h"

#include "emulation/cuda_emulation.h"
#include "emulation/emulated_attention.h"
#include "emulation/kv_cache_emulation.h"
#include "emulation/tensor_map_emulation.h"
#include "wgmma_sm90_forward.cuh"

namespace flashjit {
namespace {

using test::KvCacheCase;
using test::kv_cache_case;

constexpr DType f16 = DType::f16, bf16 = DType::bf16;

dim3 as_dim3(const unsigned (&v)[3]) { return dim3{v[0], v[1], v[2]}; }
constexpr MaskKind kNone = MaskKind::none, kCausal = MaskKind::causal;

template <DType kDType, int kHeadDim, int kBlockM, int kBlockN, int kStages, bool kCausal_, bool kPaged,
          bool kWindow = false, bool kSoftcap = false, bool kAlibi = false>
using WgmmaKvTraits = test::WithKvCache<
    test::WithModifiers<test::EmulatedTraits<kDType, kHeadDim, kBlockM, kBlockN, 4 * (1 + kBlockM / 64), kStages,
                                             kCausal_>,
                        kWindow, kSoftcap, kAlibi, false>,
    kPaged, false>;

// Runs the case on `persistent_blocks` blocks (fewer than its tiles, so blocks walk several).
template <class Traits>
void expect_wgmma_kv_matches(const KvCacheCase& c, int persistent_blocks = 2) {
  test::KvCacheProblem p = test::make_kv_cache_problem(c);
  ASSERT_EQ(Traits::kPaged, c.page_size > 0) << c.name();
  Result<AttentionArgs> validated = validate_args(p.args);
  ASSERT_TRUE(validated.ok()) << validated.status().to_string();
  const AttentionArgs& args = *validated;
  const std::string layout = tma_layout_problem(args);
  ASSERT_TRUE(layout.empty()) << "TMA cannot address the case: " << layout;

  gen::KernelSpec spec;
  spec.variant = Variant::wgmma_sm90;
  spec.arch = 90;
  spec.arch_specific = true;
  spec.set_features(features_of(args));
  spec = gen::with_tile(spec, Traits::kBlockM, Traits::kBlockN, Traits::kWarps, Traits::kStages);
  ASSERT_EQ(dev::WgmmaShape<Traits>::kSharedBytes, gen::shared_memory_bytes(spec)) << gen::canonical_key(spec);

  auto encode = [](const TensorMapRequest& request) -> llvm::Expected<TensorMapBits> {
    return emulation::encode_tensor_map(request);
  };
  auto params = make_wgmma_params(spec, args, encode);
  ASSERT_TRUE(static_cast<bool>(params)) << llvm::toString(params.takeError());
  const ScoreModParams mods = make_score_mod_params(args);
  const KvCacheParams kv = make_kv_cache_params(args);
  const cuda::LaunchShape shape = launch_shape(spec, args, persistent_blocks);
  emulation::emulate_launch(&dev::wgmma_sm90_forward_kvcache<Traits>, as_dim3(shape.grid),
                            as_dim3(shape.block), shape.dynamic_shared_bytes, *params, mods, kv);

  const test::ReferenceOutput ref = test::naive_attention(p.reference_args());
  EXPECT_TRUE(test::matches_reference(p.queries, ref, c.queries.with_lse, test::kKernelLseTolerance)) << c.name();
  EXPECT_TRUE(p.cache_holds_the_append()) << c.name();
}

// Prefill queries: `batch` sequences of seqlen_q rows against their cached keys.
test::ProblemShape prefill(int batch, int heads, int kv_heads, int seqlen_q, int head_dim, DType dtype, MaskKind mask) {
  return test::decode_queries(batch, heads, kv_heads, seqlen_q, head_dim, dtype, mask);
}

// 64-key pages, 128-key tiles (two boxes from two pages each), two consumers, GQA 2: counts a page
// boundary +-1, one past a tile, long, 0; sequences 0 and 1 share their first page (prefix caching).
TEST(WgmmaKvCache, PagesOf64UnderTwoBoxTiles) {
  using Traits = WgmmaKvTraits<bf16, 64, 128, 128, 2, true, true>;
  expect_wgmma_kv_matches<Traits>(
      kv_cache_case(prefill(5, 4, 2, 70, 64, bf16, kCausal), {200, 65, 63, 129, 0}, 64, 0, true));
}

// Pages of 256 keys hold several 64-key tiles (a box per tile); no mask; one consumer, three stages.
TEST(WgmmaKvCache, LargePagesNoMask) {
  using Traits = WgmmaKvTraits<f16, 128, 64, 64, 3, false, true>;
  expect_wgmma_kv_matches<Traits>(kv_cache_case(prefill(2, 2, 1, 67, 128, f16, kNone), {1, 300}, 256), 3);
}

// 96-key tiles take 32-key boxes (three per tile, across 64-key pages); d 96 pads its second column
// tile; MQA.
TEST(WgmmaKvCache, NinetySixKeyTilesInThirtyTwoKeyBoxes) {
  using Traits = WgmmaKvTraits<bf16, 96, 128, 96, 2, true, true>;
  expect_wgmma_kv_matches<Traits>(kv_cache_case(prefill(2, 3, 1, 90, 96, bf16, kCausal), {95, 160}, 64));
}

// A dense cache: [batch, seqlen_k] rows read as dense K/V always were, each sequence to its count.
TEST(WgmmaKvCache, DenseCache) {
  using Traits = WgmmaKvTraits<f16, 64, 128, 192, 2, true, false>;
  expect_wgmma_kv_matches<Traits>(kv_cache_case(prefill(3, 2, 2, 80, 64, f16, kCausal), {0, 81, 250}, 0));
}

// A chunked prefill: ragged queries (a long chunk, an empty one, a short one) against their cached
// prefixes in 64-key pages, causal bottom-right against each count; the tile walk orders the
// sequences by their cached keys (seqused_k), not by offsets the call does not have.
TEST(WgmmaKvCache, RaggedChunkedPrefill) {
  using Raggedy = test::WithKvCache<
      test::WithModifiers<test::EmulatedTraits<bf16, 64, 128, 128, 12, 2, true>, false, false, false, true>, true,
      false>;
  using RaggedNoMask = test::WithKvCache<
      test::WithModifiers<test::EmulatedTraits<f16, 128, 64, 64, 8, 2, false>, false, false, false, true>, true,
      false>;
  expect_wgmma_kv_matches<Raggedy>(kv_cache_case(
      test::ragged_shape({150, 0, 5, 70}, {1, 1, 1, 1}, 4, 2, 64, bf16, kCausal), {40, 300, 0, 129}, 64), 3);
  expect_wgmma_kv_matches<RaggedNoMask>(kv_cache_case(
      test::ragged_shape({65, 3}, {1, 1}, 2, 1, 128, f16, kNone), {200, 64}, 128), 2);
}

// The score modifiers over a paged cache: a window (blocks skipped on both sides), softcap, ALiBi, lse.
TEST(WgmmaKvCache, ScoreModifiersOverPages) {
  using Traits = WgmmaKvTraits<bf16, 64, 64, 64, 2, true, true, true, true, true>;
  test::ProblemShape q = test::with_alibi(test::capped(test::windowed(prefill(2, 2, 2, 66, 64, bf16, kCausal), 40, 0),
                                                       30.0f));
  expect_wgmma_kv_matches<Traits>(kv_cache_case(q, {130, 257}, 128));
}

}  // namespace
}  // namespace flashjit
