// The GPU tuning backend's inputs for a problem with a ragged batch, score modifiers (issue 14) or a
// KV cache (issue 15),
// on the host side a test can see: the correctness check's small problem keeps the tuned problem's
// features, values (a wide window narrowed to cross the check's keys) and GQA ratio, and a ragged
// one is a batch with an empty sequence, a row that sees no key and odd tails, which the CPU backend
// (the check's reference) computes.
#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"
#include "helpers/naive_reference.h"
#include "problem/kv_cache_args.h"
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

// A KV-cache problem's inputs as the tuner (and `flashjit run`) make them: seqused_k of the check's
// counts, each sequence's pages in a shuffled order, the appended keys in their own tensors. The
// check keeps the tuned problem's page size and appends 3 keys (crossing pages of 1 or 2 keys), and
// the CPU backend computes exactly the double-precision reference of the keys gathered through the
// table by hand.
TEST(TuningInputs, AKvCacheCheckReadsShuffledPagesAndAppends) {
  ProblemFeatures f{DType::f32, 32, MaskKind::causal};
  f.kv_cache = f.paged = f.append = true;
  auto tuned = Problem::of_shape(f, ProblemShape{8, 8, 2, 1, 8192, 2, 1});
  ASSERT_TRUE(static_cast<bool>(tuned)) << llvm::toString(tuned.takeError());
  auto check = correctness_check_problem(*tuned);
  ASSERT_TRUE(static_cast<bool>(check)) << llvm::toString(check.takeError());
  const Problem& p = check->problem;
  EXPECT_EQ(p.features(), tuned->features());
  EXPECT_EQ(p.shape().page_size, 2);
  EXPECT_EQ(p.shape().seqlen_new, 3);
  EXPECT_EQ(p.shape().seqlen_q, 1) << "a decode problem is checked at its own query rows";
  EXPECT_EQ(check->k_lengths, (std::vector<int>{130, 5, 0, 61}));
  EXPECT_EQ(p.pages_per_sequence(), 67);  // 133 keys in pages of 2
  EXPECT_EQ(check->k_rows(), 4 * 67 * 2);

  const ModifierData data = modifier_data(p, check->q_lengths, check->k_lengths);
  EXPECT_EQ(data.seqused_k, (std::vector<int32_t>{130, 5, 0, 61}));
  std::vector<int32_t> sorted = data.block_table;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) ASSERT_EQ(sorted[i], static_cast<int32_t>(i)) << "each page once";
  EXPECT_NE(sorted, data.block_table) << "the pages are shuffled";

  const int heads = p.shape().num_heads, kv_heads = p.shape().num_kv_heads, d = 32, batch = p.shape().batch;
  const int64_t row = int64_t{kv_heads} * d;  // a key row's floats
  std::vector<float> q(size_t(batch) * heads * d), k(size_t(check->k_rows() * row)), v(k.size());
  std::vector<float> k_new(size_t(p.new_key_rows() * row)), v_new(k_new.size()), out(q.size(), NAN);
  for (size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.1f * i);
  for (size_t i = 0; i < k.size(); ++i) k[i] = std::cos(0.07f * i), v[i] = std::sin(0.03f * i);
  for (size_t i = 0; i < k_new.size(); ++i) k_new[i] = std::cos(0.11f * i), v_new[i] = std::sin(0.05f * i);
  ModifierPointers pointers = data.pointers();
  pointers.k_new = k_new.data();
  pointers.v_new = v_new.data();
  Result<AttentionArgs> valid = validate_args(p.contiguous_args(q.data(), k.data(), v.data(), out.data(), pointers));
  ASSERT_TRUE(valid.ok()) << valid.status().to_string();
  ASSERT_TRUE(check_kv_cache_contents(*valid, data.seqused_k.data(), data.block_table.data()).ok());
  EXPECT_EQ(Problem::of_call(*valid).key().page_size, 2);
  EXPECT_EQ(Problem::of_call(*valid).features(), tuned->features());

  // The same keys gathered by hand: sequence b's cached rows through its pages, then its new ones.
  std::vector<float> packed_k, packed_v;
  std::vector<int32_t> cu_k{0};
  for (int b = 0; b < batch; ++b) {
    const int used = data.seqused_k[size_t(b)];
    for (int j = 0; j < used + 3; ++j) {
      size_t at = 0;
      const float *from_k = nullptr, *from_v = nullptr;
      if (j < used) {
        const int page = data.block_table[size_t(b * p.pages_per_sequence() + j / 2)];
        at = size_t((int64_t{page} * 2 + j % 2) * row);
        from_k = &k[at];
        from_v = &v[at];
      } else {
        at = size_t((int64_t{b} * 3 + j - used) * row);
        from_k = &k_new[at];
        from_v = &v_new[at];
      }
      packed_k.insert(packed_k.end(), from_k, from_k + row);
      packed_v.insert(packed_v.end(), from_v, from_v + row);
    }
    cu_k.push_back(cu_k.back() + used + 3);
  }
  AttentionArgs reference = *valid;
  reference.seqused_k = reference.block_table = nullptr;
  reference.page_size = reference.num_pages = reference.max_pages_per_sequence = 0;
  reference.k_new = reference.v_new = InputTensor{};
  reference.seqlen_new = 0;
  reference.k.data = packed_k.data();
  reference.v.data = packed_v.data();
  reference.k.strides = reference.v.strides = Strides{0, row, d};
  reference.cu_seqlens_k = cu_k.data();
  const test::ReferenceOutput expected = test::naive_attention(reference);

  cpu::CpuAttention(0).forward(*valid);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < d; ++i) {
        const size_t at = (size_t(b) * heads + h) * d + i;
        EXPECT_NEAR(out[at], expected.out[at], 1e-5) << "b " << b << " h " << h << " i " << i;
      }
}

}  // namespace
}  // namespace flashjit
