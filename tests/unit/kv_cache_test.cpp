// Issue 15's KV cache on the CPU backend (the reference the kernels will be checked against), through
// Runtime::forward: per-sequence key counts (seqused_k, 0 included), dense and paged caches (page
// sizes 1 to 256, shuffled pages, a page shared by two sequences), appends that cross a page
// boundary, dense and ragged queries (decode, chunked prefill), GQA and MQA, the score modifiers;
// each against the double-precision reference computing the same keys as a plain ragged batch, with
// the output poisoned and every cache element no sequence owns NaN. Then each bad input, refused
// with its message before anything is written.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "helpers/compare.h"
#include "helpers/kv_cache_problem.h"
#include "helpers/naive_reference.h"
#include "helpers/test_problem.h"
#include "problem/kv_cache_args.h"
#include "problem/validate.h"

namespace flashjit {
namespace {

using test::KvCacheCase;
using test::KvCacheProblem;
using test::ProblemShape;
using test::decode_queries;
using test::kv_cache_case;

Runtime& cpu_runtime() {
  static std::unique_ptr<Runtime> runtime = [] {
    RuntimeOptions options;
    options.backend = Backend::cpu;
    options.cpu_threads = 2;
    auto created = Runtime::create(options);
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    return std::move(created.value());
  }();
  return *runtime;
}



std::vector<KvCacheCase> cases() {
  using test::capped;
  using test::windowed;
  using test::with_alibi;
  const DType f16 = DType::f16, bf16 = DType::bf16, f32 = DType::f32;
  std::vector<KvCacheCase> c;
  // Decode: one query row, GQA 32/8 shrunk to 8/2, counts 0, 1, a page boundary +-1 and long.
  c.push_back(kv_cache_case(decode_queries(6, 8, 2, 1, 64, f16), {0, 1, 15, 16, 17, 300}, 16));
  // Every page size from SGLang's 1 to FlashAttention's 256, counts around their boundaries.
  for (int page : {1, 2, 16, 64, 256})
    c.push_back(kv_cache_case(decode_queries(3, 4, 1, 2, 32, f32), {page - 1, page + 1, 2 * page + 3}, page));
  // Appends crossing a page boundary (15 + 3 over 16), into an empty sequence, MQA.
  c.push_back(kv_cache_case(decode_queries(3, 4, 1, 3, 64, bf16), {15, 0, 30}, 16, 3));
  // A dense cache with appends; GQA ratio 1.
  c.push_back(kv_cache_case(decode_queries(2, 3, 3, 4, 40, f16), {7, 0}, 0, 4));
  // Chunked prefill: ragged queries (0, 1, 5, 16 rows) against cached prefixes, causal bottom-right.
  c.push_back(kv_cache_case(test::ragged_shape({1, 5, 0, 16}, {1, 1, 1, 1}, 8, 1, 64, bf16, MaskKind::causal),
                         {40, 0, 9, 33}, 16, 0));
  // Ragged queries that also append (the new keys are the queries' own), unmasked.
  c.push_back(kv_cache_case(test::ragged_shape({2, 3}, {1, 1}, 2, 2, 32, f32, MaskKind::none), {17, 4}, 4, 2));
  // Prefix caching: sequences 0 and 1 share their first page; seqlen_q 16.
  c.push_back(kv_cache_case(decode_queries(3, 4, 2, 16, 64, f16), {40, 20, 5}, 16, 0, true));
  // The score modifiers over pages: a window, a softcap, per-batch ALiBi.
  c.push_back(kv_cache_case(windowed(decode_queries(2, 4, 2, 7, 64, f16), 20, -1), {100, 31}, 8, 1));
  c.push_back(kv_cache_case(with_alibi(capped(decode_queries(3, 4, 4, 5, 64, bf16, MaskKind::none), 5.0f), true),
                         {50, 3, 0}, 32, 2));
  return c;
}

class CpuKvCache : public testing::TestWithParam<KvCacheCase> {};

TEST_P(CpuKvCache, MatchesTheReferenceAndWritesTheAppend) {
  KvCacheProblem p = test::make_kv_cache_problem(GetParam());
  const test::ReferenceOutput ref = test::naive_attention(p.reference_args());
  const Status s = cpu_runtime().forward(p.args);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(test::matches_reference(p.queries, ref, p.queries.shape.with_lse, test::kCpuLseTolerance));
  EXPECT_TRUE(p.cache_holds_the_append());
}

std::string case_name(const testing::TestParamInfo<KvCacheCase>& info) { return info.param.name(); }

INSTANTIATE_TEST_SUITE_P(Cases, CpuKvCache, testing::ValuesIn(cases()), case_name);

// The test's own poison works: a cache whose count claims a key past what was written reads NaN.
TEST(CpuKvCacheSelfCheck, AKeyPastTheCachedOnesIsNaN) {
  KvCacheProblem p = test::make_kv_cache_problem(kv_cache_case(decode_queries(1, 2, 1, 1, 32, DType::f32), {20}, 16));
  p.seqused_k[0] = 21;  // one key more than the cache holds
  p.args.seqlen_k = 32;
  const Status s = cpu_runtime().forward(p.args);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(std::isnan(test::output_at(p.queries, 0, 0, 0, 0)));
}

// ---- bad inputs ---------------------------------------------------------------------------------

KvCacheProblem paged_problem() {
  return test::make_kv_cache_problem(kv_cache_case(decode_queries(3, 4, 2, 2, 32, DType::f16), {5, 17, 0}, 16, 1));
}

std::string error_of(const AttentionArgs& a) {
  Result<AttentionArgs> r = validate_args(a);
  if (r.ok()) return "accepted";
  EXPECT_EQ(r.status().code(), ErrorCode::invalid_argument);
  return r.status().message();
}

TEST(KvCacheArgs, ValidCallsAreAccepted) {
  KvCacheProblem p = paged_problem();
  EXPECT_EQ(error_of(p.args), "accepted");
  KvCacheProblem dense =
      test::make_kv_cache_problem(kv_cache_case(decode_queries(2, 2, 2, 1, 32, DType::f16), {3, 4}, 0, 2));
  EXPECT_EQ(error_of(dense.args), "accepted");
}

TEST(KvCacheArgs, EachLayoutProblemHasItsMessage) {
  KvCacheProblem p = paged_problem();
  AttentionArgs a = p.args;
  a.seqused_k = nullptr;
  EXPECT_EQ(error_of(a), "block_table is set but seqused_k is null: a paged cache needs each sequence's key count");
  a = p.args;
  a.seqused_k = nullptr;
  a.block_table = nullptr;
  a.page_size = a.num_pages = a.max_pages_per_sequence = 0;
  EXPECT_EQ(error_of(a), "k_new is set but seqused_k is null: appending needs a KV cache (seqused_k, and k and v "
                         "holding it)");
  a = p.args;
  a.block_table = nullptr;
  EXPECT_EQ(error_of(a), "page_size = 16 is set but block_table is null: pages need a block table");
  a = p.args;
  a.block_table = reinterpret_cast<const int32_t*>(reinterpret_cast<const char*>(p.block_table.data()) + 2);
  EXPECT_NE(error_of(a).find("block_table pointer 0x"), std::string::npos) << error_of(a);
  EXPECT_NE(error_of(a).find("is not aligned to 4 bytes (int32)"), std::string::npos);
  a = p.args;
  a.seqused_k = reinterpret_cast<const int32_t*>(reinterpret_cast<const char*>(p.seqused_k.data()) + 1);
  EXPECT_NE(error_of(a).find("seqused_k pointer 0x"), std::string::npos) << error_of(a);
  a = p.args;
  a.page_size = 12;
  EXPECT_EQ(error_of(a), "page_size 12 is not a power of two from 1 to 1048576");
  a = p.args;
  a.num_pages = 0;
  EXPECT_EQ(error_of(a), "num_pages must be positive, got 0");
  a = p.args;
  a.block_table_stride = 1;
  EXPECT_EQ(error_of(a), "block_table_stride 1 is shorter than a row of max_pages_per_sequence 3 entries (0 means "
                         "exactly a row)");
  a = p.args;
  a.seqlen_k = 49;
  EXPECT_EQ(error_of(a), "seqlen_k 49 is more keys than a sequence's 3 pages of 16 hold (48)");
  a = p.args;
  a.cu_seqlens_k = p.seqused_k.data();
  EXPECT_EQ(error_of(a), "seqused_k and cu_seqlens_k are both set: a KV cache gives each sequence's keys by "
                         "seqused_k, a packed batch by cu_seqlens_k; set one");
  a = p.args;
  a.v_new.data = nullptr;
  EXPECT_EQ(error_of(a), "v_new is null: appending needs k_new and v_new");
  a = p.args;
  a.seqlen_new = 0;
  EXPECT_EQ(error_of(a), "seqlen_new must be positive to append, got 0");
  a = p.args;
  a.k_new.dtype = DType::bf16;
  EXPECT_EQ(error_of(a), "k_new has dtype bf16 but q has dtype f16; all tensors must share one dtype");
  // The new keys must not be written over the queries or read from the cache they go into.
  a = p.args;
  a.k_new.data = p.k_cache.data();
  EXPECT_EQ(error_of(a), "k_new overlaps k: the appended keys and values are written into k and v");
}

// What needs the counts and the table: each bad entry by its sequence and index, on the host copies.
TEST(KvCacheArgs, TheCountsAndTableAreCheckedEntryByEntry) {
  KvCacheProblem p = paged_problem();  // counts {5, 17, 0} + 1, pages of 16, 3 per row
  Result<AttentionArgs> a = validate_args(p.args);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(check_kv_cache_contents(*a, p.seqused_k.data(), p.block_table.data()).ok());

  std::vector<int32_t> negative = {5, -1, 0};
  EXPECT_EQ(check_kv_cache_contents(*a, negative.data(), p.block_table.data()).message(),
            "seqused_k[1] = -1 is negative: a sequence holds 0 keys or more");
  std::vector<int32_t> too_many = {5, 17, 48};  // 49 keys with the append: 4 pages of 16, a row holds 3
  EXPECT_EQ(check_kv_cache_contents(*a, too_many.data(), p.block_table.data()).message(),
            "seqused_k[2] = 48 with 1 appended needs 4 pages of 16 keys, more than the 3 of a block_table row "
            "(max_pages_per_sequence)");
  std::vector<int32_t> table = p.block_table;
  table[1 * 3 + 1] = a->num_pages;  // sequence 1's second page
  EXPECT_EQ(check_kv_cache_contents(*a, p.seqused_k.data(), table.data()).message(),
            "block_table[1][1] = " + std::to_string(a->num_pages) +
                " is not a page: sequence 1 reads it, and the cache holds pages 0 to " +
                std::to_string(a->num_pages - 1));
  AttentionArgs shorter = *a;
  shorter.seqlen_k = 17;
  EXPECT_EQ(check_kv_cache_contents(shorter, p.seqused_k.data(), p.block_table.data()).message(),
            "seqused_k[1] = 17 with 1 appended is 18 keys, more than seqlen_k = 17, the most the call declares");
}

// forward() refuses a bad count before anything is written: the cache and the output stay as they were.
TEST(KvCacheArgs, ARefusedCallWritesNothing) {
  KvCacheProblem p = paged_problem();
  p.seqused_k[2] = 48;
  const Status s = cpu_runtime().forward(p.args);
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.message().find("seqused_k[2] = 48"), std::string::npos) << s.message();
  EXPECT_EQ(p.k_cache, p.k_cache_before);
  EXPECT_EQ(p.v_cache, p.v_cache_before);
  EXPECT_TRUE(test::output_is_poisoned(p.queries));
}

}  // namespace
}  // namespace flashjit
