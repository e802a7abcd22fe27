#include "runtime/cpu/block_state.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

namespace flashjit::cpu {

BlockScratch& reusable_block_scratch(int head_dim, int block_count) {
  thread_local std::unique_ptr<BlockScratch> scratch;
  if (!scratch || scratch->head_dim != head_dim || static_cast<int>(scratch->blocks.size()) < block_count)
    scratch = std::make_unique<BlockScratch>(head_dim, block_count);
  return *scratch;
}

// Converts `count` contiguous elements of a `dtype` tensor, starting at element `offset`, to fp32.
void load_row(const BlockKernels& kernels, const void* data, DType dtype, int64_t offset, int count, float* dst) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(dst, static_cast<const float*>(data) + offset, sizeof(float) * count);
      return;
    case DType::f16:
      kernels.widen_f16(static_cast<const uint16_t*>(data) + offset, count, dst);
      return;
    case DType::bf16:
      kernels.widen_bf16(static_cast<const uint16_t*>(data) + offset, count, dst);
      return;
  }
}

// Rounds `count` fp32 values to `dtype` and stores them contiguously from element `offset`.
void store_row(const BlockKernels& kernels, void* data, DType dtype, int64_t offset, int count, const float* src) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(static_cast<float*>(data) + offset, src, sizeof(float) * count);
      return;
    case DType::f16:
      kernels.narrow_f16(src, count, static_cast<uint16_t*>(data) + offset);
      return;
    case DType::bf16:
      kernels.narrow_bf16(src, count, static_cast<uint16_t*>(data) + offset);
      return;
  }
}

// values[d] *= factor for d < head_dim.
void scale_row(float* __restrict values, float factor, int head_dim) {
  for (int d = 0; d < head_dim; ++d) values[d] *= factor;
}

// Before the key walk: nothing weighed yet.
void reset_state(const QueryBlock& blk, int head_dim, BlockState& state) {
  std::fill(state.acc.begin(), state.acc.begin() + static_cast<size_t>(blk.q_rows) * head_dim, 0.0f);
  std::fill(state.row_max.begin(), state.row_max.end(), kMinusInfinity);
  std::fill(state.row_sum.begin(), state.row_sum.end(), 0.0f);
}

// The block's query rows in fp32, multiplied by the softmax scale (head_dim multiplies per row
// instead of one per score): transposed for wide blocks, lanes past its rows zero; as rows for
// narrow ones.
void load_queries(const AttentionArgs& a, const QueryBlock& blk, const BlockKernels& kernels, float* q_row,
                  BlockState& state) {
  const int head_dim = a.head_dim;
  const bool wide = lanes_of(blk) == kWideLanes;
  if (wide && blk.q_rows < kWideLanes) std::fill(state.q.begin(), state.q.end(), 0.0f);
  for (int r = 0; r < blk.q_rows; ++r) {
    load_row(kernels, a.q.data, a.q.dtype,
             element_offset(a.q.strides, blk.seq.b, blk.seq.q_row0 + blk.q_begin + r, blk.h), head_dim, q_row);
    for (int d = 0; d < head_dim; ++d) {
      const float scaled = q_row[d] * a.softmax_scale;
      if (wide) state.q[static_cast<size_t>(d) * kWideLanes + r] = scaled;
      else state.q[static_cast<size_t>(r) * head_dim + d] = scaled;
    }
  }
  reset_state(blk, head_dim, state);
}

// bf16 products: the block's query rows as Q^T pairs, unscaled (the scores take the scale), lanes
// past its rows zero.
void load_query_pairs(const AttentionArgs& a, const QueryBlock& blk, BlockState& state) {
  const int pairs = a.head_dim / 2;
  if (blk.q_rows < kWideLanes) std::fill(state.q_pairs.begin(), state.q_pairs.end(), 0u);
  for (int r = 0; r < blk.q_rows; ++r) {
    const uint16_t* row = static_cast<const uint16_t*>(a.q.data) +
                          element_offset(a.q.strides, blk.seq.b, blk.seq.q_row0 + blk.q_begin + r, blk.h);
    for (int t = 0; t < pairs; ++t)
      state.q_pairs[static_cast<size_t>(t) * kWideLanes + r] =
          static_cast<uint32_t>(row[2 * t]) | (static_cast<uint32_t>(row[2 * t + 1]) << 16);
  }
  reset_state(blk, a.head_dim, state);
}

// Points the scratch's row tables at keys [k_begin, k_begin + k_cols) of the block's kv head in fp32,
// the K rows padded with zeros to a multiple of kKeyGroup (their scores are never read). fp16 and
// bf16 rows are widened into the scratch. fp32 K rows are read in place, but fp32 V rows are copied:
// in the tensor, consecutive keys lie a token apart (every head's row in between), often a multiple
// of 4 KiB, so the block's rows would share a few L1 sets and evict each other on every pass of the
// P.V tiles (a pass per 4 rows and 64 columns); the score tiles pass over each K row once.
void load_key_block(const AttentionArgs& a, const Sequence& seq, int kv_head, int64_t k_begin, int k_cols,
                    const BlockKernels& kernels, BlockScratch& s) {
  for (int c = 0; c < k_cols; ++c) {
    const int64_t k_offset = key_offset(a, a.k.strides, seq, k_begin + c, kv_head);
    if (a.k.dtype == DType::f32) {
      s.k_rows[c] = static_cast<const float*>(a.k.data) + k_offset;
    } else {
      float* k_row = &s.k_block[c * s.row_stride];
      load_row(kernels, a.k.data, a.k.dtype, k_offset, a.head_dim, k_row);
      s.k_rows[c] = k_row;
    }
    float* v_row = &s.v_block[c * s.row_stride];
    load_row(kernels, a.v.data, a.v.dtype, key_offset(a, a.v.strides, seq, k_begin + c, kv_head), a.head_dim, v_row);
    s.v_rows[c] = v_row;
  }
  for (int c = k_cols; c % kKeyGroup != 0; ++c) s.k_rows[c] = s.zero_row.data();
}

// bf16 products: the block's K rows copied as pairs (padded with zeros to kKeyGroup), V packed in
// pairs of keys.
void load_key_block_as_pairs(const AttentionArgs& a, const Sequence& seq, int kv_head, int64_t k_begin, int k_cols,
                             const BlockKernels& kernels, BlockScratch& s) {
  const size_t row_bytes = static_cast<size_t>(a.head_dim) * sizeof(uint16_t);
  for (int c = 0; c < k_cols; ++c) {
    uint32_t* k_row = &s.k_pairs[c * s.pair_row_stride];
    std::memcpy(k_row,
                static_cast<const uint16_t*>(a.k.data) + key_offset(a, a.k.strides, seq, k_begin + c, kv_head),
                row_bytes);
    s.k_pair_rows[c] = k_row;
    s.v_bf16_rows[c] =
        static_cast<const uint16_t*>(a.v.data) + key_offset(a, a.v.strides, seq, k_begin + c, kv_head);
  }
  for (int c = k_cols; c % kKeyGroup != 0; ++c) s.k_pair_rows[c] = s.zero_pairs.data();
  kernels.bf16_pack_values(s.v_bf16_rows, k_cols, a.head_dim, s.v_pairs.data());
}

// Normalizes the accumulator and writes out (and lse). A row with nothing to weigh (it saw no key,
// or only -inf scores: its sum is exactly 0) stays all zeros with lse = -inf, as FlashAttention
// defines it. A NaN score makes the sum NaN, and with it the row's output and lse (never -inf).
void write_block(const AttentionArgs& a, const QueryBlock& blk, const BlockKernels& kernels, BlockState& s) {
  const int head_dim = a.head_dim;
  for (int r = 0; r < blk.q_rows; ++r) {
    const int row = blk.q_begin + r;
    float* acc_row = &s.acc[static_cast<size_t>(r) * head_dim];
    const bool nothing_weighed = s.row_sum[r] == 0.0f;
    const float inverse_sum = nothing_weighed ? 0.0f : 1.0f / s.row_sum[r];
    scale_row(acc_row, inverse_sum, head_dim);
    store_row(kernels, a.out.data, a.out.dtype, element_offset(a.out.strides, blk.seq.b, blk.seq.q_row0 + row, blk.h),
              head_dim, acc_row);
    if (a.lse != nullptr)
      a.lse[lse_index(a, blk, row)] = nothing_weighed ? kMinusInfinity : s.row_max[r] + std::log(s.row_sum[r]);
  }
}

// A block whose rows all see no key: zeros (all-zero bits in every dtype) and lse = -inf, with
// nothing loaded or computed (causal problems with many more queries than keys are mostly this).
void write_block_that_sees_no_key(const AttentionArgs& a, const QueryBlock& blk) {
  const int element_bytes = dtype_size(a.out.dtype);
  for (int r = 0; r < blk.q_rows; ++r) {
    const int row = blk.q_begin + r;
    const int64_t offset = element_offset(a.out.strides, blk.seq.b, blk.seq.q_row0 + row, blk.h);
    std::memset(static_cast<char*>(a.out.data) + offset * element_bytes, 0,
                static_cast<size_t>(a.head_dim) * element_bytes);
    if (a.lse != nullptr) a.lse[lse_index(a, blk, row)] = kMinusInfinity;
  }
}

// Masks the block's scores (S^T, `lanes` wide) outside each row's keys with -inf, and caps and
// biases the others. A block every row sees whole, unmodified, is left alone: in a long causal
// problem that is all but the diagonal blocks.
void mask_scores(const ScoreRule& rule, const QueryBlock& blk, int64_t k_begin, int k_cols, int lanes,
                 const BlockKernels& kernels, float* st) {
  const int64_t k_last = k_begin + k_cols - 1;
  const bool seen_whole = rule.first_key(blk.q_begin + blk.q_rows - 1) <= k_begin && rule.last_key(blk.q_begin) >= k_last;
  if (seen_whole && !rule.modifies_scores) return;
  ScoreMods mods;
  mods.softcap = rule.softcap;
  mods.slope = rule.slope;
  mods.row_minus_key0 = blk.q_begin + rule.offset - k_begin;
  if (!seen_whole) {
    mods.window_left = rule.window_left;
    mods.window_right = rule.window_right;
  }
  kernels.modify_scores(st, k_cols, lanes, blk.q_rows, mods);
}

}  // namespace flashjit::cpu
