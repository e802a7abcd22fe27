// The GPU tuning backend's inputs for a problem with a ragged batch or score modifiers (issue 14),
// on the host side a test can see: the correctness check's small problem keeps the tuned problem's
// features, values (a wide window narrowed to cross the check's keys) and GQA ratio, and a ragged
// one is a batch with an empty sequence, a row that sees no key and odd tails, which the CPU backend
// (the check's reference) computes.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"
#include "problem/modifier_data.h"
#include "problem/validate.h"
#include "runtime/cpu/cpu_attention.h"
#include "runtime/cuda_tuning_backend.h"

namespace flashjit {
namespace {

Problem tuned_problem(ProblemFeatures features, ScoreModValues values) {
  auto p = Problem::of_shape(features, ProblemShape{4, 32, 8, 4096, 4096}, values);
  if (!p) ADD_FAILURE() << llvm::toString(p.takeError());
  return std::move(*p);
}

TEST(TuningInputs, TheCheckKeepsTheFeaturesValuesAndGqaRatio) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::causal};
  f.alibi = true;
  const Problem tuned = tuned_problem(f, {256, 0, 50.0f});
  auto check = correctness_check_problem(tuned);
  ASSERT_TRUE(static_cast<bool>(check)) << llvm::toString(check.takeError());
  EXPECT_EQ(check->problem.features(), tuned.features());
  // The window's left edge shrinks into the check's 133 keys; its right side (0) and softcap stay.
  EXPECT_EQ(check->problem.score_mod_values(), (ScoreModValues{32, 0, 50.0f}));
  EXPECT_EQ(check->problem.gqa_ratio(), tuned.gqa_ratio());
  const ProblemShape& s = check->problem.shape();
  EXPECT_EQ(s.batch, 1);
  EXPECT_EQ(s.seqlen_q, 77);
  EXPECT_EQ(s.seqlen_k, 133);
  EXPECT_TRUE(check->q_lengths.empty());
  EXPECT_EQ(check->q_rows(), 77);
  EXPECT_EQ(check->k_rows(), 133);
}

TEST(TuningInputs, ARaggedCheckHasAnEmptySequenceAndARowWithoutKeys) {
  ProblemFeatures f{DType::f16, 64, MaskKind::none};
  f.ragged = true;
  const Problem tuned = tuned_problem(f, {-1, 16, 0.0f});
  auto check = correctness_check_problem(tuned);
  ASSERT_TRUE(static_cast<bool>(check)) << llvm::toString(check.takeError());
  EXPECT_EQ(check->problem.features(), tuned.features());
  EXPECT_EQ(check->problem.score_mod_values(), (ScoreModValues{-1, 16, 0.0f})) << "a narrow window stays";
  EXPECT_EQ(check->q_lengths, (std::vector<int>{77, 0, 1, 30}));
  EXPECT_EQ(check->k_lengths, (std::vector<int>{133, 5, 0, 61}));
  EXPECT_EQ(check->problem.shape().batch, 4);
  EXPECT_EQ(check->q_rows(), 108);
  EXPECT_EQ(check->k_rows(), 199);
}

// The reference side of the check: the CPU backend on the host arguments the check builds, with
// every modifier. Each output row is written: a finite value, zeros for the row without keys.
TEST(TuningInputs, TheCpuBackendComputesARaggedCheckWithEveryModifier) {
  ProblemFeatures f{DType::f16, 64, MaskKind::causal};
  f.ragged = true;
  f.alibi = true;
  const Problem tuned = tuned_problem(f, {40, 0, 30.0f});
  auto check = correctness_check_problem(tuned);
  ASSERT_TRUE(static_cast<bool>(check)) << llvm::toString(check.takeError());
  const Problem& p = check->problem;
  const ModifierData data = modifier_data(p, check->q_lengths, check->k_lengths);
  const int64_t q_elements = check->q_rows() * p.shape().num_heads * 64;
  const int64_t k_elements = check->k_rows() * p.shape().num_kv_heads * 64;
  std::vector<uint8_t> q(q_elements * 2), k(k_elements * 2), v(k_elements * 2), out(q_elements * 2, 0xff);
  for (int64_t i = 0; i < q_elements; ++i) store_from_float(q.data(), DType::f16, i, std::sin(0.1f * i));
  for (int64_t i = 0; i < k_elements; ++i) store_from_float(k.data(), DType::f16, i, std::cos(0.07f * i));
  for (int64_t i = 0; i < k_elements; ++i) store_from_float(v.data(), DType::f16, i, std::sin(0.03f * i));
  const AttentionArgs a = p.contiguous_args(q.data(), k.data(), v.data(), out.data(), data.pointers());
  Result<AttentionArgs> valid = validate_args(a);
  ASSERT_TRUE(valid.ok()) << valid.status().to_string();
  ASSERT_TRUE(check_ragged_offsets(*valid, a.cu_seqlens_q, a.cu_seqlens_k).ok());
  EXPECT_EQ(Problem::of_call(*valid).features(), tuned.features());
  cpu::CpuAttention(0).forward(*valid);
  for (int64_t i = 0; i < q_elements; ++i) ASSERT_TRUE(std::isfinite(load_as_float(out.data(), DType::f16, i))) << i;
  // Sequence 2 (one query row, no key) is zeros.
  const int64_t row = data.cu_seqlens_q[2];
  for (int d = 0; d < 64; ++d) EXPECT_EQ(load_as_float(out.data(), DType::f16, row * p.shape().num_heads * 64 + d), 0.0f);
}

}  // namespace
}  // namespace flashjit
