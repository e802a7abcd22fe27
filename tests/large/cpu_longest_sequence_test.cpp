// The CPU backend at the longest sequences an int can describe, seqlen_q or seqlen_k = INT32_MAX,
// through the public Runtime (validation included). Buffers of tens of GiB are AliasedMemory: their
// first and last chunks are real and checked, everything between shares one scratch chunk, so each
// test holds a few hundred MiB.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"
#include "flashjit/runtime.h"
#include "large/aliased_memory.h"

namespace flashjit {
namespace {

constexpr int kHeadDim = 8;
constexpr uint64_t kChunkBytes = uint64_t{16} << 20;

void fill_random_f16(uint16_t* values, uint64_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (uint64_t i = 0; i < count; ++i) values[i] = float_to_half_bits(dist(rng));
}

// Fills the first chunk, one middle one (the scratch every middle chunk maps) and the last two.
template <class Fill>
void fill_chunks(const test::AliasedMemory& memory, const Fill& fill) {
  const uint64_t chunks = memory.size() / memory.chunk_bytes();
  for (uint64_t chunk : {uint64_t{0}, uint64_t{1}, chunks - 2, chunks - 1})
    fill(memory.data() + chunk * memory.chunk_bytes(), memory.chunk_bytes());
}

struct ExpectedRow {
  std::vector<double> out;  // empty: the row sees no key (zeros, lse -inf)
  double lse = -std::numeric_limits<double>::infinity();
};

// Row `row` straight from the definition, in double, reading q, k and v as forward() does.
ExpectedRow direct_row(const AttentionArgs& a, int64_t row) {
  ExpectedRow expected;
  const int64_t last_key = row + a.seqlen_k - a.seqlen_q;  // bottom-right causal alignment
  if (last_key < 0) return expected;
  const auto* q = static_cast<const uint16_t*>(a.q.data) + row * a.q.strides.seq;
  const auto* k = static_cast<const uint16_t*>(a.k.data);
  const auto* v = static_cast<const uint16_t*>(a.v.data);
  std::vector<double> scores;
  double max_score = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j <= last_key; ++j) {
    double dot = 0;
    for (int d = 0; d < kHeadDim; ++d)
      dot += double(half_bits_to_float(q[d])) * half_bits_to_float(k[j * kHeadDim + d]);
    scores.push_back(dot * a.softmax_scale);
    max_score = std::max(max_score, scores.back());
  }
  double sum = 0;
  for (double& s : scores) sum += (s = std::exp(s - max_score));
  expected.out.assign(kHeadDim, 0.0);
  for (size_t j = 0; j < scores.size(); ++j)
    for (int d = 0; d < kHeadDim; ++d) expected.out[d] += scores[j] / sum * half_bits_to_float(v[j * kHeadDim + d]);
  expected.lse = max_score + std::log(sum);
  return expected;
}

// The block count was computed in int as (seqlen_q + 63) / 64, which wrapped negative at
// INT32_MAX: forward() wrote nothing and returned success. Out (32 GiB of f16) and lse (8 GiB) are
// poisoned, and the first and last rows checked against a direct computation.
TEST(CpuLongestSequence, SeqlenQOfInt32MaxIsComputedToTheLastRow) {
  const int64_t seqlen_q = std::numeric_limits<int32_t>::max();
  const int seqlen_k = 100;
  std::string why_not;
  // q rows overlap (sequence stride 1: an input may), so q spans seqlen_q + 7 elements.
  // Only the rows that see keys are read; out and lse are written end to end.
  auto q = test::AliasedMemory::create((seqlen_q + kHeadDim) * 2, kChunkBytes, false, &why_not);
  auto out = q ? test::AliasedMemory::create(seqlen_q * kHeadDim * 2, kChunkBytes, true, &why_not) : nullptr;
  auto lse = out ? test::AliasedMemory::create(seqlen_q * 4, kChunkBytes, true, &why_not) : nullptr;
  if (!lse) GTEST_SKIP() << "cannot map the aliased buffers: " << why_not;

  std::mt19937 rng(7);
  fill_chunks(*q, [&](char* chunk, uint64_t bytes) {
    fill_random_f16(reinterpret_cast<uint16_t*>(chunk), bytes / 2, rng);
  });
  std::vector<uint16_t> k(seqlen_k * kHeadDim), v(seqlen_k * kHeadDim);
  fill_random_f16(k.data(), k.size(), rng);
  fill_random_f16(v.data(), v.size(), rng);
  // Poison: f16 NaN in out, a value no lse takes in lse.
  fill_chunks(*out, [](char* chunk, uint64_t bytes) {
    const uint16_t nan = float_to_half_bits(std::numeric_limits<float>::quiet_NaN());
    for (uint64_t i = 0; i < bytes / 2; ++i) std::memcpy(chunk + 2 * i, &nan, 2);
  });
  constexpr float kPoison = 12345.0f;
  fill_chunks(*lse, [&](char* chunk, uint64_t bytes) {
    for (uint64_t i = 0; i < bytes / 4; ++i) std::memcpy(chunk + 4 * i, &kPoison, 4);
  });

  AttentionArgs a;
  a.batch = a.num_heads = a.num_kv_heads = 1;
  a.seqlen_q = static_cast<int>(seqlen_q);
  a.seqlen_k = seqlen_k;
  a.head_dim = kHeadDim;
  // Causal with few keys: all but the last rows see none, so the call costs a pass over the rows.
  a.mask = MaskKind::causal;
  a.softmax_scale = 0.5f;
  a.q = {q->data(), DType::f16, Strides{1, 1, 1}};
  a.k = {k.data(), DType::f16, {}};
  a.v = {v.data(), DType::f16, {}};
  a.out = {out->data(), DType::f16, {}};
  a.lse = reinterpret_cast<float*>(lse->data());

  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  const Status s = (*runtime)->forward(a);
  ASSERT_TRUE(s.ok()) << s.to_string();

  // The first rows (which see no key) and the last ones (the last 100 see keys; the 28 before them
  // none), all in the edge chunks.
  std::vector<int64_t> rows;
  for (int64_t row = 0; row < 64; ++row) rows.push_back(row);
  for (int64_t row = seqlen_q - 128; row < seqlen_q; ++row) rows.push_back(row);
  int checked_with_keys = 0;
  for (int64_t row : rows) {
    ASSERT_TRUE(out->is_own(row * kHeadDim * 2, kHeadDim * 2) && lse->is_own(row * 4, 4)) << row;
    const ExpectedRow expected = direct_row(a, row);
    const auto* got = reinterpret_cast<const uint16_t*>(out->data()) + row * kHeadDim;
    const float got_lse = a.lse[row];
    if (expected.out.empty()) {
      for (int d = 0; d < kHeadDim; ++d) EXPECT_EQ(half_bits_to_float(got[d]), 0.0f) << "row " << row << " d " << d;
      EXPECT_EQ(got_lse, -std::numeric_limits<float>::infinity()) << "row " << row;
      continue;
    }
    ++checked_with_keys;
    double scale = 0;
    for (double value : expected.out) scale = std::max(scale, std::abs(value));
    for (int d = 0; d < kHeadDim; ++d)
      EXPECT_NEAR(half_bits_to_float(got[d]), expected.out[d], 1e-6 + 2e-3 * scale) << "row " << row << " d " << d;
    EXPECT_NEAR(got_lse, expected.lse, 1e-5 * (1 + std::abs(expected.lse))) << "row " << row;
  }
  EXPECT_EQ(checked_with_keys, seqlen_k);
}

// The key loop at seqlen_k = INT32_MAX: it stepped an int past INT32_MAX after the last block (and
// wrapped around into negative keys). One query over 2^31 keys: k and v are AliasedMemory with
// overlapping rows (sequence stride 1), k zero but in its last chunk. q = (1, 0, ...) and scale 1 make
// key j's score k[j]: 0 for all keys but the last 1000, whose scores of 40 to 50 outweigh the
// zeros' exp(-40) each (under 1e-8 of the sum all together), so the row is the softmax over the
// last 1000 keys, computed directly.
TEST(CpuLongestSequence, SeqlenKOfInt32MaxReachesTheLastKey) {
  const int64_t seqlen_k = std::numeric_limits<int32_t>::max();
  const int64_t scored_keys = 1000;
  std::string why_not;
  auto k = test::AliasedMemory::create((seqlen_k + kHeadDim) * 2, kChunkBytes, true, &why_not);
  auto v = k ? test::AliasedMemory::create((seqlen_k + kHeadDim) * 2, kChunkBytes, true, &why_not) : nullptr;
  if (!v) GTEST_SKIP() << "cannot map the aliased buffers: " << why_not;
  ASSERT_TRUE(k->is_own((seqlen_k - scored_keys) * 2, (scored_keys + kHeadDim) * 2));

  std::mt19937 rng(11);
  std::uniform_real_distribution<float> score(40.0f, 50.0f);
  auto* k_values = reinterpret_cast<uint16_t*>(k->data());  // zero where not written (a fresh memfd)
  for (int64_t j = seqlen_k - scored_keys; j < seqlen_k; ++j) k_values[j] = float_to_bf16_bits(score(rng));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  fill_chunks(*v, [&](char* chunk, uint64_t bytes) {
    auto* values = reinterpret_cast<uint16_t*>(chunk);
    for (uint64_t i = 0; i < bytes / 2; ++i) values[i] = float_to_bf16_bits(value(rng));
  });
  std::vector<uint16_t> q(kHeadDim, float_to_bf16_bits(0.0f));
  q[0] = float_to_bf16_bits(1.0f);
  std::vector<uint16_t> out(kHeadDim, float_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()));
  float lse = 12345.0f;

  AttentionArgs a;
  a.batch = a.num_heads = a.num_kv_heads = 1;
  a.seqlen_q = 1;
  a.seqlen_k = static_cast<int>(seqlen_k);
  a.head_dim = kHeadDim;
  a.softmax_scale = 1.0f;
  a.q = {q.data(), DType::bf16, {}};
  a.k = {k->data(), DType::bf16, Strides{1, 1, 1}};
  a.v = {v->data(), DType::bf16, Strides{1, 1, 1}};
  a.out = {out.data(), DType::bf16, {}};
  a.lse = &lse;

  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  const Status s = (*runtime)->forward(a);
  ASSERT_TRUE(s.ok()) << s.to_string();

  const auto* v_values = reinterpret_cast<const uint16_t*>(v->data());
  double max_score = 0;
  for (int64_t j = seqlen_k - scored_keys; j < seqlen_k; ++j)
    max_score = std::max<double>(max_score, bf16_bits_to_float(k_values[j]));
  double sum = 0;
  std::vector<double> expected(kHeadDim, 0.0);
  for (int64_t j = seqlen_k - scored_keys; j < seqlen_k; ++j) {
    const double weight = std::exp(bf16_bits_to_float(k_values[j]) - max_score);
    sum += weight;
    for (int d = 0; d < kHeadDim; ++d) expected[d] += weight * bf16_bits_to_float(v_values[j + d]);
  }
  double scale = 0;
  for (double& value_d : expected) scale = std::max(scale, std::abs(value_d /= sum));
  for (int d = 0; d < kHeadDim; ++d)
    EXPECT_NEAR(bf16_bits_to_float(out[d]), expected[d], 1e-6 + 1e-2 * scale) << "d " << d;
  EXPECT_NEAR(lse, max_score + std::log(sum), 1e-5 * (1 + max_score));
}

}  // namespace
}  // namespace flashjit
