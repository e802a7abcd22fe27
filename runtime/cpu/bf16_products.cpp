// The block kernels' bf16 products (block_kernels.h), for CPUs with AVX512-BF16 and bf16 storage:
// VDPBF16PS multiplies pairs of bf16 values and adds both products to an fp32 lane, twice the
// multiply-adds of an fp32 FMA per instruction. Operands are laid out in pairs along the reduction:
// Q^T as [head_dim / 2][64 lanes] pairs of head-dim elements, K rows as they are (a row is pairs),
// P^T as [keys / 2][64 lanes] pairs of keys and V as [keys / 2][head_dim] pairs of keys. As on the
// GPU, the probabilities are rounded to bf16 for P.V; scores, the softmax and the sums stay fp32.
#include "runtime/cpu/bf16_products.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#define FLASHJIT_BF16_TARGET [[gnu::target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma,f16c")]]

namespace flashjit::cpu::bf16 {
namespace {

constexpr int kVectorLanes = 16;
constexpr int kLaneVectors = kWideLanes / kVectorLanes;  // 4 zmm of fp32 per 64 lanes

// The same 512 bits read as 32 bf16 values (a vector conversion: no instruction).
FLASHJIT_BF16_TARGET inline __m512bh as_pairs(__m512i bits) { return (__m512bh)bits; }

// Rounds to bf16 (nearest even); NaN stays NaN with the quiet bit set.
inline uint32_t bf16_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  return (bits & 0x7fffffffu) > 0x7f800000u ? ((bits >> 16) | 0x40u) : rounded;
}

// kRows accumulator rows by kVectors x 16 columns from d0, the last vector under `last_mask`.
template <int kRows, int kVectors>
FLASHJIT_BF16_TARGET inline void accumulate_tile(const uint32_t* p_pairs, int key_pairs, const uint32_t* v_pairs,
                                                 int head_dim, const float* correction, float* acc, int row0, int d0,
                                                 __mmask16 last_mask) {
  __m512 tile[kRows][kVectors];
  auto mask_of = [&](int v) { return v == kVectors - 1 ? last_mask : static_cast<__mmask16>(0xffff); };
#pragma GCC unroll 8
  for (int j = 0; j < kRows; ++j) {
    const __m512 factor = _mm512_set1_ps(correction[row0 + j]);
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v)
      tile[j][v] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask_of(v), acc + (row0 + j) * head_dim + d0 + v * 16), factor);
  }
  for (int i = 0; i < key_pairs; ++i) {
    __m512i values[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v)
      values[v] = _mm512_maskz_loadu_epi32(mask_of(v), v_pairs + i * head_dim + d0 + v * 16);
#pragma GCC unroll 8
    for (int j = 0; j < kRows; ++j) {
      const __m512i p = _mm512_set1_epi32(static_cast<int>(p_pairs[i * kWideLanes + row0 + j]));
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) tile[j][v] = _mm512_dpbf16_ps(tile[j][v], as_pairs(p), as_pairs(values[v]));
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < kRows; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v)
      _mm512_mask_storeu_ps(acc + (row0 + j) * head_dim + d0 + v * 16, mask_of(v), tile[j][v]);
}

// Rows [row0, row0 + kRows): 64 columns at a time, then 16, then a last 8 (head_dim % 8 == 0).
template <int kRows>
FLASHJIT_BF16_TARGET inline void accumulate_rows(const uint32_t* p_pairs, int key_pairs, const uint32_t* v_pairs,
                                                 int head_dim, const float* correction, float* acc, int row0) {
  int d0 = 0;
  for (; d0 + 64 <= head_dim; d0 += 64)
    accumulate_tile<kRows, 4>(p_pairs, key_pairs, v_pairs, head_dim, correction, acc, row0, d0, 0xffff);
  for (; d0 + 16 <= head_dim; d0 += 16)
    accumulate_tile<kRows, 1>(p_pairs, key_pairs, v_pairs, head_dim, correction, acc, row0, d0, 0xffff);
  if (d0 < head_dim)
    accumulate_tile<kRows, 1>(p_pairs, key_pairs, v_pairs, head_dim, correction, acc, row0, d0, 0x00ff);
}

}  // namespace

FLASHJIT_BF16_TARGET void scores(const uint32_t* q_pairs, const uint32_t* const* k_rows, int keys, int head_dim,
                                 float scale, float* st) {
  constexpr int kKeys = 4;
  const int padded_keys = (keys + kKeyGroup - 1) / kKeyGroup * kKeyGroup;
  const int pairs = head_dim / 2;
  const __m512 scale_vector = _mm512_set1_ps(scale);
  for (int c0 = 0; c0 < padded_keys; c0 += kKeys) {
    __m512 acc[kKeys][kLaneVectors];
#pragma GCC unroll 4
    for (int j = 0; j < kKeys; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < kLaneVectors; ++v) acc[j][v] = _mm512_setzero_ps();
    for (int t = 0; t < pairs; ++t) {
      __m512i q[kLaneVectors];
#pragma GCC unroll 4
      for (int v = 0; v < kLaneVectors; ++v) q[v] = _mm512_loadu_si512(q_pairs + t * kWideLanes + v * 16);
#pragma GCC unroll 4
      for (int j = 0; j < kKeys; ++j) {
        const __m512i k = _mm512_set1_epi32(static_cast<int>(k_rows[c0 + j][t]));
#pragma GCC unroll 4
        for (int v = 0; v < kLaneVectors; ++v) acc[j][v] = _mm512_dpbf16_ps(acc[j][v], as_pairs(k), as_pairs(q[v]));
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < kKeys; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < kLaneVectors; ++v)
        _mm512_storeu_ps(st + (c0 + j) * kWideLanes + v * 16, _mm512_mul_ps(acc[j][v], scale_vector));
  }
}

FLASHJIT_BF16_TARGET void pack_probabilities(const float* pt, int keys, uint32_t* p_pairs) {
  for (int i = 0; 2 * i < keys; ++i) {
    const float* even = pt + 2 * i * kWideLanes;
    const bool has_odd = 2 * i + 1 < keys;
    for (int l = 0; l < kWideLanes; ++l) {
      const uint32_t high = has_odd ? bf16_bits(even[kWideLanes + l]) : 0u;
      p_pairs[i * kWideLanes + l] = bf16_bits(even[l]) | (high << 16);
    }
  }
}

FLASHJIT_BF16_TARGET void pack_values(const uint16_t* const* v_rows, int keys, int head_dim, uint32_t* v_pairs) {
  for (int i = 0; 2 * i < keys; ++i) {
    const uint16_t* even = v_rows[2 * i];
    const uint16_t* odd = 2 * i + 1 < keys ? v_rows[2 * i + 1] : nullptr;
    uint32_t* out = v_pairs + i * head_dim;
    if (odd == nullptr) {
      for (int x = 0; x < head_dim; ++x) out[x] = even[x];
      continue;
    }
    for (int x = 0; x < head_dim; ++x) out[x] = static_cast<uint32_t>(even[x]) | (static_cast<uint32_t>(odd[x]) << 16);
  }
}

FLASHJIT_BF16_TARGET void accumulate(const uint32_t* p_pairs, int keys, const uint32_t* v_pairs, int head_dim,
                                     const float* correction, float* acc, int rows) {
  const int key_pairs = (keys + 1) / 2;
  int row0 = 0;
  for (; row0 + 4 <= rows; row0 += 4) accumulate_rows<4>(p_pairs, key_pairs, v_pairs, head_dim, correction, acc, row0);
  for (; row0 < rows; ++row0) accumulate_rows<1>(p_pairs, key_pairs, v_pairs, head_dim, correction, acc, row0);
}

}  // namespace flashjit::cpu::bf16
#endif
