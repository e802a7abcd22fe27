// A Problem's score-modifier values (issue 14): made from a call, from sizes and values (checked as
// a call's, the features following the values), written into the arguments of FlashJIT's own runs
// with a ragged batch's offsets and ALiBi's slopes (problem/modifier_data.h), and counted by
// attention_flops.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "problem/modifier_data.h"
#include "problem/problem.h"
#include "problem/validate.h"

namespace flashjit {
namespace {

Problem problem_of(ProblemFeatures features, ProblemShape shape, ScoreModValues values) {
  auto p = Problem::of_shape(features, shape, values);
  if (!p) ADD_FAILURE() << llvm::toString(p.takeError());
  return std::move(*p);
}

TEST(ScoreModValues, TheFeaturesFollowTheValuesAsACallsDo) {
  const ProblemShape shape{2, 4, 2, 64, 64};
  const ProblemFeatures none{DType::bf16, 64, MaskKind::none};
  const ProblemFeatures causal{DType::bf16, 64, MaskKind::causal};
  EXPECT_EQ(problem_of(none, shape, {}).key().str(), "bf16_d64_none_gqa2_len128");
  EXPECT_EQ(problem_of(none, shape, {16, -1, 0.0f}).key().str(), "bf16_d64_none_window_gqa2_len128");
  EXPECT_EQ(problem_of(none, shape, {-1, 16, 0.0f}).key().str(), "bf16_d64_none_window_gqa2_len128");
  // Under the causal mask only a left bound is more than the mask.
  EXPECT_EQ(problem_of(causal, shape, {-1, 16, 0.0f}).key().str(), "bf16_d64_causal_gqa2_len128");
  EXPECT_EQ(problem_of(causal, shape, {8, 0, 0.0f}).key().str(), "bf16_d64_causal_window_gqa2_len128");
  EXPECT_EQ(problem_of(none, shape, {-1, -1, 50.0f}).key().str(), "bf16_d64_none_softcap_gqa2_len128");
  const Problem windowed = problem_of(causal, shape, {8, 0, 30.0f});
  EXPECT_EQ(windowed.score_mod_values(), (ScoreModValues{8, 0, 30.0f}));
}

TEST(ScoreModValues, ACallsValuesAreItsProblems) {
  AttentionArgs a;
  a.batch = 1;
  a.num_heads = a.num_kv_heads = 2;
  a.seqlen_q = a.seqlen_k = 16;
  a.head_dim = 64;
  a.window_left = 5;
  a.window_right = 3;
  a.softcap = 20.0f;
  const Problem p = Problem::of_call(a);
  EXPECT_EQ(p.score_mod_values(), (ScoreModValues{5, 3, 20.0f}));
  EXPECT_TRUE(p.features().window);
  EXPECT_TRUE(p.features().softcap);
}

// The messages validate_args gives a call's values.
TEST(ScoreModValues, BadValuesAreRefusedByName) {
  const ProblemFeatures f{DType::f16, 64, MaskKind::none};
  const ProblemShape shape;
  using flashjit::testing::message_of;
  EXPECT_EQ(message_of(Problem::of_shape(f, shape, {-2, 0, 0.0f}), ErrorCode::invalid_argument),
            "window_left -2 is below -1 (-1 means unbounded)");
  EXPECT_EQ(message_of(Problem::of_shape(f, shape, {0, -7, 0.0f}), ErrorCode::invalid_argument),
            "window_right -7 is below -1 (-1 means unbounded)");
  EXPECT_EQ(message_of(Problem::of_shape(f, shape, {-1, -1, -1.0f}), ErrorCode::invalid_argument),
            "softcap -1.00 must be a finite number above 0 (0 turns it off)");
  EXPECT_EQ(message_of(Problem::of_shape(f, shape, {-1, -1, NAN}), ErrorCode::invalid_argument),
            "softcap nan must be a finite number above 0 (0 turns it off)");
}

// A softcap kernel at softcap 0 would turn every score into 0: a problem with the feature but no
// value (a stored key, doctor, emit) runs at the nominal cap, so its kernel's timing and check
// compute a real softmax that the CPU backend's agrees with.
TEST(ScoreModValues, ASoftcapFeatureWithoutAValueRunsAtTheNominalCap) {
  ProblemFeatures f{DType::f16, 64, MaskKind::none};
  f.softcap = true;
  auto from_features = Problem::of_features(f);
  ASSERT_TRUE(static_cast<bool>(from_features));
  EXPECT_EQ(from_features->score_mod_values().softcap, kNominalSoftcap);
  EXPECT_EQ(problem_of(f, ProblemShape{}, {}).score_mod_values().softcap, kNominalSoftcap);
  EXPECT_EQ(problem_of(f, ProblemShape{}, {-1, -1, 7.0f}).score_mod_values().softcap, 7.0f);
  ProblemKey key = from_features->key();
  EXPECT_EQ(Problem::of_key(key).score_mod_values().softcap, kNominalSoftcap);
}

// What the tuner times a ragged problem with: `batch` sequences of its longest lengths, packed,
// with the offsets (here on the host) and ALiBi's slopes; the arguments are a valid call of the
// same key, window and softcap.
TEST(ModifierData, ARaggedProblemRunsAsBatchSequencesOfItsLongestLengths) {
  ProblemFeatures f{DType::f16, 64, MaskKind::causal};
  f.ragged = true;
  f.alibi = true;
  const Problem p = problem_of(f, ProblemShape{3, 4, 2, 100, 150}, {32, 0, 40.0f});
  const ModifierData data = modifier_data(p);
  EXPECT_EQ(data.cu_seqlens_q, (std::vector<int32_t>{0, 100, 200, 300}));
  EXPECT_EQ(data.cu_seqlens_k, (std::vector<int32_t>{0, 150, 300, 450}));
  EXPECT_EQ(data.alibi_slopes, alibi_geometric_slopes(4));
  EXPECT_EQ(data.q_tokens(), 300);
  EXPECT_EQ(data.k_tokens(), 450);

  std::vector<uint16_t> q(300 * 4 * 64), k(450 * 2 * 64), v(k.size()), out(q.size());
  const AttentionArgs a = p.contiguous_args(q.data(), k.data(), v.data(), out.data(), data.pointers());
  EXPECT_EQ(a.cu_seqlens_q, data.cu_seqlens_q.data());
  EXPECT_EQ(a.alibi_slopes, data.alibi_slopes.data());
  EXPECT_EQ(a.q.strides.batch, 0);
  EXPECT_EQ(a.q.strides.seq, 4 * 64);
  EXPECT_EQ(a.k.strides.batch, 0);
  EXPECT_EQ(a.total_q, data.cu_seqlens_q.back());
  EXPECT_EQ(a.total_k, data.cu_seqlens_k.back());
  EXPECT_EQ(a.window_left, 32);
  EXPECT_EQ(a.window_right, 0);
  EXPECT_EQ(a.softcap, 40.0f);
  Result<AttentionArgs> valid = validate_args(a);
  ASSERT_TRUE(valid.ok()) << valid.status().to_string();
  EXPECT_TRUE(check_ragged_offsets(*valid, a.cu_seqlens_q, a.cu_seqlens_k).ok());
  // The same key as the calls it stands for: packed tensors TMA addresses by their token counts.
  EXPECT_EQ(Problem::of_call(*valid).key().str(), p.key().str());
  EXPECT_EQ(p.key().str(), "f16_d64_causal_window_softcap_alibi_varlen_gqa2_len256");
  EXPECT_EQ(Problem::of_call(*valid).score_mod_values(), p.score_mod_values());
}

TEST(ModifierData, GivenLengthsAreTheOffsetsAndADenseProblemHasNone) {
  ProblemFeatures f{DType::bf16, 64, MaskKind::none};
  f.ragged = true;
  const Problem ragged = problem_of(f, ProblemShape{4, 2, 2, 17, 9}, {});
  const ModifierData data = modifier_data(ragged, {5, 0, 17, 1}, {9, 3, 0, 2});
  EXPECT_EQ(data.cu_seqlens_q, (std::vector<int32_t>{0, 5, 5, 22, 23}));
  EXPECT_EQ(data.cu_seqlens_k, (std::vector<int32_t>{0, 9, 12, 12, 14}));
  EXPECT_TRUE(data.alibi_slopes.empty());

  const Problem dense = problem_of({DType::bf16, 64, MaskKind::none}, ProblemShape{2, 2, 2, 8, 8}, {});
  const ModifierData none = modifier_data(dense);
  EXPECT_TRUE(none.cu_seqlens_q.empty() && none.cu_seqlens_k.empty() && none.alibi_slopes.empty());
  // A dense problem's arguments take no pointer it does not use, and keep their batch stride.
  std::vector<uint16_t> t(2 * 8 * 2 * 64);
  const AttentionArgs a = dense.contiguous_args(t.data(), t.data(), t.data(), t.data(), data.pointers());
  EXPECT_EQ(a.cu_seqlens_q, nullptr);
  EXPECT_EQ(a.alibi_slopes, nullptr);
  EXPECT_EQ(a.q.strides.batch, 8 * 2 * 64);
}

// Press et al.'s slopes: 2^(-8h/n) for a power of two, else the largest power of two's slopes and
// every other slope of twice as many.
TEST(ModifierData, AlibiSlopesAreGeometric) {
  const std::vector<float> eight = alibi_geometric_slopes(8);
  ASSERT_EQ(eight.size(), 8u);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(eight[h], std::exp2(-(h + 1.0f)));
  const std::vector<float> twelve = alibi_geometric_slopes(12);
  ASSERT_EQ(twelve.size(), 12u);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(twelve[h], eight[h]);
  // Then 2^(-0.5), 2^(-1.5), 2^(-2.5), 2^(-3.5): the odd slopes of 16 heads.
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(twelve[8 + i], std::exp2(-0.5f - i));
  EXPECT_EQ(alibi_geometric_slopes(1), std::vector<float>{std::exp2(-8.0f)});
}

// TFLOP/s stay honest: a window counts the keys each row sees; a ragged batch its own sequences.
TEST(AttentionFlops, WindowsAndRaggedBatchesCountTheirWork) {
  const ProblemShape shape{1, 2, 2, 8, 8};
  const double per_pair = 4.0 * 2 * 64;  // heads * head_dim * 4
  EXPECT_EQ(attention_flops(problem_of({DType::f16, 64, MaskKind::none}, shape, {})), per_pair * 64);
  EXPECT_EQ(attention_flops(problem_of({DType::f16, 64, MaskKind::causal}, shape, {})), per_pair * 32);
  // Window 2,1 on 8x8: rows see 2, 3, 4, 4, 4, 4, 4, 3 keys.
  EXPECT_EQ(attention_flops(problem_of({DType::f16, 64, MaskKind::none}, shape, {2, 1, 0.0f})), per_pair * 28);
  // Causal with a left bound of 0: the diagonal alone.
  EXPECT_EQ(attention_flops(problem_of({DType::f16, 64, MaskKind::causal}, shape, {0, -1, 0.0f})), per_pair * 8);
  // seqlen_k < seqlen_q, bottom-right aligned: row i sees keys i-5 .. i-4 of 4 (none before row 4).
  EXPECT_EQ(attention_flops(problem_of({DType::f16, 64, MaskKind::none}, ProblemShape{1, 2, 2, 8, 4}, {1, 0, 0.0f})),
            per_pair * (0 + 0 + 0 + 0 + 1 + 2 + 2 + 2));
  ProblemFeatures ragged{DType::f16, 64, MaskKind::none};
  ragged.ragged = true;
  const Problem batch = problem_of(ragged, ProblemShape{3, 2, 2, 8, 8}, {});
  EXPECT_EQ(attention_flops(batch, {8, 0, 3}, {8, 5, 2}), per_pair * (64 + 0 + 6));
}

}  // namespace
}  // namespace flashjit
