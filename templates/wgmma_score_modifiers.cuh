// Issue 14's sliding windows, softcap and ALiBi in the wgmma_sm90 kernel (wgmma_sm90_forward.cuh):
// which key blocks a tile loads and computes, and the scores of one block, through the shared
// ScoreRule (score_modifiers.cuh) on the fragment layout the online softmax of mma_forward.cuh reads.
// Only a kernel with modifiers (its `_modified` entry) calls these; a dense kernel's code does not
// change. In a ragged batch, rows and keys are the sequence's own (ModState's SequenceView).
#pragma once

#include "attention_params.cuh"
#include "mma_forward.cuh"
#include "numeric.cuh"
#include "score_modifiers.cuh"

namespace flashjit {
namespace dev {

// The key blocks of one tile: [first, first + count), processed from the last to the first.
struct KeyBlocks {
  int first;
  int count;
};

// Every block holding a key some row of the query tile `m_block` sees, and no other: a window skips
// whole blocks on both sides, so a tile's work is proportional to its band, not to the sequence. A
// tile none of whose rows sees a key has no block (the producer loads nothing for it, the consumers
// store zeros with lse -inf). The producer and the consumers both ask this, so they walk the K/V ring
// through the same blocks.
template <class Shape, class Traits>
__device__ __forceinline__ KeyBlocks window_key_blocks(const ModState<Traits, ScoreModParams>& mod, int m_block) {
  const int row0 = m_block * Shape::kBlockM;
  // A ragged batch's tiles run to its longest sequence: a shorter one has nothing from here on.
  if constexpr (Traits::kRagged)
    if (row0 >= mod.sequence.seqlen_q) return {0, 0};
  const int row_last = min(row0 + Shape::kBlockM, mod.sequence.seqlen_q) - 1;
  // first_key and last_key grow with the row: the top row starts the band, the bottom row ends it.
  const int begin = mod.rule.key_begin(row0);
  const int end = mod.rule.key_end(row_last);
  if (begin >= end) return {0, 0};
  const int first = begin / Shape::kBlockN;
  return {first, (end + Shape::kBlockN - 1) / Shape::kBlockN - first};
}

// The scores of one block of the warp's 16 rows (C fragments: this thread's rows g and g + 8, keys
// n0 + 8nt + 2t + e) as logits in the log2 domain (the scale, the softcap, the ALiBi bias: ScoreRule's
// logit through logit_at_distance), and with kMasked, -inf where the row does not see the key (window,
// diagonal, sequence end).
template <class Shape, class Traits, bool kMasked>
__device__ __forceinline__ void apply_score_rule(float (&s)[1][Shape::kNTiles][4], const ScoreRule<Traits>& rule,
                                                 int first_row, int n0, int lane) {
  const int g = lane / 4;
  const int t = lane % 4;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = first_row + g + 8 * h;
    // ALiBi's distance to the thread's first key of the block, once per row (logit_at_distance).
    const float distance0 = static_cast<float>(row + rule.offset - n0 - 2 * t);
    // Element (nt, e) is key n0 + 2t + 8nt + e: visible while first_visible <= 8nt + e <= last_visible
    // (two compares against a compile-time constant per element).
    int first_visible = 0;
    int last_visible = 0;
    if (kMasked) {
      first_visible = rule.first_key(row) - n0 - 2 * t;
      last_visible = rule.last_key(row) - n0 - 2 * t;
    }
#pragma unroll
    for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float& x = s[0][nt][2 * h + e];
        const int key = 8 * nt + e;
        x = logit_at_distance(rule, x, distance0 - static_cast<float>(key));
        if (kMasked && (key < first_visible || key > last_visible)) x = negative_infinity();
      }
    }
  }
}

// The first half of the online softmax of a modified kernel's block (softmax_scores, which leaves O
// alone and returns O's rescale). Only blocks crossing an edge of some row's band (the window, the
// diagonal, the sequence end) take the mask, decided per warp; softcap and ALiBi change every
// element; a window alone leaves a block inside every band to the dense kernel's unmasked path.
template <class Shape, class Traits>
__device__ __forceinline__ OutputRescale<Shape> modified_block_scores(float (&s)[1][Shape::kNTiles][4],
                                                                      MmaAccumulators<Shape>& acc,
                                                                      const AttentionParams& p,
                                                                      const ScoreRule<Traits>& rule, int warp_row0,
                                                                      int block, int lane) {
  const int n0 = block * Shape::kBlockN;
  // The scores below are logits already: the softmax scales them by exactly 1.
  AttentionParams logits = p;
  logits.scale_log2 = 1.0f;
  if (rule.tile_needs_mask(warp_row0, 16, n0, Shape::kBlockN)) {
    apply_score_rule<Shape, Traits, true>(s, rule, warp_row0, n0, lane);
    return softmax_scores<Shape, false, false>(s, acc, logits, warp_row0, n0, lane);
  }
  if constexpr (Traits::kSoftcap || Traits::kAlibi) {
    apply_score_rule<Shape, Traits, false>(s, rule, warp_row0, n0, lane);
    return softmax_scores<Shape, false, false>(s, acc, logits, warp_row0, n0, lane);
  } else {
    return softmax_scores<Shape, false, false>(s, acc, p, warp_row0, n0, lane);
  }
}

}  // namespace dev
}  // namespace flashjit
