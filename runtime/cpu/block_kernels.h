// The CPU backend's inner loops over one block of queries and one block of keys, compiled once per
// instruction set (runtime/cpu/cpu_isa.h) from one plain C++ source (block_kernel_bodies.h).
//
// A block's scores are kept transposed, S^T[key][lane]: lane i is query row i of the block. The
// online softmax then runs down the columns, the same operation on every lane at once, and its
// max, sum and exponentials vectorize without a horizontal reduction.
#pragma once

#include <cstdint>

#include "runtime/cpu/cpu_isa.h"

namespace flashjit::cpu {

// Keys per block: a 64 x 64 fp32 score block is 16 KiB, so it and a K row stay in L1.
constexpr int kKeyBlock = 64;
// Query rows per block (the lanes of S^T): wide blocks for prefill, narrow ones for a few rows
// (decode), where wide lanes would be mostly padding.
constexpr int kWideLanes = 64;
constexpr int kNarrowLanes = 8;
// The score kernels read K rows in groups of this many; the caller pads a block's row pointers to a
// multiple of it with a row of zeros.
constexpr int kKeyGroup = 8;

// What modify_scores does to the score of lane r and key c, whose distance (query row + seqlen_k -
// seqlen_q - key: 0 on the causal diagonal) is row_minus_key0 + r - c: cap it (softcap > 0:
// softcap * tanh(score / softcap)), bias it (slope != 0: minus slope * |distance|), then mask it to
// -inf when the distance is beyond window_left (>= 0) or below -window_right (>= 0); -1 is unbounded.
struct ScoreMods {
  float softcap = 0.0f;
  float slope = 0.0f;
  int64_t row_minus_key0 = 0;
  int64_t window_left = -1;
  int64_t window_right = -1;
};

struct BlockKernels {
  CpuIsa isa;
  // Wide blocks: S^T[c * 64 + i] = q_i . k_c for c < keys, from Q^T ([head_dim][64], pre-scaled,
  // lanes past the block's rows zero) and the key rows (padded to a multiple of kKeyGroup).
  void (*wide_scores)(const float* q_transposed, const float* const* k_rows, int keys, int head_dim, float* st);
  // Narrow blocks: S^T[c * 8 + i] = q_i . k_c for i < rows <= 8, from Q ([rows][head_dim], pre-scaled).
  void (*narrow_scores)(const float* q, int rows, const float* const* k_rows, int keys, int head_dim, float* st);
  // The online softmax step on `lanes` (64 or 8) columns of S^T, masked already (-inf): folds the
  // block's max into row_max, turns the scores into exp(score - max), adds them to row_sum, and
  // leaves in `correction` the factor that rescales each row's earlier accumulator.
  void (*softmax)(float* st, int keys, int lanes, float* row_max, float* row_sum, float* correction);
  // The score modifiers and masks of a block (ScoreMods), on S^T's first `rows` lanes of `keys` keys.
  void (*modify_scores)(float* st, int keys, int lanes, int rows, const ScoreMods& mods);
  // acc[i][:] = acc[i][:] * correction[i] + sum_c P^T[c * lanes + i] * v_c[:] for i < rows.
  void (*accumulate)(const float* pt, int keys, int lanes, const float* const* v_rows, int head_dim,
                     const float* correction, float* acc, int rows);
  // fp16 and bf16 to fp32 and back, rounding to nearest even (F16C's conversions where the
  // instruction set has them). NaN stays NaN; fp16 overflows to infinity.
  void (*widen_f16)(const uint16_t* src, int count, float* dst);
  void (*widen_bf16)(const uint16_t* src, int count, float* dst);
  void (*narrow_f16)(const float* src, int count, uint16_t* dst);
  void (*narrow_bf16)(const float* src, int count, uint16_t* dst);

  // bf16 products (bf16_products.h) for bf16 storage; null in a set without them, whose bf16
  // problems widen to fp32 like the others.
  void (*bf16_scores)(const uint32_t* q_pairs, const uint32_t* const* k_rows, int keys, int head_dim, float scale,
                      float* st);
  void (*bf16_pack_probabilities)(const float* pt, int keys, uint32_t* p_pairs);
  void (*bf16_pack_values)(const uint16_t* const* v_rows, int keys, int head_dim, uint32_t* v_pairs);
  void (*bf16_accumulate)(const uint32_t* p_pairs, int keys, const uint32_t* v_pairs, int head_dim,
                          const float* correction, float* acc, int rows);
};

// The kernels of `isa`; the caller makes sure the CPU runs it (cpu_runs).
const BlockKernels& block_kernels(CpuIsa isa);

}  // namespace flashjit::cpu
