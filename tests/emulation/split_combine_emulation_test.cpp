// The split-KV combine step (templates/split_combine.cuh) executed by the emulation, against a
// double-precision merge written here from its definition: lse = log sum_s exp(lse_s), out = sum_s
// exp(lse_s - lse) out_s over the splits that saw a key. Adversarial partials: splits that saw no key
// (lse -inf) with NaN outputs that must not be read, rows whose splits all saw none (zeros, lse
// -inf), a NaN lse (the row NaN), lse values 1000 apart (no overflow), one split (a copy) and many
// (more than a warp's lanes), odd head dims, three dtypes, strided dense outputs and ragged rows. The
// output is poisoned first.
#define FLASHJIT_HOST_EMULATION 1

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "emulation/cuda_emulation.h"
#include "emulation/emulated_attention.h"
#include "flashjit/numeric.h"
#include "flashjit/types.h"
#include "split_combine.cuh"

namespace flashjit {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

template <DType kDType, int kHeadDimValue, bool kRaggedValue>
struct CombineTraits {
  using Element = typename test::ElementOf<kDType>::type;
  static constexpr int kHeadDim = kHeadDimValue;
  static constexpr int kWarps = 4;
  static constexpr bool kRagged = kRaggedValue;
};

// What lands where: one case's partials and the call's out/lse layout.
struct Case {
  std::string name;
  int batch = 2, heads = 3, seqlen_q = 5, splits = 4;
  std::vector<int> q_lengths;  // ragged when not empty (seqlen_q is then their maximum)
  int head_padding = 0;        // elements between heads of out, beyond head_dim
  // Which partial lse values are adversarial: (split, row) -> value.
  std::vector<std::tuple<int, long long, float>> lse_overrides;
  float lse_spread = 5.0f;     // partial lse drawn from [-spread, spread]
};

struct Outcome {
  std::vector<double> out;  // [rows][head_dim], the reference layout
  std::vector<double> lse;  // [rows]
};

Outcome reference_merge(const std::vector<float>& parts_out, const std::vector<float>& parts_lse, long long rows,
                        long long real_rows, int splits, int d) {
  Outcome r;
  r.out.assign(static_cast<size_t>(real_rows) * d, 0.0);
  r.lse.assign(static_cast<size_t>(real_rows), 0.0);
  for (long long row = 0; row < real_rows; ++row) {
    bool nan = false;
    double max_lse = -kInf;
    for (int s = 0; s < splits; ++s) {
      const double l = parts_lse[s * rows + row];
      if (std::isnan(l)) nan = true;
      else max_lse = std::max(max_lse, l);
    }
    if (nan) {
      r.lse[row] = std::nan("");
      for (int c = 0; c < d; ++c) r.out[row * d + c] = std::nan("");
      continue;
    }
    if (max_lse == -kInf) {
      r.lse[row] = -kInf;
      continue;
    }
    double sum = 0.0;
    for (int s = 0; s < splits; ++s) sum += std::exp(parts_lse[s * rows + row] - max_lse);
    r.lse[row] = max_lse + std::log(sum);
    for (int s = 0; s < splits; ++s) {
      const double l = parts_lse[s * rows + row];
      if (l == -kInf) continue;
      const double w = std::exp(l - r.lse[row]);
      for (int c = 0; c < d; ++c) r.out[row * d + c] += w * parts_out[(s * rows + row) * d + c];
    }
  }
  return r;
}

template <DType kDType, int kHeadDim, bool kRagged>
void expect_combine_matches(const Case& c, uint32_t seed = 99) {
  using Traits = CombineTraits<kDType, kHeadDim, kRagged>;
  const int d = kHeadDim;
  ASSERT_EQ(kRagged, !c.q_lengths.empty()) << c.name;
  std::vector<int32_t> cu_q = {0};
  for (int len : c.q_lengths) cu_q.push_back(cu_q.back() + len);
  const long long tokens = kRagged ? cu_q.back() : 0;
  // The workspace is sized by the bound; the real rows are the call's.
  const long long rows = static_cast<long long>(c.batch) * c.heads * c.seqlen_q;
  const long long real_rows = kRagged ? tokens * c.heads : rows;

  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> parts_out(static_cast<size_t>(c.splits) * rows * d);
  std::vector<float> parts_lse(static_cast<size_t>(c.splits) * rows);
  for (float& x : parts_out) x = unit(rng);
  for (float& x : parts_lse) x = c.lse_spread * unit(rng);
  for (auto [s, row, value] : c.lse_overrides) {
    parts_lse[s * rows + row] = value;
    // A split that saw no key leaves anything behind: NaN here, which must never be read.
    if (value == -std::numeric_limits<float>::infinity())
      for (int k = 0; k < d; ++k) parts_out[(s * rows + row) * d + k] = kNaN;
  }

  // out: [batch, seqlen, heads, d] with padded heads, or packed [tokens, heads, d]; poisoned.
  Strides st;
  st.head = d + c.head_padding;
  st.seq = st.head * c.heads;
  st.batch = kRagged ? 0 : st.seq * c.seqlen_q;
  const long long out_elements = kRagged ? std::max<long long>(tokens, 1) * st.seq : st.batch * c.batch;
  std::vector<uint8_t> out(static_cast<size_t>(out_elements) * dtype_size(kDType));
  for (long long i = 0; i < out_elements; ++i) store_from_float(out.data(), kDType, i, kNaN);
  std::vector<float> lse(static_cast<size_t>(real_rows) + 1, 12345.0f);

  AttentionParams p{};
  p.o = out.data();
  p.o_strides = {st.batch, st.seq, st.head};
  p.lse = lse.data();
  p.batch = c.batch;
  p.num_heads = c.heads;
  p.num_kv_heads = 1;
  p.seqlen_q = c.seqlen_q;
  p.head_dim = d;
  SplitPartials parts{parts_out.data(), parts_lse.data(), kRagged ? cu_q.data() : nullptr, rows, c.splits};
  const unsigned blocks = static_cast<unsigned>((rows + Traits::kWarps - 1) / Traits::kWarps);
  emulation::emulate_launch(&dev::split_combine<Traits>, dim3{blocks, 1, 1},
                            dim3{Traits::kWarps * 32, 1, 1}, 0, p, parts);

  const Outcome ref = reference_merge(parts_out, parts_lse, rows, real_rows, c.splits, d);
  // One storage rounding, plus fp32's merge: a few ulps of fp32 on top.
  const double tolerance = kDType == DType::f32 ? 2e-6 : kDType == DType::f16 ? 2e-3 : 1.6e-2;
  for (long long row = 0; row < real_rows; ++row) {
    long long b = 0, h = 0, i = 0;
    if (kRagged) {
      h = row / tokens;
      i = row % tokens;
    } else {
      i = row % c.seqlen_q;
      h = (row / c.seqlen_q) % c.heads;
      b = row / c.seqlen_q / c.heads;
    }
    const double want_lse = ref.lse[row];
    if (std::isnan(want_lse)) {
      EXPECT_TRUE(std::isnan(lse[row])) << c.name << " row " << row;
    } else if (want_lse == -kInf) {
      EXPECT_EQ(lse[row], -std::numeric_limits<float>::infinity()) << c.name << " row " << row;
    } else {
      EXPECT_NEAR(lse[row], want_lse, 1e-5 * std::max(1.0, std::abs(want_lse))) << c.name << " row " << row;
    }
    for (int k = 0; k < d; ++k) {
      const float got = load_as_float(out.data(), kDType, b * st.batch + i * st.seq + h * st.head + k);
      const double want = ref.out[row * d + k];
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << c.name << " row " << row << " col " << k;
      } else {
        ASSERT_NEAR(got, want, tolerance) << c.name << " row " << row << " col " << k;
      }
    }
  }
  // Nothing beyond the real rows: the lse slot after them and the padding between heads untouched.
  EXPECT_EQ(lse[real_rows], 12345.0f) << c.name;
  if (c.head_padding > 0 && !kRagged) {
    EXPECT_TRUE(std::isnan(load_as_float(out.data(), kDType, d))) << c.name << ": the padding after head 0";
  }
}

TEST(SplitCombine, RandomPartialsEveryDtype) {
  Case c;
  c.name = "random";
  expect_combine_matches<DType::f32, 64, false>(c);
  expect_combine_matches<DType::f16, 128, false>(c);
  expect_combine_matches<DType::bf16, 40, false>(c);
}

TEST(SplitCombine, OneSplitIsACopy) {
  Case c;
  c.name = "one split";
  c.splits = 1;
  expect_combine_matches<DType::f32, 72, false>(c);
}

// More splits than a warp's lanes: the lanes' partial maxima and sums must all be folded in.
TEST(SplitCombine, ManySplits) {
  Case c;
  c.name = "37 splits";
  c.splits = 37;
  c.head_padding = 8;
  expect_combine_matches<DType::f32, 256, false>(c);
}

// Splits that saw no key (lse -inf, output NaN) weigh nothing; a row whose splits all saw none is
// zeros with lse -inf; one NaN lse makes its row NaN; lse 1000 apart neither overflow nor lose the
// larger.
TEST(SplitCombine, AdversarialPartials) {
  const float inf = std::numeric_limits<float>::infinity();
  Case c;
  c.name = "adversarial";
  c.batch = 1;
  c.heads = 2;
  c.seqlen_q = 4;
  c.splits = 3;
  c.head_padding = 3;
  c.lse_overrides = {{0, 0, -inf},                                   // row 0: one empty split
                     {0, 1, -inf}, {1, 1, -inf}, {2, 1, -inf},       // row 1: every split empty
                     {1, 2, kNaN},                                   // row 2: a NaN lse
                     {0, 3, 1000.0f}, {1, 3, -inf}, {2, 3, 0.0f},    // row 3: far apart
                     {2, 5, -inf}, {0, 5, 80.0f}, {1, 5, 80.0f}};    // row 5: large, equal
  expect_combine_matches<DType::f32, 64, false>(c);
  expect_combine_matches<DType::bf16, 64, false>(c);
}

// A ragged batch: rows h * total_q + token, the workspace sized by batch * heads * max rows; rows past
// the real ones are never written (the lse slot after them keeps its poison).
TEST(SplitCombine, RaggedRows) {
  const float inf = std::numeric_limits<float>::infinity();
  Case c;
  c.name = "ragged";
  c.batch = 3;
  c.heads = 2;
  c.q_lengths = {3, 0, 5};
  c.seqlen_q = 5;
  c.splits = 5;
  c.lse_overrides = {{0, 2, -inf}, {1, 2, -inf}, {2, 2, -inf}, {3, 2, -inf}, {4, 2, -inf}};
  expect_combine_matches<DType::f16, 96, true>(c);
}

}  // namespace
}  // namespace flashjit
