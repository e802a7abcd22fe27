#include "runtime/cpu/decode_walk.h"

#include <algorithm>
#include <memory>

namespace flashjit::cpu {

DecodeScratch& reusable_decode_scratch(const AttentionArgs& a) {
  thread_local std::unique_ptr<DecodeScratch> scratch;
  const bool fits = scratch && scratch->block.head_dim == a.head_dim &&
                    static_cast<int>(scratch->heads.size()) >= a.num_heads &&
                    scratch->keys_per_block == DecodeScratch::decode_keys_per_block(a) &&
                    scratch->k_all.size() >= static_cast<size_t>(a.num_kv_heads) * scratch->keys_per_block *
                                                 scratch->block.row_stride;
  if (!fits) scratch = std::make_unique<DecodeScratch>(a);
  return *scratch;
}

void attend_decode(const AttentionArgs& a, const Sequence& seq, KeyRange keys, const BlockKernels& kernels,
                   DecodeScratch& s) {
  const int head_dim = a.head_dim;
  const int group = a.num_heads / a.num_kv_heads;
  for (int h = 0; h < a.num_heads; ++h)
    load_queries(a, decode_block(seq, h), kernels, s.block.q_row.data(), s.heads[h]);
  for (int64_t k_begin = keys.begin; k_begin < keys.end; k_begin += s.keys_per_block) {
    const int k_cols = static_cast<int>(std::min<int64_t>(s.keys_per_block, keys.end - k_begin));
    for (int c = 0; c < k_cols; ++c)
      for (int kv_head = 0; kv_head < a.num_kv_heads; ++kv_head) {
        load_row(kernels, a.k.data, a.k.dtype, key_offset(a, a.k.strides, seq, k_begin + c, kv_head), head_dim,
                 s.k_row(kv_head, c));
        load_row(kernels, a.v.data, a.v.dtype, key_offset(a, a.v.strides, seq, k_begin + c, kv_head), head_dim,
                 s.v_row(kv_head, c));
      }
    for (int kv_head = 0; kv_head < a.num_kv_heads; ++kv_head) {
      for (int c = 0; c < k_cols; ++c) {
        s.block.k_rows[c] = s.k_row(kv_head, c);
        s.block.v_rows[c] = s.v_row(kv_head, c);
      }
      for (int c = k_cols; c % kKeyGroup != 0; ++c) s.block.k_rows[c] = s.block.zero_row.data();
      for (int h = kv_head * group; h < (kv_head + 1) * group; ++h) {
        const QueryBlock blk = decode_block(seq, h);
        BlockState& state = s.heads[h];
        float* scores = s.block.scores.data();
        kernels.narrow_scores(state.q.data(), blk.q_rows, s.block.k_rows, k_cols, head_dim, scores);
        mask_scores(score_rule(a, seq, h), blk, k_begin, k_cols, kNarrowLanes, kernels, scores);
        kernels.softmax(scores, k_cols, kNarrowLanes, state.row_max.data(), state.row_sum.data(),
                        s.block.correction.data());
        kernels.accumulate(scores, k_cols, kNarrowLanes, s.block.v_rows, head_dim, s.block.correction.data(),
                           state.acc.data(), blk.q_rows);
      }
    }
  }
}

}  // namespace flashjit::cpu
