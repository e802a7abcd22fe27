// The CPU backend against the double-precision naive reference, over shapes, masks, layouts and
// dtypes; and its determinism across thread counts and concurrent callers.
#include "runtime/cpu/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <tuple>
#include <utility>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"
#include "problem/validate.h"
#include "helpers/compare.h"
#include "helpers/naive_reference.h"
#include "helpers/nan_scores.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

using test::HostProblem;
using test::ProblemShape;
using test::capped;
using test::windowed;
using test::with_alibi;
using test::shape;

// The normalized args of `p` (as the runtime would pass them to a backend).
AttentionArgs normalized_args(const HostProblem& p) {
  Result<AttentionArgs> r = validate_args(p.args);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r.value() : p.args;
}

// `normalized`, pointing at the buffers of `p` instead.
AttentionArgs pointing_at(AttentionArgs normalized, HostProblem& p) {
  normalized.q.data = p.q.data();
  normalized.k.data = p.k.data();
  normalized.v.data = p.v.data();
  normalized.out.data = p.out.data();
  normalized.lse = p.lse.data();
  return normalized;
}

// One instance per thread count and instruction set, shared by the tests, as the runtime would keep
// one.
const cpu::CpuAttention& attention_with(int threads, cpu::CpuIsa isa = cpu::best_cpu_isa()) {
  static std::mutex mutex;
  static std::map<std::pair<int, cpu::CpuIsa>, std::unique_ptr<cpu::CpuAttention>> instances;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<cpu::CpuAttention>& instance = instances[{threads, isa}];
  if (!instance) instance = std::make_unique<cpu::CpuAttention>(threads, isa);
  return *instance;
}

ProblemShape padded(ProblemShape s, int head_padding, int seq_padding) {
  s.head_padding = head_padding;
  s.seq_padding = seq_padding;
  return s;
}

ProblemShape scaled(ProblemShape s, float softmax_scale) {
  s.softmax_scale = softmax_scale;
  return s;
}

struct CpuCase {
  std::string label;
  ProblemShape shape;
};

std::vector<CpuCase> reference_cases() {
  constexpr DType f32 = DType::f32, f16 = DType::f16, bf16 = DType::bf16;
  constexpr MaskKind causal = MaskKind::causal;
  return {
      {"single_row_f32", shape(1, 1, 1, 1, 1, 64, f32)},
      {"single_row_causal_bf16", shape(1, 1, 1, 1, 1, 64, bf16, causal)},
      {"seq17_f16", shape(2, 2, 2, 17, 17, 64, f16)},
      {"seq17_causal_f32", shape(1, 2, 2, 17, 17, 64, f32, causal)},
      {"seq1000_f32", shape(1, 1, 1, 1000, 1000, 64, f32)},
      {"seq1000_causal_bf16", shape(1, 1, 1, 1000, 1000, 64, bf16, causal)},
      {"decode_q1_k1000_causal_f16", shape(1, 4, 1, 1, 1000, 64, f16, causal)},
      {"seq1000_q_shorter_causal_f16", shape(1, 2, 1, 900, 1000, 32, f16, causal)},
      {"q_shorter_than_k_f16", shape(1, 2, 1, 17, 200, 64, f16)},
      {"q_longer_than_k_f32", shape(1, 2, 2, 200, 17, 64, f32)},
      // Rows 0..79 see no key: a whole query block and part of the next are fully masked.
      {"causal_q_longer_than_k_f16", shape(2, 2, 1, 150, 70, 64, f16, causal)},
      {"causal_q_longer_than_k_f32", shape(1, 1, 1, 5, 3, 8, f32, causal)},
      {"causal_q_shorter_than_k_bf16", shape(1, 2, 2, 70, 150, 40, bf16, causal)},
      {"gqa_8_over_2_causal_f16", shape(1, 8, 2, 65, 65, 64, f16, causal)},
      {"mqa_f32", shape(2, 4, 1, 33, 80, 32, f32)},
      {"mqa_bf16", shape(1, 4, 1, 33, 80, 32, bf16)},
      {"strided_f32", padded(shape(2, 3, 3, 40, 70, 64, f32), 8, 24)},
      {"strided_gqa_causal_f16", padded(shape(2, 4, 2, 70, 40, 40, f16, causal), 3, 5)},
      {"strided_bf16", padded(shape(1, 2, 1, 20, 90, 16, bf16), 1, 7)},
      {"custom_scale_f32", scaled(shape(1, 2, 2, 50, 90, 64, f32), 0.37f)},
      {"sharp_scale_causal_f16", scaled(shape(1, 1, 1, 50, 90, 64, f16, causal), 3.0f)},
      {"head_dim8_f32", shape(1, 2, 2, 70, 70, 8, f32)},
      {"head_dim40_f16", shape(1, 2, 1, 70, 70, 40, f16)},
      {"head_dim128_causal_bf16", shape(1, 2, 2, 70, 130, 128, bf16, causal)},
      {"head_dim256_f32", shape(1, 1, 1, 70, 70, 256, f32)},
      {"head_dim256_causal_f16", shape(1, 2, 1, 70, 100, 256, f16, causal)},
  };
}

// Issue 14: ragged batches, sliding windows, softcap and ALiBi, alone and together.
std::vector<CpuCase> modifier_cases() {
  constexpr DType f32 = DType::f32, f16 = DType::f16, bf16 = DType::bf16;
  constexpr MaskKind causal = MaskKind::causal;
  using test::ragged_shape;
  return {
      {"window_both_sides_f32", windowed(shape(2, 2, 1, 77, 93, 64, f32), 5, 3)},
      {"window_left_only_f16", windowed(shape(1, 2, 2, 130, 41, 64, f16), 20, -1)},
      {"window_right_only_bf16", windowed(shape(1, 2, 2, 60, 90, 32, bf16), -1, 0)},
      {"window_diagonal_only_f32", windowed(shape(1, 1, 1, 70, 70, 64, f32), 0, 0)},
      {"window_wider_than_the_sequence_f16", windowed(shape(1, 2, 1, 50, 40, 64, f16), 500, 500)},
      {"causal_window_left_f16", windowed(shape(2, 4, 2, 150, 70, 64, f16, causal), 17, -1)},
      // A right bound under causal is ignored, as in FlashAttention-2 (causal means right = 0).
      {"causal_window_right_ignored_f32", windowed(shape(1, 2, 2, 45, 200, 32, f32, causal), 3, 9)},
      {"window_long_f32", windowed(shape(1, 1, 1, 1000, 1200, 64, f32), 100, 30)},
      {"softcap_sharp_f16", capped(shape(2, 2, 1, 33, 70, 64, f16), 0.5f)},
      {"softcap_gemma_causal_bf16", capped(shape(1, 3, 3, 61, 61, 128, bf16, causal), 30.0f)},
      {"softcap_scaled_f32", capped(scaled(shape(1, 2, 2, 40, 80, 64, f32), 4.0f), 1.0f)},
      {"alibi_f16", with_alibi(shape(2, 4, 2, 40, 97, 64, f16))},
      {"alibi_per_batch_causal_f32", with_alibi(shape(3, 2, 1, 70, 50, 64, f32, causal), true)},
      {"ragged_f16", ragged_shape({0, 1, 37, 100, 5}, {7, 0, 37, 64, 130}, 2, 1, 64, f16)},
      {"ragged_causal_bf16", ragged_shape({17, 0, 64, 3}, {17, 9, 130, 1}, 3, 3, 128, bf16, causal)},
      {"ragged_all_empty_f32", ragged_shape({0, 0}, {0, 5}, 2, 2, 32, f32)},
      {"ragged_long_f32", ragged_shape({1000, 1, 300}, {900, 1000, 2}, 1, 1, 64, f32, causal)},
      {"ragged_strided_f16", padded(ragged_shape({20, 57}, {64, 31}, 4, 2, 40, f16), 8, 3)},
      {"everything_causal_f16",
       with_alibi(capped(windowed(ragged_shape({33, 1, 90}, {70, 12, 45}, 4, 2, 64, f16, causal), 9, -1), 2.0f),
                  true)},
      {"everything_two_sided_bf16",
       with_alibi(capped(windowed(ragged_shape({20, 57}, {64, 31}, 2, 2, 64, bf16), 4, 11), 1.0f))},
  };
}

// Issue 16: the block kernels' edges. Head dims that end in a narrower accumulator tile (72, 136,
// 248), key counts one past a block, 8 and 9 query rows (the decode walk and wide lanes), split-KV:
// few units with many keys, whose shares (some empty under a window) are merged, and decode's key
// blocks sized by the kv heads.
std::vector<CpuCase> kernel_edge_cases() {
  constexpr DType f32 = DType::f32, f16 = DType::f16, bf16 = DType::bf16;
  constexpr MaskKind causal = MaskKind::causal;
  return {
      {"head_dim72_f32", shape(1, 2, 1, 70, 90, 72, f32)},
      {"head_dim136_causal_f16", shape(1, 2, 1, 65, 65, 136, f16, causal)},
      {"keys_one_past_two_blocks_f32", shape(1, 1, 1, 64, 129, 8, f32)},
      {"eight_rows_narrow_bf16", shape(1, 2, 2, 8, 300, 64, bf16, causal)},
      {"nine_rows_wide_f16", shape(1, 2, 2, 9, 300, 64, f16)},
      {"split_kv_decode_f32", shape(1, 1, 1, 1, 3000, 64, f32)},
      {"split_kv_decode_gqa_causal_f16", shape(1, 4, 2, 1, 2500, 128, f16, causal)},
      {"split_kv_eight_rows_d72_bf16", shape(1, 2, 1, 8, 1500, 72, bf16, causal)},
      {"split_kv_prefill_causal_d248_f32", shape(1, 1, 1, 130, 1100, 248, f32, causal)},
      {"split_kv_window_with_empty_shares_f16", windowed(shape(1, 1, 1, 3, 2000, 32, f16), 100, 0)},
      {"split_kv_softcap_alibi_bf16", with_alibi(capped(shape(2, 2, 1, 1, 1200, 64, bf16, causal), 5.0f))},
      // Decode walks blocks of all kv heads' rows: 8 keys at 32 kv heads of d 256 (the last block 4),
      // 16 at 16 kv heads of d 128 with 4 query heads each.
      {"decode_blocks_of_8_keys_f16", shape(1, 32, 32, 1, 300, 256, f16)},
      {"decode_gqa_blocks_of_16_keys_causal_bf16", shape(2, 64, 16, 3, 200, 128, bf16, causal)},
  };
}

// Names a case by its label in gtest's failure messages (instead of a byte dump).
void PrintTo(const CpuCase& c, std::ostream* os) { *os << c.label << " (" << c.shape.name() << ")"; }

class CpuAttentionReference : public testing::TestWithParam<std::tuple<CpuCase, cpu::CpuIsa>> {};

// Each case runs, with each instruction set this CPU runs, three ways: 1 thread with lse, 3 threads
// with lse, 3 threads without lse. The first is checked against the reference; the others must be
// bit-identical to it (an item's work does not depend on the thread that runs it, nor the split-KV
// shares on the thread count).
TEST_P(CpuAttentionReference, MatchesTheNaiveReference) {
  const auto& [cpu_case, isa] = GetParam();
  const HostProblem base = test::make_problem(cpu_case.shape);
  const AttentionArgs args = normalized_args(base);
  const test::ReferenceOutput ref = test::naive_attention(args);

  HostProblem single = base;
  attention_with(1, isa).forward(pointing_at(args, single));
  EXPECT_TRUE(test::matches_reference(single, ref, /*check_lse=*/true, test::kCpuLseTolerance));

  HostProblem threaded = base;
  attention_with(3, isa).forward(pointing_at(args, threaded));
  EXPECT_EQ(threaded.out, single.out) << "3 threads differ from 1";
  EXPECT_EQ(threaded.lse, single.lse) << "3 threads differ from 1";

  HostProblem without_lse = base;
  AttentionArgs no_lse_args = pointing_at(args, without_lse);
  no_lse_args.lse = nullptr;
  attention_with(3, isa).forward(no_lse_args);
  EXPECT_EQ(without_lse.out, single.out) << "out depends on whether lse is requested";
}

std::string case_label(const testing::TestParamInfo<std::tuple<CpuCase, cpu::CpuIsa>>& param_info) {
  return std::get<0>(param_info.param).label + "_" + cpu::cpu_isa_name(std::get<1>(param_info.param));
}

// Every instruction set this CPU runs, the lower ones forced (the portable set always).
auto isas() { return testing::ValuesIn(cpu::runnable_cpu_isas()); }

INSTANTIATE_TEST_SUITE_P(Cpu, CpuAttentionReference, testing::Combine(testing::ValuesIn(reference_cases()), isas()),
                         case_label);
INSTANTIATE_TEST_SUITE_P(Modifiers, CpuAttentionReference,
                         testing::Combine(testing::ValuesIn(modifier_cases()), isas()), case_label);
INSTANTIATE_TEST_SUITE_P(KernelEdges, CpuAttentionReference,
                         testing::Combine(testing::ValuesIn(kernel_edge_cases()), isas()), case_label);

TEST(CpuAttention, ComparisonCatchesAWrongScale) {
  const HostProblem base = test::make_problem(shape(1, 2, 2, 40, 60, 64, DType::f32));
  const AttentionArgs args = normalized_args(base);
  const test::ReferenceOutput ref = test::naive_attention(args);

  HostProblem wrong = base;
  AttentionArgs wrong_args = pointing_at(args, wrong);
  wrong_args.softmax_scale *= 1.05f;
  attention_with(1).forward(wrong_args);
  EXPECT_FALSE(test::matches_reference(wrong, ref, /*check_lse=*/true, test::kCpuLseTolerance));
}

// A NaN score makes its row's output and lse NaN; before, the CPU backend wrote lse = -inf for a row
// whose scores were all NaN, as if it had seen no key. The naive reference is checked first: it is
// what the kernels' emulation tests compare with.
TEST(CpuAttention, NanScoresMakeTheRowAndItsLseNan) {
  test::NanScoreRows rows;
  const HostProblem base =
      test::make_nan_score_problem(shape(1, 2, 1, 150, 70, 64, DType::f16, MaskKind::causal), &rows);
  const AttentionArgs args = normalized_args(base);
  const test::ReferenceOutput ref = test::naive_attention(args);
  const int seqlen_q = args.seqlen_q;
  auto ref_lse = [&](int head, int row) { return ref.lse[static_cast<size_t>(head) * seqlen_q + row]; };
  EXPECT_EQ(ref_lse(0, rows.masked_nan_query), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(ref_lse(0, rows.nan_query)));
  EXPECT_TRUE(std::isfinite(ref_lse(1, rows.nan_query))) << "head 1's query row holds no NaN";
  EXPECT_TRUE(std::isfinite(ref_lse(0, rows.first_nan_key_row - 1))) << "a row before the NaN key";
  for (int head : {0, 1})
    for (int row = rows.first_nan_key_row; row < seqlen_q; ++row) EXPECT_TRUE(std::isnan(ref_lse(head, row))) << row;

  for (cpu::CpuIsa isa : cpu::runnable_cpu_isas())
    for (int threads : {1, 3}) {
      HostProblem computed = base;
      attention_with(threads, isa).forward(pointing_at(args, computed));
      EXPECT_TRUE(test::matches_reference(computed, ref, /*check_lse=*/true, test::kCpuLseTolerance))
          << threads << " threads, " << cpu::cpu_isa_name(isa);
    }
}

// Split-KV keeps both: a NaN key in one share makes the row NaN after the merge, and a row whose
// every score is -inf in every share comes out as zeros with lse -inf.
TEST(CpuAttention, SplitSharesKeepNanAndRowsThatWeighNothing) {
  constexpr int kKeys = 3000, kHeadDim = 16;  // one unit of one row: its keys split in shares
  HostProblem p = test::make_problem(shape(1, 2, 2, 1, kKeys, kHeadDim, DType::f32));
  float* q = reinterpret_cast<float*>(p.q.data());
  float* k = reinterpret_cast<float*>(p.k.data());
  // Head 0 (keys interleave heads: [key][head][d]): a NaN in key 2000 only.
  k[(2000 * 2 + 0) * kHeadDim] = std::numeric_limits<float>::quiet_NaN();
  // Head 1: q = (1, 0, ...) and every key (-inf, 0, ...), so every score is -inf.
  std::fill(q + kHeadDim, q + 2 * kHeadDim, 0.0f);
  q[kHeadDim] = 1.0f;
  for (int key = 0; key < kKeys; ++key) {
    float* row = k + (key * 2 + 1) * kHeadDim;
    std::fill(row, row + kHeadDim, 0.0f);
    row[0] = -std::numeric_limits<float>::infinity();
  }
  const AttentionArgs args = normalized_args(p);
  for (cpu::CpuIsa isa : cpu::runnable_cpu_isas()) {
    HostProblem computed = p;
    attention_with(3, isa).forward(pointing_at(args, computed));
    EXPECT_TRUE(std::isnan(computed.lse[0])) << cpu::cpu_isa_name(isa);
    EXPECT_TRUE(std::isnan(test::output_at(computed, 0, 0, 0, 3))) << cpu::cpu_isa_name(isa);
    EXPECT_EQ(computed.lse[1], -std::numeric_limits<float>::infinity()) << cpu::cpu_isa_name(isa);
    for (int d = 0; d < kHeadDim; ++d) EXPECT_EQ(test::output_at(computed, 0, 0, 1, d), 0.0f) << d;
  }
}

// Scores of -inf weigh nothing: a row whose every visible score is -inf comes out as a row that sees
// no key (zeros, lse -inf), as on the kernels, and not NaN from -inf - -inf.
TEST(CpuAttention, MinusInfinityScoresWeighNothing) {
  HostProblem p = test::make_problem(shape(1, 1, 1, 3, 5, 8, DType::f32));
  float* q = reinterpret_cast<float*>(p.q.data());
  float* k = reinterpret_cast<float*>(p.k.data());
  // Row 1: q = (1, 0, ...), every key (-inf, 0, ...): each score is -inf.
  std::fill(q + 8, q + 16, 0.0f);
  q[8] = 1.0f;
  for (int key = 0; key < 5; ++key) {
    std::fill(k + 8 * key, k + 8 * key + 8, 0.0f);
    k[8 * key] = -std::numeric_limits<float>::infinity();
  }
  const AttentionArgs args = normalized_args(p);
  for (cpu::CpuIsa isa : cpu::runnable_cpu_isas()) {
    HostProblem computed = p;
    attention_with(1, isa).forward(pointing_at(args, computed));
    for (int d = 0; d < 8; ++d) EXPECT_EQ(test::output_at(computed, 0, 1, 0, d), 0.0f) << d;
    EXPECT_EQ(computed.lse[1], -std::numeric_limits<float>::infinity()) << cpu::cpu_isa_name(isa);
  }
}

TEST(CpuAttention, RunsTheInstructionSetItWasGiven) {
  for (cpu::CpuIsa isa : cpu::runnable_cpu_isas()) EXPECT_EQ(cpu::CpuAttention(1, isa).isa(), isa);
  EXPECT_EQ(cpu::CpuAttention(1).isa(), cpu::best_cpu_isa());
}

TEST(CpuAttention, ResolvesItsThreadCount) {
  EXPECT_EQ(cpu::CpuAttention(1).threads(), 1);
  EXPECT_EQ(cpu::CpuAttention(3).threads(), 3);
  EXPECT_GE(cpu::CpuAttention(0).threads(), 1);
}

// forward() waits only for its own work, so callers sharing one instance (and its pool) from
// several threads each get their own correct result.
TEST(CpuAttention, ConcurrentCallsShareOneInstance) {
  const std::vector<ProblemShape> shapes = {
      shape(1, 4, 2, 130, 130, 64, DType::f16, MaskKind::causal),
      shape(2, 2, 1, 100, 60, 32, DType::f32),
      shape(1, 3, 3, 90, 200, 40, DType::bf16, MaskKind::causal),
      shape(1, 2, 2, 1, 300, 64, DType::f32),
  };
  std::vector<HostProblem> problems;
  std::vector<AttentionArgs> args;
  std::vector<test::ReferenceOutput> refs;
  problems.reserve(shapes.size());  // args hold pointers into the problems' buffers
  for (const ProblemShape& s : shapes) {
    problems.push_back(test::make_problem(s));
    args.push_back(normalized_args(problems.back()));
    refs.push_back(test::naive_attention(args.back()));
  }

  const cpu::CpuAttention& attention = attention_with(3);
  std::vector<std::thread> callers;
  for (size_t i = 0; i < problems.size(); ++i)
    callers.emplace_back([&, i] {
      for (int repeat = 0; repeat < 3; ++repeat) attention.forward(args[i]);
    });
  for (std::thread& caller : callers) caller.join();

  for (size_t i = 0; i < problems.size(); ++i) EXPECT_TRUE(test::matches_reference(problems[i], refs[i], true, test::kCpuLseTolerance));
}

}  // namespace
}  // namespace flashjit
