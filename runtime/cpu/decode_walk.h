// A decode step's walk (every sequence has 8 query rows or fewer): one sequence's keys over all of
// its heads.
#pragma once

#include <vector>

#include "flashjit/types.h"
#include "runtime/cpu/block_kernels.h"
#include "runtime/cpu/block_state.h"
#include "runtime/cpu/call_view.h"

namespace flashjit::cpu {

// A decode step (every sequence has 8 query rows or fewer): an item is one sequence's share of the
// keys over all of its heads. It copies a block of keys' K and V rows of every kv head to fp32 in
// memory order (in the [batch, seq, head, dim] layout a key's rows of all heads are adjacent: a
// walk per head would touch a new page every row or two and wait on page walks and memory), then
// runs each query head on its kv head's rows: GQA reads each K/V row once per group.
struct DecodeScratch {
  explicit DecodeScratch(const AttentionArgs& a)
      : block(a.head_dim, 0),
        heads(a.num_heads, BlockState(a.head_dim, kNarrowLanes)),
        keys_per_block(decode_keys_per_block(a)),
        k_all(static_cast<size_t>(a.num_kv_heads) * keys_per_block * block.row_stride),
        v_all(k_all.size()) {}

  // Keys per block: all kv heads' rows of a block (K and V in fp32) within 256 KiB of L2, 8 to 64.
  static int decode_keys_per_block(const AttentionArgs& a) {
    constexpr int kBudgetBytes = 256 * 1024;
    const int bytes_per_key = 2 * a.num_kv_heads * a.head_dim * static_cast<int>(sizeof(float));
    return std::clamp(kBudgetBytes / bytes_per_key / kKeyGroup * kKeyGroup, kKeyGroup, kKeyBlock);
  }
  float* k_row(int kv_head, int c) { return &k_all[row_index(kv_head, c)]; }
  float* v_row(int kv_head, int c) { return &v_all[row_index(kv_head, c)]; }
  size_t row_index(int kv_head, int c) const {
    return (static_cast<size_t>(kv_head) * keys_per_block + c) * block.row_stride;
  }

  BlockScratch block;             // row tables, scores
  std::vector<BlockState> heads;  // one per query head
  int keys_per_block;
  std::vector<float> k_all;       // [kv head][key of the block] rows, row_stride apart
  std::vector<float> v_all;
};

// This thread's decode scratch for `a`'s shape: the one it used last when that fits, else a new one.
DecodeScratch& reusable_decode_scratch(const AttentionArgs& a);

// The block of sequence `seq`'s rows (all of them: 8 or fewer) of head `h`.
inline QueryBlock decode_block(const Sequence& seq, int h) { return QueryBlock{seq, h, 0, seq.seqlen_q}; }

// Runs the online softmax of every head of `seq` over `keys`, leaving each head's unnormalized
// output, max and sum in s.heads.
void attend_decode(const AttentionArgs& a, const Sequence& seq, KeyRange keys, const BlockKernels& kernels,
                   DecodeScratch& s);

}  // namespace flashjit::cpu
