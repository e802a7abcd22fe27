// The tensor-core templates' KV-cache entries (mma_sm80_forward_kvcache, mma_sm75_forward_kvcache;
// issue 15) executed by the emulation, against the double-precision reference on the same keys
// packed in order: K/V tiles gathered through pages of 1 and 16 keys (cp.async on sm_80, the
// synchronous ring on sm_75) and a dense cache, counts 0, 1, a page boundary +-1 and long, appends
// read from the new tensors and written by one block per KV group (the cache checked bit for bit),
// ragged chunked prefill, GQA and MQA, the score modifiers, and split-KV with its fp32 partials
// merged by the combine step (1 to more splits than key blocks). Every cache slot no sequence owns
// is NaN, the output and the partials are poisoned first.
#define FLASHJIT_HOST_EMULATION 1

#include <gtest/gtest.h>

#include "flashjit/types.h"
#include "helpers/kv_cache_problem.h"
#include "helpers/test_problem.h"

#include "emulation/cuda_emulation.h"
#include "emulation/emulated_attention.h"
#include "emulation/kv_cache_emulation.h"
#include "mma_sm75_forward.cuh"
#include "mma_sm80_forward.cuh"

namespace flashjit {
namespace {

using test::KvCacheCase;
using test::kv_cache_case;

constexpr DType f16 = DType::f16, bf16 = DType::bf16;

template <DType kDType, int kHeadDim, int kBlockM, int kBlockN, int kWarps, int kStages, bool kCausal, bool kWindow,
          bool kSoftcap, bool kAlibi, bool kRagged, bool kPaged, bool kAppend>
using KvTraits = test::WithKvCache<
    test::WithModifiers<test::EmulatedTraits<kDType, kHeadDim, kBlockM, kBlockN, kWarps, kStages, kCausal>, kWindow,
                        kSoftcap, kAlibi, kRagged>,
    kPaged, kAppend>;

template <class Traits>
void expect_sm80(const KvCacheCase& c, int splits = 1, bool pack_gqa = false) {
  test::expect_kv_kernel_matches<Traits>(&dev::mma_sm80_forward_kvcache<Traits>,
                                         static_cast<size_t>(dev::MmaShape<Traits>::kSharedBytes), c, splits,
                                         pack_gqa);
}

template <class Traits>
void expect_sm75(const KvCacheCase& c, int splits = 1) {
  test::expect_kv_kernel_matches<Traits>(&dev::mma_sm75_forward_kvcache<Traits>,
                                         static_cast<size_t>(dev::MmaShape<Traits>::kSharedBytes), c, splits);
}

// Decode over 16-key pages with appends, GQA 4: counts 0, 1, a page boundary +-1 and long; whole and
// split (3 splits, and 12: more than the longest sequence's 10 key blocks).
TEST(MmaKvCache, Sm80DecodeOverPages) {
  using Traits = KvTraits<f16, 64, 32, 32, 2, 2, true, false, false, false, false, true, true>;
  const KvCacheCase c = kv_cache_case(test::decode_queries(5, 4, 1, 1, 64, f16), {0, 1, 15, 16, 300}, 16, 2);
  for (int splits : {1, 3, 12}) expect_sm80<Traits>(c, splits);
}

// Pages of one key (every row its own gather), bf16 d 128, several query rows, GQA 2, three stages.
TEST(MmaKvCache, Sm80PagesOfOneKey) {
  using Traits = KvTraits<bf16, 128, 32, 32, 2, 3, true, false, false, false, false, true, false>;
  expect_sm80<Traits>(kv_cache_case(test::decode_queries(2, 4, 2, 3, 128, bf16), {77, 130}, 1), 2);
}

// Chunked prefill: ragged queries (one sequence without queries that still appends) over a paged
// cache; and the score modifiers over a dense cache with appends, split.
TEST(MmaKvCache, Sm80RaggedQueriesAndModifiers) {
  using Ragged = KvTraits<f16, 64, 32, 32, 2, 2, true, false, false, false, true, true, true>;
  expect_sm80<Ragged>(kv_cache_case(test::ragged_shape({1, 40, 0, 7}, {1, 1, 1, 1}, 2, 1, 64, f16, MaskKind::causal),
                                    {90, 0, 9, 33}, 16, 2));
  using Modified = KvTraits<bf16, 64, 32, 32, 2, 2, false, true, true, true, false, false, true>;
  expect_sm80<Modified>(
      kv_cache_case(test::with_alibi(test::capped(test::windowed(test::decode_queries(2, 2, 2, 2, 64, bf16,
                                                                                       MaskKind::none),
                                                                  40, 5),
                                                  5.0f),
                                     true),
                    {150, 3}, 0, 2),
      2);
}

// GQA packing (problem/gqa_packing.h), as the CUDA backend runs a decode step: a KV head's 8 (or 4)
// query heads are the rows of one tile at the head stride, the causal mask dropped (one query row
// sees every key); whole and split, over pages with appends, and with a softcap.
TEST(MmaKvCache, Sm80GqaPackedDecode) {
  using Packed = KvTraits<bf16, 64, 32, 32, 2, 2, false, false, false, false, false, true, true>;
  const KvCacheCase c = kv_cache_case(test::decode_queries(3, 16, 2, 1, 64, bf16), {0, 33, 250}, 16, 1);
  for (int splits : {1, 3}) expect_sm80<Packed>(c, splits, /*pack_gqa=*/true);
  using Capped = KvTraits<f16, 64, 16, 32, 1, 2, false, false, true, false, false, true, false>;
  expect_sm80<Capped>(kv_cache_case(test::capped(test::decode_queries(2, 4, 1, 1, 64, f16, MaskKind::none), 20.0f),
                                    {70, 5}, 4),
                      1, /*pack_gqa=*/true);
}

// Turing's synchronous ring: decode over pages with appends, whole and split.
TEST(MmaKvCache, Sm75DecodeOverPages) {
  using Traits = KvTraits<f16, 64, 32, 32, 2, 2, true, false, false, false, false, true, true>;
  const KvCacheCase c = kv_cache_case(test::decode_queries(3, 8, 1, 1, 64, f16), {0, 17, 200}, 16, 1);
  for (int splits : {1, 4}) expect_sm75<Traits>(c, splits);
}

}  // namespace
}  // namespace flashjit
