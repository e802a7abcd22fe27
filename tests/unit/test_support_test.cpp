// The test helpers the GPU tests lean on, checked where they can be: on the CPU backend. A poison
// check that cannot see a write, or two layouts under one test name, would make GPU tests pass
// (or collide) for the wrong reason.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"
#include "runtime/cpu/cpu_attention.h"
#include "problem/validate.h"
#include "helpers/compare.h"
#include "helpers/cpu_reference.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

using test::HostProblem;
using test::shape;

void run_cpu_backend(HostProblem& p) {
  Result<AttentionArgs> normalized = validate_args(p.args);
  ASSERT_TRUE(normalized.ok()) << normalized.status().to_string();
  cpu::CpuAttention(1).forward(*normalized);
}

TEST(TestSupportPoison, AFreshProblemIsPoisonedAndAComputedOneIsNot) {
  HostProblem p = test::make_problem(shape(1, 2, 1, 9, 13, 16, DType::bf16, MaskKind::causal));
  EXPECT_TRUE(test::output_is_poisoned(p));
  EXPECT_TRUE(test::lse_is_poisoned(p));
  run_cpu_backend(p);
  EXPECT_FALSE(test::output_is_poisoned(p));
  EXPECT_FALSE(test::lse_is_poisoned(p));
}

TEST(TestSupportPoison, OneWrittenValueIsSeen) {
  HostProblem p = test::make_problem(shape(1, 1, 1, 3, 3, 8, DType::f16));
  store_from_float(p.out.data(), DType::f16, static_cast<int64_t>(p.out.size() / 2 - 1), 0.0f);
  EXPECT_FALSE(test::output_is_poisoned(p));
  p.lse.back() = 0.0f;
  EXPECT_FALSE(test::lse_is_poisoned(p));
}

TEST(TestSupportLse, WithoutLseTheArgsCarryNoneButTheReferenceHasIt) {
  test::ProblemShape s = shape(1, 2, 2, 7, 5, 16, DType::f16, MaskKind::causal);
  s.with_lse = false;
  HostProblem p = test::make_problem(s);
  EXPECT_EQ(p.args.lse, nullptr);
  const test::ReferenceOutput reference = test::cpu_reference(p);
  ASSERT_EQ(reference.lse.size(), p.lse.size());
  EXPECT_NE(reference.lse.back(), test::kLsePoison);
  EXPECT_TRUE(test::lse_is_poisoned(p)) << "cpu_reference wrote into the problem it was given";
  run_cpu_backend(p);
  EXPECT_TRUE(test::matches_reference(p, reference, /*check_lse=*/false, test::kCpuLseTolerance));
  EXPECT_TRUE(test::lse_is_poisoned(p));
}

TEST(TestSupportNames, LayoutsScalesAndLseGetTheirOwnNames) {
  test::ProblemShape base = shape(1, 2, 2, 77, 133, 64, DType::f16);
  std::set<std::string> names = {base.name()};
  for (int pad : {1, 3, 8}) {
    test::ProblemShape head = base, seq = base;
    head.head_padding = pad;
    seq.seq_padding = pad;
    names.insert(head.name());
    names.insert(seq.name());
  }
  test::ProblemShape scaled = base, no_lse = base;
  scaled.softmax_scale = 0.3f;
  no_lse.with_lse = false;
  names.insert(scaled.name());
  names.insert(no_lse.name());
  EXPECT_EQ(names.size(), 9u);
  EXPECT_EQ(scaled.name(), "b1_h2_kv2_q77_k133_d64_f16_scale0p3");
  for (const std::string& n : names)
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), std::string::npos)
        << n << " is not a valid GoogleTest name";
}

}  // namespace
}  // namespace flashjit
