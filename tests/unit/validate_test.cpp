// Every validation failure has its own message, and a valid call is normalized.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "problem/validate.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

test::HostProblem small_problem() {
  test::ProblemShape s;
  s.batch = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.seqlen_q = 5;
  s.seqlen_k = 7;
  s.head_dim = 16;
  return test::make_problem(s);
}

std::string error_of(const AttentionArgs& args) {
  Result<AttentionArgs> r = validate_args(args);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), ErrorCode::invalid_argument);
  return r.status().message();
}

TEST(Validate, AcceptsAValidProblemAndFillsTheScale) {
  test::HostProblem p = small_problem();
  Result<AttentionArgs> r = validate_args(p.args);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FLOAT_EQ(r->softmax_scale, 1.0f / std::sqrt(16.0f));
}

TEST(Validate, FillsContiguousStridesWhenLeftDefault) {
  test::HostProblem p = small_problem();
  p.args.q.strides = Strides{};
  Result<AttentionArgs> r = validate_args(p.args);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->q.strides.head, 16);
  EXPECT_EQ(r->q.strides.seq, 4 * 16);
  EXPECT_EQ(r->q.strides.batch, 5 * 4 * 16);
}

TEST(Validate, RejectsNonPositiveSizes) {
  test::HostProblem p = small_problem();
  p.args.batch = 0;
  EXPECT_EQ(error_of(p.args), "batch must be positive, got 0");
  p = small_problem();
  p.args.seqlen_k = -3;
  EXPECT_EQ(error_of(p.args), "seqlen_k must be positive, got -3");
}

TEST(Validate, RejectsUnsupportedHeadDims) {
  test::HostProblem p = small_problem();
  p.args.head_dim = 100;
  EXPECT_EQ(error_of(p.args), "head_dim 100 is not a multiple of 8");
  p.args.head_dim = 264;
  EXPECT_EQ(error_of(p.args), "head_dim 264 is larger than the supported maximum of 256");
}

TEST(Validate, RejectsHeadsNotAMultipleOfKvHeads) {
  test::HostProblem p = small_problem();
  p.args.num_heads = 6;
  p.args.num_kv_heads = 4;
  EXPECT_EQ(error_of(p.args), "num_heads 6 is not a multiple of num_kv_heads 4");
}

TEST(Validate, RejectsNullPointers) {
  test::HostProblem p = small_problem();
  p.args.v.data = nullptr;
  EXPECT_EQ(error_of(p.args), "v is null");
  p = small_problem();
  p.args.out.data = nullptr;
  EXPECT_EQ(error_of(p.args), "out is null");
}

TEST(Validate, RejectsMismatchedDtypes) {
  test::HostProblem p = small_problem();
  p.args.k.dtype = DType::bf16;
  EXPECT_EQ(error_of(p.args), "k has dtype bf16 but q has dtype f16; all tensors must share one dtype");
}

TEST(Validate, RejectsMisalignedPointers) {
  test::HostProblem p = small_problem();
  p.args.q.data = p.q.data() + 1;
  EXPECT_NE(error_of(p.args).find("q pointer"), std::string::npos);
  EXPECT_NE(error_of(p.args).find("is not aligned to 2 bytes (f16)"), std::string::npos);
  p = small_problem();
  p.args.lse = reinterpret_cast<float*>(reinterpret_cast<char*>(p.lse.data()) + 2);
  EXPECT_NE(error_of(p.args).find("is not aligned to 4 bytes"), std::string::npos);
}

TEST(Validate, RejectsNonPositiveStrides) {
  test::HostProblem p = small_problem();
  p.args.k.strides.seq = 0;
  EXPECT_EQ(error_of(p.args), "k strides (224, 0, 16) must all be positive");
}

TEST(Validate, RejectsStridesThatOverflow) {
  test::HostProblem p = small_problem();
  p.args.v.strides.batch = int64_t{1} << 62;
  EXPECT_EQ(error_of(p.args), "v strides (4611686018427387904, 32, 16) overflow 64-bit offsets");
}

TEST(Validate, RejectsOutputLayoutsThatOverlapThemselves) {
  test::HostProblem p = small_problem();
  p.args.out.strides.head = 8;  // heads overlap: head_dim is 16
  EXPECT_EQ(error_of(p.args), "out strides (320, 64, 8) make different output elements overlap");
}

TEST(Validate, RejectsOutputAliasingAnInput) {
  test::HostProblem p = small_problem();
  p.args.out.data = p.k.data();  // only address ranges are compared; nothing is written
  EXPECT_EQ(error_of(p.args), "out overlaps k: attention cannot be computed in place");
}

TEST(Validate, RejectsNonFiniteScale) {
  test::HostProblem p = small_problem();
  p.args.softmax_scale = std::nanf("");
  EXPECT_EQ(error_of(p.args), "softmax_scale nan is not finite");
}

// An enum value outside its enumerators is named by its number (it has no name).
TEST(Validate, RejectsUnknownEnumValuesByNumber) {
  test::HostProblem p = small_problem();
  p.args.k.dtype = static_cast<DType>(7);
  EXPECT_EQ(error_of(p.args), "k has dtype 7, which is not a known DType (expected f32, f16 or bf16)");
  p = small_problem();
  p.args.mask = static_cast<MaskKind>(-2);
  EXPECT_EQ(error_of(p.args), "mask -2 is not a known MaskKind (expected none or causal)");
}

// A tensor whose last element would lie past the end of the address space is refused: its end
// address wrapped around, and the overlap checks then passed ranges that overlap.
TEST(Validate, RejectsTensorsPastTheEndOfTheAddressSpace) {
  test::HostProblem p = small_problem();
  p.args.out.data = reinterpret_cast<void*>(~uintptr_t{0} - 63);  // 64 bytes before the end, aligned
  const std::string out_error = error_of(p.args);
  EXPECT_EQ(out_error.rfind("out at 0x", 0), 0u) << out_error;
  EXPECT_NE(out_error.find(" with strides (320, 64, 16) runs past the end of the address space"), std::string::npos)
      << out_error;
  p = small_problem();
  p.args.lse = reinterpret_cast<float*>(~uintptr_t{0} - 63);
  const std::string lse_error = error_of(p.args);
  EXPECT_EQ(lse_error.rfind("lse at 0x", 0), 0u) << lse_error;
  EXPECT_NE(lse_error.find(" with 40 rows runs past the end of the address space"), std::string::npos) << lse_error;
}

TEST(Validate, RejectsGridsBeyondTheLimits) {
  test::HostProblem p = small_problem();
  p.args.batch = 70000;
  EXPECT_EQ(error_of(p.args), "batch 70000 exceeds the maximum of 65535");
}

// ---- Ragged batches and score modifiers (issue 14) -------------------------------------------

TEST(Validate, RejectsBadScoreModifiers) {
  test::HostProblem p = small_problem();
  p.args.window_left = -2;
  EXPECT_EQ(error_of(p.args), "window_left -2 is below -1 (-1 means unbounded)");
  p = small_problem();
  p.args.window_right = -7;
  EXPECT_EQ(error_of(p.args), "window_right -7 is below -1 (-1 means unbounded)");
  for (float softcap : {-1.0f, std::nanf(""), INFINITY}) {
    p = small_problem();
    p.args.softcap = softcap;
    const std::string error = error_of(p.args);
    EXPECT_NE(error.find("must be a finite number above 0 (0 turns it off)"), std::string::npos) << error;
    EXPECT_EQ(error.rfind("softcap ", 0), 0u) << error;
  }
  p = small_problem();
  p.args.alibi_batch_stride = 4;
  EXPECT_EQ(error_of(p.args), "alibi_batch_stride 4 is set but alibi_slopes is null");
  float slopes[9] = {};
  p = small_problem();
  p.args.alibi_slopes = reinterpret_cast<const float*>(reinterpret_cast<const char*>(slopes) + 2);
  EXPECT_NE(error_of(p.args).find("is not aligned to 4 bytes (fp32)"), std::string::npos);
  p = small_problem();
  p.args.alibi_slopes = slopes;
  p.args.alibi_batch_stride = 3;  // 4 heads
  EXPECT_EQ(error_of(p.args), "alibi_batch_stride 3 must be 0 (one slope per head for every batch entry) or at "
                              "least num_heads 4 ([batch, num_heads] slopes)");
  p.args.alibi_batch_stride = 4;
  EXPECT_TRUE(validate_args(p.args).ok());
}

test::HostProblem ragged_problem() {
  return test::make_problem(test::ragged_shape({3, 0, 5}, {4, 7, 2}, 4, 2, 16, DType::f16));
}

TEST(Validate, RejectsBadRaggedLayouts) {
  test::HostProblem p = ragged_problem();
  ASSERT_TRUE(validate_args(p.args).ok()) << validate_args(p.args).status().message();
  p.args.cu_seqlens_k = nullptr;
  EXPECT_EQ(error_of(p.args), "cu_seqlens_q is set but cu_seqlens_k is null: a ragged batch needs both offsets arrays");
  p = ragged_problem();
  p.args.cu_seqlens_q = nullptr;
  EXPECT_EQ(error_of(p.args), "cu_seqlens_k is set but cu_seqlens_q is null: a ragged batch needs both offsets arrays");
  p = ragged_problem();
  p.args.cu_seqlens_k = reinterpret_cast<const int32_t*>(reinterpret_cast<const char*>(p.cu_seqlens_k.data()) + 1);
  EXPECT_NE(error_of(p.args).find("cu_seqlens_k pointer 0x"), std::string::npos);
  p = ragged_problem();
  p.args.v.strides.batch = 640;
  EXPECT_EQ(error_of(p.args), "v has batch stride 640 in a ragged batch: packed tensors step from sequence to "
                              "sequence by their offsets, so the batch stride must be 0");
  p = ragged_problem();
  p.args.seqlen_q = 0;  // max_seqlen_q
  EXPECT_EQ(error_of(p.args), "seqlen_q must be positive, got 0");
}

// The offsets themselves: each bad entry named by its index.
TEST(Validate, RaggedOffsetsAreCheckedEntryByEntry) {
  test::HostProblem p = ragged_problem();
  Result<AttentionArgs> a = validate_args(p.args);
  ASSERT_TRUE(a.ok());
  std::vector<int32_t> q = p.cu_seqlens_q, k = p.cu_seqlens_k;  // {0, 3, 3, 8}, {0, 4, 11, 13}
  EXPECT_TRUE(check_ragged_offsets(*a, q.data(), k.data()).ok());

  std::vector<int32_t> decreasing = {0, 3, 2, 8};
  Status s = check_ragged_offsets(*a, decreasing.data(), k.data());
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.message(), "cu_seqlens_q[2] = 2 is smaller than cu_seqlens_q[1] = 3: offsets must not decrease");

  std::vector<int32_t> negative = {-4, 4, 11, 13};
  EXPECT_EQ(check_ragged_offsets(*a, q.data(), negative.data()).message(),
            "cu_seqlens_k[0] = -4 is negative: offsets count tokens from 0");

  std::vector<int32_t> too_long = {0, 4, 12, 13};  // sequence 1 has 8 keys, seqlen_k (the longest) is 7
  EXPECT_EQ(check_ragged_offsets(*a, q.data(), too_long.data()).message(),
            "cu_seqlens_k[2] - cu_seqlens_k[1] = 8: sequence 1 is longer than seqlen_k = 7, the longest sequence "
            "the call declares");

  // With the totals known, the packed tensors' extent is checked like a dense call's: out placed
  // right behind q's 8 tokens is fine, on its last token it overlaps.
  AttentionArgs moved = *a;
  std::vector<uint16_t> joint(static_cast<size_t>(16) * 64 * 4, 0);
  moved.q.data = joint.data();
  moved.out.data = joint.data() + 8 * a->q.strides.seq;
  EXPECT_TRUE(check_ragged_offsets(moved, q.data(), k.data()).ok());
  moved.out.data = joint.data() + 7 * a->q.strides.seq;
  EXPECT_EQ(check_ragged_offsets(moved, q.data(), k.data()).message(),
            "out overlaps q: attention cannot be computed in place");
}

// The packed tensors' token counts: refused when negative, beyond int32 offsets, or without a ragged
// batch; given, they bound the tensors (extent and overlap checked without the offsets) and the
// offsets (check_ragged_offsets names the last one past its count).
TEST(Validate, RaggedTokenCountsBoundTheTensorsAndTheOffsets) {
  test::HostProblem p = ragged_problem();  // offsets {0, 3, 3, 8}, {0, 4, 11, 13}
  ASSERT_EQ(p.args.total_q, 8);
  ASSERT_EQ(p.args.total_k, 13);
  Result<AttentionArgs> a = validate_args(p.args);
  ASSERT_TRUE(a.ok()) << a.status().message();

  AttentionArgs bad = p.args;
  bad.total_k = -2;
  EXPECT_EQ(error_of(bad), "total_k = -2 is negative: a token count is 0 (not given) or more");
  bad = p.args;
  bad.total_q = int64_t{1} << 31;
  EXPECT_EQ(error_of(bad), "total_q = 2147483648 is beyond the int32 offsets of cu_seqlens (at most 2147483647)");
  test::HostProblem dense = test::make_problem(test::shape(1, 2, 2, 5, 5, 16, DType::f16));
  dense.args.total_k = 5;
  EXPECT_EQ(error_of(dense.args), "total_k = 5 is set but the batch is not ragged (cu_seqlens_q is null): token "
                                  "counts describe packed tensors");

  // Overlap is found from the counts alone: out on q's last token.
  std::vector<uint16_t> joint(static_cast<size_t>(16) * 64 * 4, 0);
  AttentionArgs moved = p.args;
  moved.q.data = joint.data();
  moved.out.data = joint.data() + 7 * a->q.strides.seq;
  EXPECT_EQ(error_of(moved), "out overlaps q: attention cannot be computed in place");
  moved.out.data = joint.data() + 8 * a->q.strides.seq;
  EXPECT_TRUE(validate_args(moved).ok());

  // Offsets past the counts.
  AttentionArgs fewer = *a;
  fewer.total_k = 12;
  EXPECT_EQ(check_ragged_offsets(fewer, p.cu_seqlens_q.data(), p.cu_seqlens_k.data()).message(),
            "cu_seqlens_k[3] = 13 is past total_k = 12, the packed tensor's token count");
  // Counts above the offsets' last entries are tensors with room to spare; zero queries are fine.
  AttentionArgs roomy = *a;
  roomy.total_q = 9;
  EXPECT_TRUE(check_ragged_offsets(roomy, p.cu_seqlens_q.data(), p.cu_seqlens_k.data()).ok());
  std::vector<int32_t> no_queries = {0, 0, 0, 0};
  AttentionArgs empty = *a;
  empty.total_q = 0;
  EXPECT_TRUE(validate_args(empty).ok());
  EXPECT_TRUE(check_ragged_offsets(empty, no_queries.data(), p.cu_seqlens_k.data()).ok());
}

}  // namespace
}  // namespace flashjit
