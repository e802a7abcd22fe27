#include "runtime/cpu/unit_walk.h"

#include <algorithm>

namespace flashjit::cpu {
namespace {

// Whether the unit multiplies in bf16 pairs: a set with bf16 products, bf16 Q, K and V, and only
// wide blocks (a decode step's few rows are read-bound; their fp32 path is as fast).
bool uses_bf16_products(const AttentionArgs& a, const Unit& unit, const BlockKernels& kernels) {
  if (kernels.bf16_scores == nullptr) return false;
  if (a.q.dtype != DType::bf16 || a.k.dtype != DType::bf16 || a.v.dtype != DType::bf16) return false;
  for (int j = 0; j < unit.count; ++j)
    if (lanes_of(unit.blocks[j]) != kWideLanes) return false;
  return true;
}

}  // namespace

// The keys some block of the unit sees (the blocks' ranges are ordered, so their hull is the union
// but for gaps no block of a causal or windowed problem leaves).
KeyRange keys_seen(const AttentionArgs& a, const Unit& unit) {
  const ScoreRule rule = score_rule(a, unit.blocks[0].seq, unit.blocks[0].h);
  KeyRange keys = keys_seen(rule, unit.blocks[0]);
  for (int j = 1; j < unit.count; ++j) {
    const KeyRange block_keys = keys_seen(rule, unit.blocks[j]);
    if (block_keys.empty()) continue;
    if (keys.empty()) keys = block_keys;
    keys = {std::min(keys.begin, block_keys.begin), std::max(keys.end, block_keys.end)};
  }
  return keys;
}

// Runs the online softmax of the unit's rows over `keys`, leaving the unnormalized output, max and
// sum of each row in the scratch's block states. A key block outside a query block's own keys is
// skipped for it (the diagonal of a causal problem, a window's edges).
void attend(const AttentionArgs& a, const Unit& unit, KeyRange keys, const BlockKernels& kernels, BlockScratch& s) {
  const int head_dim = a.head_dim;
  const QueryBlock& first = unit.blocks[0];
  const int kv_head = first.h / (a.num_heads / a.num_kv_heads);
  const ScoreRule rule = score_rule(a, first.seq, first.h);
  const bool bf16_products = uses_bf16_products(a, unit, kernels);
  KeyRange block_keys[kMaxBlocksPerUnit];
  for (int j = 0; j < unit.count; ++j) {
    if (bf16_products) load_query_pairs(a, unit.blocks[j], s.blocks[j]);
    else load_queries(a, unit.blocks[j], kernels, s.q_row.data(), s.blocks[j]);
    block_keys[j] = keys_seen(rule, unit.blocks[j]);
  }

  // 64-bit: k_begin + kKeyBlock passes INT32_MAX when seqlen_k is within a block of it.
  for (int64_t k_begin = keys.begin; k_begin < keys.end; k_begin += kKeyBlock) {
    const int k_cols = static_cast<int>(std::min<int64_t>(kKeyBlock, keys.end - k_begin));
    if (bf16_products) load_key_block_as_pairs(a, first.seq, kv_head, k_begin, k_cols, kernels, s);
    else load_key_block(a, first.seq, kv_head, k_begin, k_cols, kernels, s);
    for (int j = 0; j < unit.count; ++j) {
      if (k_begin >= block_keys[j].end || k_begin + k_cols <= block_keys[j].begin) continue;
      const QueryBlock& blk = unit.blocks[j];
      BlockState& state = s.blocks[j];
      const int lanes = lanes_of(blk);
      if (bf16_products) {
        kernels.bf16_scores(state.q_pairs.data(), s.k_pair_rows, k_cols, head_dim, a.softmax_scale,
                            s.scores.data());
        mask_scores(rule, blk, k_begin, k_cols, lanes, kernels, s.scores.data());
        kernels.softmax(s.scores.data(), k_cols, lanes, state.row_max.data(), state.row_sum.data(),
                        s.correction.data());
        kernels.bf16_pack_probabilities(s.scores.data(), k_cols, s.p_pairs.data());
        kernels.bf16_accumulate(s.p_pairs.data(), k_cols, s.v_pairs.data(), head_dim, s.correction.data(),
                                state.acc.data(), blk.q_rows);
        continue;
      }
      if (lanes == kWideLanes) kernels.wide_scores(state.q.data(), s.k_rows, k_cols, head_dim, s.scores.data());
      else kernels.narrow_scores(state.q.data(), blk.q_rows, s.k_rows, k_cols, head_dim, s.scores.data());
      mask_scores(rule, blk, k_begin, k_cols, lanes, kernels, s.scores.data());
      kernels.softmax(s.scores.data(), k_cols, lanes, state.row_max.data(), state.row_sum.data(),
                      s.correction.data());
      kernels.accumulate(s.scores.data(), k_cols, lanes, s.v_rows, head_dim, s.correction.data(), state.acc.data(),
                         blk.q_rows);
    }
  }
}

}  // namespace flashjit::cpu
