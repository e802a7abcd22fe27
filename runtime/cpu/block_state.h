// One query block's state through the key walk and a worker's scratch, and moving rows in and out
// of them: queries in, K/V blocks in (fp32, or bf16 pairs), masks applied, results out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "flashjit/types.h"
#include "runtime/cpu/block_kernels.h"
#include "runtime/cpu/call_view.h"

namespace flashjit::cpu {

// Query blocks per unit of work: each K/V block loaded serves that many query blocks. A head's K and
// V (2 MiB in fp32 at 2048 keys of d 128) outgrow L2, so each pass over them comes from L3 or
// memory, a row per 4 KiB page where the prefetchers give up; more blocks per pass, less of that
// traffic. Their state (Q^T and accumulator, 512 * head_dim bytes a block) is kept within about
// half of a 1 MiB L2: 8 blocks at d 128, 4 at d 256.
constexpr int kMaxBlocksPerUnit = 8;
constexpr int kUnitStateBudgetBytes = 512 * 1024;

inline int blocks_per_unit(int head_dim) {
  const int state_bytes = 2 * kWideLanes * head_dim * static_cast<int>(sizeof(float));
  return std::clamp(kUnitStateBudgetBytes / state_bytes, 1, kMaxBlocksPerUnit);
}

// The state of one query block's rows through the key walk, for blocks of up to `lanes` rows.
struct BlockState {
  explicit BlockState(int head_dim, int lanes = kWideLanes)
      : q(static_cast<size_t>(lanes) * head_dim),
        acc(static_cast<size_t>(lanes) * head_dim),
        row_max(lanes),
        row_sum(lanes),
        q_pairs(lanes == kWideLanes ? static_cast<size_t>(kWideLanes) * head_dim / 2 : 0) {}

  std::vector<float> q;        // Q^T [head_dim][64] (wide) or Q [rows][head_dim] (narrow), pre-scaled
  std::vector<float> acc;      // [rows][head_dim], unnormalized output
  std::vector<float> row_max;  // running max of the scaled scores seen so far, per lane
  std::vector<float> row_sum;  // running sum of exp(score - row_max), per lane
  std::vector<uint32_t> q_pairs;  // bf16 products: Q^T as [head_dim / 2][64] pairs, unscaled
};

// fp32 buffers of one worker thread, for units of up to `block_count` query blocks of `head_dim`,
// kept from one forward() to the next (reusable_block_scratch): every buffer a walk reads it writes
// first, except the zero rows.
struct BlockScratch {
  BlockScratch(int dim, int block_count)
      : head_dim(dim),
        blocks(block_count, BlockState(dim)),
        scores(static_cast<size_t>(kKeyBlock) * kWideLanes),
        correction(kWideLanes),
        row_stride(dim + kRowPadding),
        k_block(kKeyBlock * row_stride),
        v_block(kKeyBlock * row_stride),
        zero_row(dim, 0.0f),
        q_row(dim),
        pair_row_stride(dim / 2 + kRowPadding),
        k_pairs(kKeyBlock * pair_row_stride),
        zero_pairs(dim / 2, 0u),
        v_pairs(static_cast<size_t>(kKeyBlock / 2) * dim),
        p_pairs(static_cast<size_t>(kKeyBlock / 2) * kWideLanes) {}

  int head_dim;
  std::vector<BlockState> blocks;  // one per query block of the unit
  std::vector<float> scores;       // S^T [kKeyBlock][lanes], then P^T
  std::vector<float> correction;   // the block's rescaling of each lane's earlier accumulator
  // A cache line between rows, so that rows of a power-of-two length do not all start in one L1 set.
  static constexpr size_t kRowPadding = 16;
  size_t row_stride;              // floats from one K (or V) row of the block to the next
  std::vector<float> k_block;     // the key block's K rows widened to fp32 (fp16, bf16 storage)
  std::vector<float> v_block;     // its V rows in fp32
  std::vector<float> zero_row;    // pads a block's K rows to a multiple of kKeyGroup
  std::vector<float> q_row;       // one Q row before it is transposed
  const float* k_rows[kKeyBlock];
  const float* v_rows[kKeyBlock];

  // bf16 products (bf16_products.h): the block's K rows as pairs, V and P^T packed in pairs of keys.
  size_t pair_row_stride;
  std::vector<uint32_t> k_pairs;
  std::vector<uint32_t> zero_pairs;
  std::vector<uint32_t> v_pairs;
  std::vector<uint32_t> p_pairs;
  const uint32_t* k_pair_rows[kKeyBlock];
  const uint16_t* v_bf16_rows[kKeyBlock];
};

// This thread's scratch for units of `block_count` blocks of `head_dim`: the one it used last when
// that fits, else a new one (which then stays). A forward() allocates nothing on its threads once
// they have run a problem of its shape, so a small call costs its compute and not a fresh megabyte.
BlockScratch& reusable_block_scratch(int head_dim, int block_count);

// Converts `count` contiguous elements of a `dtype` tensor, starting at element `offset`, to fp32.
void load_row(const BlockKernels& kernels, const void* data, DType dtype, int64_t offset, int count, float* dst);

// Rounds `count` fp32 values to `dtype` and stores them contiguously from element `offset`.
void store_row(const BlockKernels& kernels, void* data, DType dtype, int64_t offset, int count, const float* src);

// values[d] *= factor for d < head_dim.
void scale_row(float* __restrict values, float factor, int head_dim);

// Before the key walk: nothing weighed yet.
void reset_state(const QueryBlock& blk, int head_dim, BlockState& state);

// The block's query rows in fp32, multiplied by the softmax scale (head_dim multiplies per row
// instead of one per score): transposed for wide blocks, lanes past its rows zero; as rows for
// narrow ones.
void load_queries(const AttentionArgs& a, const QueryBlock& blk, const BlockKernels& kernels, float* q_row,
                  BlockState& state);

// bf16 products: the block's query rows as Q^T pairs, unscaled (the scores take the scale), lanes
// past its rows zero.
void load_query_pairs(const AttentionArgs& a, const QueryBlock& blk, BlockState& state);

// Points the scratch's row tables at keys [k_begin, k_begin + k_cols) of the block's kv head in fp32,
// the K rows padded with zeros to a multiple of kKeyGroup (their scores are never read). fp16 and
// bf16 rows are widened into the scratch. fp32 K rows are read in place, but fp32 V rows are copied:
// in the tensor, consecutive keys lie a token apart (every head's row in between), often a multiple
// of 4 KiB, so the block's rows would share a few L1 sets and evict each other on every pass of the
// P.V tiles (a pass per 4 rows and 64 columns); the score tiles pass over each K row once.
void load_key_block(const AttentionArgs& a, const Sequence& seq, int kv_head, int64_t k_begin, int k_cols,
                    const BlockKernels& kernels, BlockScratch& s);

// bf16 products: the block's K rows copied as pairs (padded with zeros to kKeyGroup), V packed in
// pairs of keys.
void load_key_block_as_pairs(const AttentionArgs& a, const Sequence& seq, int kv_head, int64_t k_begin, int k_cols,
                             const BlockKernels& kernels, BlockScratch& s);

// Normalizes the accumulator and writes out (and lse). A row with nothing to weigh (it saw no key,
// or only -inf scores: its sum is exactly 0) stays all zeros with lse = -inf, as FlashAttention
// defines it. A NaN score makes the sum NaN, and with it the row's output and lse (never -inf).
void write_block(const AttentionArgs& a, const QueryBlock& blk, const BlockKernels& kernels, BlockState& s);

// A block whose rows all see no key: zeros (all-zero bits in every dtype) and lse = -inf, with
// nothing loaded or computed (causal problems with many more queries than keys are mostly this).
void write_block_that_sees_no_key(const AttentionArgs& a, const QueryBlock& blk);

// Caps and biases the block's scores (S^T, `lanes` wide) and masks those outside each row's keys
// with -inf (the kernels' modify_scores). A block every row sees whole, unmodified, is left alone: in
// a long causal problem that is all but the diagonal blocks.
void mask_scores(const ScoreRule& rule, const QueryBlock& blk, int64_t k_begin, int k_cols, int lanes,
                 const BlockKernels& kernels, float* st);

}  // namespace flashjit::cpu
