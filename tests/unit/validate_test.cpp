// Every validation failure has its own message, and a valid call is normalized.
#include <cmath>
#include <cstdint>
#include <string>

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

}  // namespace
}  // namespace flashjit
