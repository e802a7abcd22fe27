// The generic template's KV-cache entry (generic_forward_kvcache, issue 15) executed by the
// emulation, against the double-precision reference on the same keys packed in order
// (tests/helpers/kv_cache_problem.h): counts 0, 1, a page boundary +-1 and long, page sizes 1 to
// 256 with shuffled pages, a page shared by two sequences, appends across a page boundary (read from
// the new tensors, written into the cache by one block per KV group, checked bit for bit afterwards),
// a dense cache, ragged queries (chunked prefill, a sequence without queries that still appends),
// GQA and MQA, the score modifiers, three dtypes. Every cache slot no sequence owns is NaN and the
// output is poisoned first.
#define FLASHJIT_HOST_EMULATION 1

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/types.h"
#include "helpers/kv_cache_problem.h"
#include "helpers/test_problem.h"

#include "emulation/cuda_emulation.h"
#include "emulation/emulated_attention.h"
#include "emulation/kv_cache_emulation.h"
#include "generic_forward.cuh"

namespace flashjit {
namespace {

using test::KvCacheCase;
using test::KvCacheProblem;
using test::ProblemShape;
using test::kv_cache_case;

template <DType kDType, int kHeadDim, bool kCausal, bool kWindow, bool kSoftcap, bool kAlibi, bool kRagged,
          bool kPaged, bool kAppend>
using KvTraits = test::WithKvCache<test::WithModifiers<test::EmulatedTraits<kDType, kHeadDim, 32, 32, 4, 1, kCausal>,
                                                 kWindow, kSoftcap, kAlibi, kRagged>,
                             kPaged, kAppend>;

template <class Traits>
void expect_matches(const KvCacheCase& c, int splits = 1) {
  test::expect_kv_kernel_matches<Traits>(&dev::generic_forward_kvcache<Traits>,
                                         static_cast<size_t>(dev::GenericShape<Traits>::kSharedBytes), c, splits);
}

constexpr DType f16 = DType::f16, bf16 = DType::bf16, f32 = DType::f32;

// Decode over 16-key pages: counts 0, 1, a page boundary +-1 and long; GQA 8 on 2.
TEST(GenericKvCache, DecodeOverPages) {
  expect_matches<KvTraits<f16, 64, true, false, false, false, false, true, false>>(
      kv_cache_case(test::decode_queries(6, 8, 2, 1, 64, f16), {0, 1, 15, 16, 17, 300}, 16));
}

// Every page size from 1 to 256, counts around their boundaries, MQA, several query rows.
TEST(GenericKvCache, EveryPageSize) {
  for (int page : {1, 2, 16, 64, 256})
    expect_matches<KvTraits<f32, 32, true, false, false, false, false, true, false>>(
        kv_cache_case(test::decode_queries(3, 4, 1, 2, 32, f32), {page - 1, page + 1, 2 * page + 3}, page));
}

// Appends across a page boundary and into an empty sequence; a dense cache with appends.
TEST(GenericKvCache, Appends) {
  expect_matches<KvTraits<bf16, 64, true, false, false, false, false, true, true>>(
      kv_cache_case(test::decode_queries(3, 4, 1, 3, 64, bf16), {15, 0, 30}, 16, 3));
  expect_matches<KvTraits<f16, 40, true, false, false, false, false, false, true>>(
      kv_cache_case(test::decode_queries(2, 6, 3, 4, 40, f16), {7, 0}, 0, 4));
}

// Chunked prefill: ragged queries against cached prefixes; one sequence has no queries and still
// appends its keys.
TEST(GenericKvCache, RaggedQueries) {
  expect_matches<KvTraits<bf16, 64, true, false, false, false, true, true, false>>(
      kv_cache_case(test::ragged_shape({1, 5, 0, 40}, {1, 1, 1, 1}, 8, 1, 64, bf16, MaskKind::causal), {40, 0, 9, 33},
                 16));
  expect_matches<KvTraits<f32, 32, false, false, false, false, true, true, true>>(
      kv_cache_case(test::ragged_shape({2, 0, 3}, {1, 1, 1}, 2, 2, 32, f32, MaskKind::none), {17, 6, 4}, 4, 2));
}

// Prefix caching: sequences 0 and 1 share their first page.
TEST(GenericKvCache, ASharedFirstPage) {
  expect_matches<KvTraits<f16, 64, true, false, false, false, false, true, false>>(
      kv_cache_case(test::decode_queries(3, 4, 2, 16, 64, f16), {40, 20, 5}, 16, 0, true));
}

// The score modifiers over pages: a left window, and a softcap with per-batch ALiBi, with appends.
TEST(GenericKvCache, ScoreModifiers) {
  expect_matches<KvTraits<f16, 64, true, true, false, false, false, true, true>>(
      kv_cache_case(test::windowed(test::decode_queries(2, 4, 2, 7, 64, f16), 20, -1), {100, 31}, 8, 1));
  expect_matches<KvTraits<bf16, 64, false, false, true, true, false, true, true>>(
      kv_cache_case(test::with_alibi(test::capped(test::decode_queries(3, 4, 4, 5, 64, bf16, MaskKind::none), 5.0f), true),
                 {50, 3, 0}, 32, 2));
}

// Split-KV (flash-decoding): split counts from 1 to more splits than key blocks (splits left
// without keys weigh nothing), over pages with appends, GQA 4 and 8 (query heads 8 on 1 KV head).
TEST(GenericKvCacheSplits, EverySplitCountMatches) {
  for (int splits : {1, 2, 7}) {
    expect_matches<KvTraits<bf16, 64, true, false, false, false, false, true, true>>(
        kv_cache_case(test::decode_queries(3, 4, 1, 1, 64, bf16), {0, 300, 47}, 16, 2), splits);
    expect_matches<KvTraits<f16, 64, true, false, false, false, false, true, false>>(
        kv_cache_case(test::decode_queries(1, 8, 1, 2, 64, f16), {555}, 1), splits);
  }
  // 40 splits of 18 key blocks: 22 splits see no key.
  expect_matches<KvTraits<f16, 64, true, false, false, false, false, true, true>>(
      kv_cache_case(test::decode_queries(1, 2, 1, 1, 64, f16), {555}, 1, 1), 40);
}

// A window, ragged chunked prefill whose query blocks split their own key ranges, and softcap with
// ALiBi over a dense cache with appends.
TEST(GenericKvCacheSplits, ModifiersAndRaggedQueries) {
  expect_matches<KvTraits<f16, 64, true, true, false, false, false, true, true>>(
      kv_cache_case(test::windowed(test::decode_queries(2, 2, 1, 7, 64, f16), 70, -1), {300, 31}, 8, 1), 3);
  expect_matches<KvTraits<bf16, 64, true, false, false, false, true, true, false>>(
      kv_cache_case(test::ragged_shape({1, 40, 0, 7}, {1, 1, 1, 1}, 2, 1, 64, bf16, MaskKind::causal),
                    {400, 0, 9, 133}, 16),
      3);
  expect_matches<KvTraits<f32, 32, false, false, true, true, false, false, true>>(
      kv_cache_case(test::with_alibi(test::capped(test::decode_queries(3, 2, 2, 2, 32, f32, MaskKind::none), 5.0f),
                                     true),
                    {250, 3, 0}, 0, 2),
      3);
}

}  // namespace
}  // namespace flashjit
