// The CPU backend's bf16-product kernels (AVX512-BF16's VDPBF16PS), used for bf16 storage on the
// avx512_bf16 instruction set; see bf16_products.cpp for the operand layouts. x86-64 only.
#pragma once

#include <cstdint>

#include "runtime/cpu/block_kernels.h"

namespace flashjit::cpu::bf16 {

// S^T[c * 64 + l] = scale * q_l . k_c for c < keys (K rows padded to kKeyGroup; their scores are
// never read), from Q^T as [head_dim / 2][64] pairs and K rows as pairs.
void scores(const uint32_t* q_pairs, const uint32_t* const* k_rows, int keys, int head_dim, float scale, float* st);
// P^T [keys][64] fp32 -> [ceil(keys / 2)][64] pairs of bf16 (an odd last key paired with 0).
void pack_probabilities(const float* pt, int keys, uint32_t* p_pairs);
// bf16 V rows -> [ceil(keys / 2)][head_dim] pairs (an odd last key paired with 0).
void pack_values(const uint16_t* const* v_rows, int keys, int head_dim, uint32_t* v_pairs);
// acc[i][:] = acc[i][:] * correction[i] + sum_c P[c][i] * v_c[:] for i < rows.
void accumulate(const uint32_t* p_pairs, int keys, const uint32_t* v_pairs, int head_dim, const float* correction,
                float* acc, int rows);

}  // namespace flashjit::cpu::bf16
