// How the CPU backend reads one call: its sequences (dense, ragged or from a KV cache), where a
// row of a tensor lies, which keys each query row sees and how its scores are modified
// (FlashAttention-2's semantics, include/flashjit/types.h), and the blocks of rows it walks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "flashjit/types.h"
#include "problem/kv_cache_args.h"
#include "runtime/cpu/block_kernels.h"

namespace flashjit::cpu {

inline constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// 64-bit throughout: an offset is a product of sizes, which passes 2^31 long before memory runs out.
inline int64_t element_offset(const Strides& strides, int64_t b, int64_t s, int64_t h) {
  return b * strides.batch + s * strides.seq + h * strides.head;
}

// One sequence of the batch: its lengths, and its first query and key tokens within batch entry b
// (0 in a dense batch; the offsets' entries in a ragged one, whose batch stride is 0). A KV cache's
// keys are its seqused_k (and the appended ones), from row 0 of its entry or of its pages.
struct Sequence {
  int b;
  int seqlen_q;
  int seqlen_k;
  int64_t q_row0;
  int64_t k_row0;
};

inline Sequence sequence_of(const AttentionArgs& a, int b) {
  Sequence s{b, a.seqlen_q, a.seqlen_k, 0, 0};
  if (a.cu_seqlens_q != nullptr) {
    s.seqlen_q = a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b];
    s.q_row0 = a.cu_seqlens_q[b];
  }
  if (has_kv_cache(a)) {
    s.seqlen_k = static_cast<int>(keys_after_append(a, a.seqused_k, b));
  } else if (a.cu_seqlens_k != nullptr) {
    s.seqlen_k = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    s.k_row0 = a.cu_seqlens_k[b];
  }
  return s;
}

// Element offset of key `key` (the sequence's own index) of tensor t (k or v, or a paged cache's).
inline int64_t key_offset(const AttentionArgs& a, const Strides& strides, const Sequence& seq, int64_t key,
                          int kv_head) {
  if (!is_paged(a)) return element_offset(strides, seq.b, seq.k_row0 + key, kv_head);
  const int64_t page = block_table_row(a, a.block_table, seq.b)[key / a.page_size];
  return element_offset(strides, page, key % a.page_size, kv_head);
}

// Which keys a row of one (sequence, head) sees and its scores' modifiers (FlashAttention-2's
// semantics; include/flashjit/types.h): the reference the kernels are checked against.
struct ScoreRule {
  int64_t offset = 0;       // seqlen_k - seqlen_q: the bottom-right alignment
  int seqlen_k = 0;
  int64_t window_left = -1;   // -1: unbounded
  int64_t window_right = -1;  // -1: unbounded; 0 under the causal mask
  float softcap = 0.0f;       // 0: off
  float slope = 0.0f;         // ALiBi slope of the head, 0: off
  bool modifies_scores = false;

  int64_t first_key(int64_t row) const {
    return window_left < 0 ? 0 : std::max<int64_t>(0, row + offset - window_left);
  }
  // Inclusive; below first_key when the row sees no key.
  int64_t last_key(int64_t row) const {
    const int64_t last = seqlen_k - 1;
    return window_right < 0 ? last : std::min(last, row + offset + window_right);
  }
  // A score already multiplied by the softmax scale, capped and biased.
  float modify(float scaled, int64_t row, int64_t col) const {
    float x = softcap > 0.0f ? softcap * std::tanh(scaled / softcap) : scaled;
    if (slope != 0.0f) x -= slope * static_cast<float>(std::llabs(row + offset - col));
    return x;
  }
};

inline ScoreRule score_rule(const AttentionArgs& a, const Sequence& seq, int h) {
  ScoreRule rule;
  rule.offset = static_cast<int64_t>(seq.seqlen_k) - seq.seqlen_q;
  rule.seqlen_k = seq.seqlen_k;
  rule.window_left = a.window_left;
  rule.window_right = a.mask == MaskKind::causal ? 0 : a.window_right;
  rule.softcap = a.softcap;
  if (a.alibi_slopes != nullptr) rule.slope = a.alibi_slopes[seq.b * a.alibi_batch_stride + h];
  rule.modifies_scores = rule.softcap > 0.0f || a.alibi_slopes != nullptr;
  return rule;
}

// One query block of one (sequence, head): rows [q_begin, q_begin + q_rows) of the sequence.
struct QueryBlock {
  Sequence seq;
  int h;
  int q_begin;
  int q_rows;
};

// Keys [begin, end) of the sequence.
struct KeyRange {
  int64_t begin;
  int64_t end;
  bool empty() const { return end <= begin; }
};

// A block of a few rows (decode) uses narrow lanes: wide ones would be mostly padding.
inline int lanes_of(const QueryBlock& blk) { return blk.q_rows <= kNarrowLanes ? kNarrowLanes : kWideLanes; }

// The keys some row of the block sees, from a block boundary: the others are never loaded. A causal
// block skips the keys past its last row's diagonal, a windowed one those before its first row's
// window.
inline KeyRange keys_seen(const ScoreRule& rule, const QueryBlock& blk) {
  const int64_t last_row = blk.q_begin + blk.q_rows - 1;
  const int64_t end = std::clamp<int64_t>(rule.last_key(last_row) + 1, 0, blk.seq.seqlen_k);
  const int64_t begin = std::min(rule.first_key(blk.q_begin) / kKeyBlock * kKeyBlock, end);
  return {begin, end};
}

// Index into lse of one query row: [batch, num_heads, seqlen_q], or [num_heads, total_q] when ragged.
inline int64_t lse_index(const AttentionArgs& a, const QueryBlock& blk, int row) {
  if (a.cu_seqlens_q != nullptr)
    return static_cast<int64_t>(blk.h) * a.cu_seqlens_q[a.batch] + blk.seq.q_row0 + row;
  return (static_cast<int64_t>(blk.seq.b) * a.num_heads + blk.h) * a.seqlen_q + row;
}

}  // namespace flashjit::cpu
