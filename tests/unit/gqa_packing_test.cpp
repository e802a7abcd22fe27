// GQA packing for decode (problem/gqa_packing.h): which calls are packed, and that a packed call is
// the same function: the double-precision reference computes the packed call and the original to
// the same output and lse (every element, exactly up to the order of a sum), the causal mask with
// it (one query row sees every key).
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "helpers/kv_cache_problem.h"
#include "helpers/naive_reference.h"
#include "problem/gqa_packing.h"
#include "problem/validate.h"

namespace flashjit {
namespace {

using test::decode_queries;
using test::kv_cache_case;

AttentionArgs validated(const test::KvCacheProblem& p) {
  Result<AttentionArgs> a = validate_args(p.args);
  EXPECT_TRUE(a.ok()) << a.status().to_string();
  return *a;
}

TEST(GqaPacking, OnlyOneDenseQueryRowWithoutWindowOrAlibi) {
  const test::KvCacheProblem decode =
      test::make_kv_cache_problem(kv_cache_case(decode_queries(2, 8, 2, 1, 64, DType::f16), {5, 9}, 16));
  const AttentionArgs a = validated(decode);
  EXPECT_TRUE(packs_gqa(a));
  const AttentionArgs packed = gqa_packed(a);
  EXPECT_EQ(packed.num_heads, 2);
  EXPECT_EQ(packed.num_kv_heads, 2);
  EXPECT_EQ(packed.seqlen_q, 4);
  EXPECT_EQ(packed.mask, MaskKind::none);
  EXPECT_EQ(packed.q.strides.seq, a.q.strides.head);
  EXPECT_EQ(packed.q.strides.head, 4 * a.q.strides.head);
  EXPECT_EQ(packed.out.strides.seq, a.out.strides.head);
  EXPECT_EQ(packed.out.strides.head, 4 * a.out.strides.head);
  EXPECT_EQ(packed.q.strides.batch, a.q.strides.batch);

  auto not_packed = [](const test::KvCacheCase& c, const char* why) {
    const test::KvCacheProblem p = test::make_kv_cache_problem(c);
    const AttentionArgs args = validated(p);
    EXPECT_FALSE(packs_gqa(args)) << why;
    EXPECT_EQ(gqa_packed(args).num_heads, args.num_heads) << why;
  };
  not_packed(kv_cache_case(decode_queries(2, 8, 2, 2, 64, DType::f16), {5, 9}, 16), "two query rows");
  not_packed(kv_cache_case(decode_queries(2, 4, 4, 1, 64, DType::f16), {5, 9}, 16), "no group");
  not_packed(kv_cache_case(test::windowed(decode_queries(2, 8, 2, 1, 64, DType::f16), 3, -1), {5, 9}, 16),
             "a window");
  not_packed(kv_cache_case(test::with_alibi(decode_queries(2, 8, 2, 1, 64, DType::f16), false), {5, 9}, 16),
             "ALiBi");
  not_packed(kv_cache_case(test::ragged_shape({1, 1}, {1, 1}, 8, 2, 64, DType::f16), {5, 9}, 16), "ragged queries");
}

// The double-precision reference on the packed call equals the reference on the original, row for
// row (packed row j of KV head g is query head g * group + j; the lse is laid out alike): causal,
// softcap, appends, GQA 4 and 8, a sequence with only its appended keys.
TEST(GqaPacking, APackedCallIsTheSameFunction) {
  for (const test::KvCacheCase& c :
       {kv_cache_case(decode_queries(3, 8, 2, 1, 32, DType::f32), {0, 17, 40}, 4, 2),
        kv_cache_case(test::capped(decode_queries(2, 8, 1, 1, 32, DType::bf16, MaskKind::none), 7.0f), {30, 1}, 1)}) {
    const test::KvCacheProblem p = test::make_kv_cache_problem(c);
    const AttentionArgs call = validated(p);
    ASSERT_TRUE(packs_gqa(call)) << c.name();
    // The reference's view (the keys packed in order, no cache) with the call's query layout.
    AttentionArgs original = p.reference_args();
    original.q.strides = call.q.strides;
    original.out.strides = call.out.strides;
    const AttentionArgs packed = pack_query_heads(original);
    const test::ReferenceOutput a = test::naive_attention(original);
    const test::ReferenceOutput b = test::naive_attention(packed);
    const int heads = call.num_heads, kv_heads = call.num_kv_heads, group = heads / kv_heads, d = call.head_dim;
    ASSERT_EQ(a.out.size(), b.out.size());
    ASSERT_EQ(a.lse, b.lse) << c.name();
    for (int batch = 0; batch < call.batch; ++batch)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < d; ++i) {
          const size_t at_original = (size_t(batch) * heads + h) * d + i;
          const size_t at_packed = ((size_t(batch) * group + h % group) * kv_heads + h / group) * d + i;
          ASSERT_EQ(a.out[at_original], b.out[at_packed]) << c.name() << " b " << batch << " h " << h << " i " << i;
        }
  }
}

// A manifest's or the tuner's problem is keyed as the packed calls: the same key either way.
TEST(GqaPacking, ProblemsAreKeyedAsTheirPackedCalls) {
  const test::KvCacheProblem p =
      test::make_kv_cache_problem(kv_cache_case(decode_queries(3, 8, 2, 1, 64, DType::bf16), {5, 9, 40}, 16));
  const AttentionArgs call = validated(p);
  auto problem = gqa_packed(Problem::of_call(call));
  ASSERT_TRUE(static_cast<bool>(problem)) << llvm::toString(problem.takeError());
  EXPECT_EQ(problem->key(), Problem::of_call(gqa_packed(call)).key());
  EXPECT_EQ(problem->key().str(), "bf16_d64_none_kvcache_paged_page16_gqa1_len128");
  EXPECT_EQ(problem->shape().seqlen_q, 4);
}

}  // namespace
}  // namespace flashjit
