// The bodies of the block kernels (block_kernels.h) as plain C++ templates over their register
// tiles. block_kernels.cpp inlines them into one function per instruction set, each compiled with
// that set's target attribute, so the compiler vectorizes the same loops for SSE2, AVX2 or AVX-512.
// Only those attributed functions hold wide instructions: the bodies are always_inline and never
// emitted on their own, so no shared inline copy compiled for AVX-512 can reach a CPU without it.
//
// The register tiles keep a block of outputs in registers while a loop streams one operand past
// them: each element loaded feeds several fused multiply-adds, so the loops run at the FMA units'
// rate instead of the load ports'.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime/cpu/block_kernels.h"
#include "runtime/cpu/fast_exp.h"

#define FLASHJIT_INLINE [[gnu::always_inline]] inline

namespace flashjit::cpu::bodies {

// S^T for wide blocks, kKeys keys by kLanes lanes of accumulators at a time: per head_dim step,
// kKeys broadcast key elements times kLanes contiguous Q^T lanes.
template <int kKeys, int kLanes>
FLASHJIT_INLINE void wide_scores(const float* __restrict q_transposed, const float* const* k_rows, int keys,
                                 int head_dim, float* __restrict st) {
  static_assert(kKeyGroup % kKeys == 0 && kWideLanes % kLanes == 0);
  const int padded_keys = (keys + kKeyGroup - 1) / kKeyGroup * kKeyGroup;
  for (int c0 = 0; c0 < padded_keys; c0 += kKeys) {
    const float* k[kKeys];
    for (int j = 0; j < kKeys; ++j) k[j] = k_rows[c0 + j];
    for (int l0 = 0; l0 < kWideLanes; l0 += kLanes) {
      float acc[kKeys][kLanes] = {};
      for (int d = 0; d < head_dim; ++d) {
        const float* __restrict q = q_transposed + d * kWideLanes + l0;
        for (int j = 0; j < kKeys; ++j) {
          const float key_element = k[j][d];
          for (int l = 0; l < kLanes; ++l) acc[j][l] += key_element * q[l];
        }
      }
      for (int j = 0; j < kKeys; ++j)
        for (int l = 0; l < kLanes; ++l) st[(c0 + j) * kWideLanes + l0 + l] = acc[j][l];
    }
  }
}

// S^T for narrow blocks: one dot product per (key, row), four keys at a time (four independent
// chains of FMAs instead of one), each summed in 16 lanes (then 8 for a head dim that is a multiple
// of 8 only) so the loop vectorizes without reordering an fp32 reduction behind the compiler's back.
// Rows past `rows` and keys past `keys` (up to the K rows' padding) get scores that are never read.
FLASHJIT_INLINE void narrow_scores(const float* __restrict q, int rows, const float* const* k_rows, int keys,
                                   int head_dim, float* __restrict st) {
  constexpr int kKeys = 4;
  constexpr int kSumLanes = 16;
  static_assert(kKeyGroup % kKeys == 0);
  const int padded_keys = (keys + kKeyGroup - 1) / kKeyGroup * kKeyGroup;
  for (int c0 = 0; c0 < padded_keys; c0 += kKeys) {
    const float* k[kKeys];
    for (int j = 0; j < kKeys; ++j) k[j] = k_rows[c0 + j];
    for (int i = 0; i < rows; ++i) {
      const float* __restrict q_row = q + i * head_dim;
      float lanes[kKeys][kSumLanes] = {};
      int d0 = 0;
      for (; d0 + kSumLanes <= head_dim; d0 += kSumLanes)
        for (int j = 0; j < kKeys; ++j)
          for (int x = 0; x < kSumLanes; ++x) lanes[j][x] += k[j][d0 + x] * q_row[d0 + x];
      if (d0 < head_dim)  // the last 8 of a head dim that is an odd multiple of 8
        for (int j = 0; j < kKeys; ++j)
          for (int x = 0; x < kSumLanes / 2; ++x) lanes[j][x] += k[j][d0 + x] * q_row[d0 + x];
      for (int j = 0; j < kKeys; ++j) {
        for (int width = kSumLanes / 2; width >= 1; width /= 2)
          for (int x = 0; x < width; ++x) lanes[j][x] += lanes[j][x + width];
        st[(c0 + j) * kNarrowLanes + i] = lanes[j][0];
      }
    }
  }
}

// The online softmax step down kLanes columns of S^T (block_kernels.h). A lane whose max is still
// -inf exponentiates against 0, so -inf - -inf never makes a NaN: -inf scores weigh 0, and once the
// max is finite, exp(-inf) = 0 replaces the empty accumulator. The max ignores a NaN score (the
// comparison is false), whose exponential then makes the sum, and the row, NaN.
template <int kLanes>
FLASHJIT_INLINE void softmax(float* __restrict st, int keys, float* __restrict row_max, float* __restrict row_sum,
                             float* __restrict correction) {
  constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();
  float max[kLanes];
  float base[kLanes];
  float sum[kLanes];
  for (int l = 0; l < kLanes; ++l) max[l] = row_max[l];
  for (int c = 0; c < keys; ++c)
    for (int l = 0; l < kLanes; ++l) {
      const float x = st[c * kLanes + l];
      max[l] = max[l] < x ? x : max[l];
    }
  for (int l = 0; l < kLanes; ++l) {
    base[l] = max[l] == kMinusInfinity ? 0.0f : max[l];
    correction[l] = exp_nonpositive(row_max[l] - base[l]);
    sum[l] = 0.0f;
  }
  for (int c = 0; c < keys; ++c)
    for (int l = 0; l < kLanes; ++l) {
      const float p = exp_nonpositive(st[c * kLanes + l] - base[l]);
      st[c * kLanes + l] = p;
      sum[l] += p;
    }
  for (int l = 0; l < kLanes; ++l) {
    row_sum[l] = row_sum[l] * correction[l] + sum[l];
    row_max[l] = max[l];
  }
}

// tanh(x) from exp of a non-positive argument: tanh is odd, and tanh(|x|) = d / (2 - d) with
// d = 1 - exp(-2|x|). Near 0, where 1 - exp cancels, d comes from exp's Taylor series without its
// leading 1 (to y^7: under 4e-7 relative for |y| <= ln2 / 2). Infinities give +-1; NaN stays NaN.
FLASHJIT_INLINE float tanh_by_exp(float x) {
  constexpr float kSeriesBound = 0.3465736f;  // ln 2 / 2
  const float y = -2.0f * std::fabs(x);
  float series = 1.0f / 5040.0f;
  series = series * y + 1.0f / 720.0f;
  series = series * y + 1.0f / 120.0f;
  series = series * y + 1.0f / 24.0f;
  series = series * y + 1.0f / 6.0f;
  series = series * y + 0.5f;
  series = series * y + 1.0f;
  const float d = -y > kSeriesBound ? 1.0f - exp_nonpositive(y) : -(series * y);
  return std::copysign(d / (2.0f - d), x);
}

// The score modifiers and masks (ScoreMods) down each key's lanes: the lanes are query rows, so the
// cap, the bias and the mask's compares vectorize across rows.
FLASHJIT_INLINE void modify_scores(float* __restrict st, int keys, int lanes, int rows, const ScoreMods& mods) {
  constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();
  const float inverse_cap = mods.softcap > 0.0f ? 1.0f / mods.softcap : 0.0f;
  const int64_t beyond_left = mods.window_left < 0 ? INT64_MAX : mods.window_left;
  const int64_t below_right = mods.window_right < 0 ? INT64_MIN : -mods.window_right;
  for (int c = 0; c < keys; ++c) {
    float* __restrict s = st + c * lanes;
    const int64_t distance0 = mods.row_minus_key0 - c;
    if (mods.softcap > 0.0f)
      for (int r = 0; r < rows; ++r) s[r] = mods.softcap * tanh_by_exp(s[r] * inverse_cap);
    if (mods.slope != 0.0f)
      for (int r = 0; r < rows; ++r) s[r] -= mods.slope * std::fabs(static_cast<float>(distance0 + r));
    for (int r = 0; r < rows; ++r) {
      const int64_t distance = distance0 + r;
      s[r] = distance > beyond_left || distance < below_right ? kMinusInfinity : s[r];
    }
  }
}

// kRows accumulator rows by kCols head_dim columns from column d0: per key, kRows broadcast
// probabilities times kCols contiguous V elements.
template <int kRows, int kCols>
FLASHJIT_INLINE void accumulate_tile(const float* __restrict pt, int keys, int lanes, const float* const* v_rows,
                                     int head_dim, const float* __restrict correction, float* __restrict acc, int row0,
                                     int d0) {
  float tile[kRows][kCols];
  for (int j = 0; j < kRows; ++j) {
    const float factor = correction[row0 + j];
    for (int x = 0; x < kCols; ++x) tile[j][x] = acc[(row0 + j) * head_dim + d0 + x] * factor;
  }
  for (int c = 0; c < keys; ++c) {
    const float* __restrict v = v_rows[c] + d0;
    for (int j = 0; j < kRows; ++j) {
      const float p = pt[c * lanes + row0 + j];
      for (int x = 0; x < kCols; ++x) tile[j][x] += p * v[x];
    }
  }
  for (int j = 0; j < kRows; ++j)
    for (int x = 0; x < kCols; ++x) acc[(row0 + j) * head_dim + d0 + x] = tile[j][x];
}

// Columns [0, head_dim) of rows [row0, row0 + kRows) in tiles of kCols, then halves of it down to 8
// for the rest (head_dim % 8 == 0: 72 is 64 + 8).
template <int kRows, int kCols>
FLASHJIT_INLINE void accumulate_rows(const float* pt, int keys, int lanes, const float* const* v_rows, int head_dim,
                                     const float* correction, float* acc, int row0, int d0) {
  for (; d0 + kCols <= head_dim; d0 += kCols)
    accumulate_tile<kRows, kCols>(pt, keys, lanes, v_rows, head_dim, correction, acc, row0, d0);
  if constexpr (kCols > 8) {
    if (d0 < head_dim) accumulate_rows<kRows, kCols / 2>(pt, keys, lanes, v_rows, head_dim, correction, acc, row0, d0);
  }
}

template <int kRows, int kCols>
FLASHJIT_INLINE void accumulate(const float* pt, int keys, int lanes, const float* const* v_rows, int head_dim,
                                const float* correction, float* acc, int rows) {
  int row0 = 0;
  for (; row0 + kRows <= rows; row0 += kRows)
    accumulate_rows<kRows, kCols>(pt, keys, lanes, v_rows, head_dim, correction, acc, row0, 0);
  for (; row0 < rows; ++row0) accumulate_rows<1, kCols>(pt, keys, lanes, v_rows, head_dim, correction, acc, row0, 0);
}

FLASHJIT_INLINE void widen_bf16(const uint16_t* __restrict src, int count, float* __restrict dst) {
  // bf16 is the top half of an fp32: widening is a shift.
  for (int i = 0; i < count; ++i) {
    const uint32_t bits = static_cast<uint32_t>(src[i]) << 16;
    std::memcpy(&dst[i], &bits, sizeof bits);
  }
}

FLASHJIT_INLINE void narrow_bf16(const float* __restrict src, int count, uint16_t* __restrict dst) {
  // Round to nearest even on the dropped half; a NaN keeps its top bits with the quiet bit set (a
  // rounding carry could turn it into infinity).
  for (int i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &src[i], sizeof bits);
    const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (bits >> 16) | 0x40u;
    dst[i] = static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
}

}  // namespace flashjit::cpu::bodies
