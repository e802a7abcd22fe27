// The tensor-core FlashAttention-2 forward shared by mma_sm80 (mma.m16n8k16, cp.async pipeline) and
// mma_sm80's Turing sibling mma_sm75 (two mma.m16n8k8 per k16 step, synchronous copies); `Ops`
// says which (see mma_sm80_forward.cuh and mma_sm75_forward.cuh). Its main loop (mma_forward: the
// K/V ring, causal block skipping, the choice of masked blocks, the epilogue's barrier) also runs
// Volta's mma_sm70, whose m8n8k4 fragments are another `Fragments` policy (mma_sm70_forward.cuh);
// a row's lse and the epilogue's copy of O to global memory are shared with it too.
//
// One thread block owns kBlockM query rows of one (batch, head); warp w owns the 16 * kMTiles
// consecutive rows starting at w * 16 * kMTiles. Per K/V block of kBlockN keys:
//   S = Q K^T      A = Q from shared memory (ldmatrix), B = K (ldmatrix), fp32 accumulators
//   online softmax on the S fragments in registers, exp2 with the scale folded in; each thread
//                  holds two rows (g and g + 8) per 16-row tile, and the four threads of a quad
//                  share a row, so row maxima take two shuffles; row sums stay per thread until the end
//   O += P V       A = P converted from the S accumulators in registers (the C fragment of
//                  m16n8 is the A fragment of the next k16 step), B = V (ldmatrix.trans)
// K/V tiles stream through a ring of kStages shared-memory slots: the load of block j + kStages - 1
// is issued while block j is computed. With causal masking, blocks entirely above the diagonal are
// never loaded, and only blocks that cross the diagonal or the sequence end are masked.
// O is normalized, staged through the warp's own (no longer needed) Q rows and written with
// 16-byte stores.
//
// Ragged batches and score modifiers (issue 14; templates/score_modifiers.cuh) are the `_modified`
// entries of the kernels built on this loop: a block works on its own sequence (a block past its
// end returns before any copy or barrier), loads only the key blocks between the first key its top
// row sees and the last its bottom row sees (a window skips blocks on both sides), and per warp takes
// the masked softmax only for blocks that cross a row's band (window edge, diagonal, sequence end).
// Softcap and ALiBi rewrite every logit (ScoreRule::logit); without them unmasked blocks keep the
// plain scale. A dense kernel's PTX is what it was: every change sits in an `if constexpr` branch,
// and the dense code reads the call's lengths where it always did.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 .f16/.bf16, g = lane / 4, t = lane % 4):
//   A regs: {row g, cols 2t..2t+1}, {row g+8, cols 2t..}, {row g, cols 2t+8..}, {row g+8, cols 2t+8..}
//   B regs: {k 2t..2t+1, col g}, {k 2t+8.., col g}
//   C/D:    [0..1] row g, cols 2t..2t+1; [2..3] row g+8, cols 2t..2t+1
#pragma once

#include "attention_params.cuh"
#include "head_slices.cuh"
#include "mma_kv_cache.cuh"
#include "mma_primitives.cuh"
#include "mma_tile_layout.cuh"
#include "numeric.cuh"
#include "score_modifiers.cuh"

namespace flashjit {
namespace dev {

// Ragged batches and score modifiers (templates/score_modifiers.cuh): the steps below take the pieces
// of a block's ModState they need (the online softmax its ScoreRule, the epilogue its SequenceView),
// and NoScoreMods in a dense kernel, where every modifier branch folds away and the code is what it
// was before.
__device__ constexpr bool has_score_mods(const SequenceView*) { return true; }
template <class Traits>
__device__ constexpr bool has_score_mods(const ScoreRule<Traits>*) { return true; }

// Whether a rule rewrites every logit (softcap, ALiBi), so that blocks without a mask touch each score
// too; without either, unmasked blocks keep the dense kernel's plain scale.
template <class Traits>
__device__ constexpr bool rewrites_logits(const ScoreRule<Traits>*) {
  return Traits::kSoftcap || Traits::kAlibi;
}
template <class Rule>
__device__ constexpr bool rewrites_logits() {
  return rewrites_logits(static_cast<const Rule*>(nullptr));
}

// A raw q·k score as the online softmax takes it (log2 domain) under a kernel's modifiers: the rule's
// logit with ALiBi's `distance` (row + offset - col) in floats, a subtraction of the key's
// compile-time column per element instead of an integer difference, absolute value and conversion
// (logit_at_distance); the plain scale without softcap or ALiBi.
template <class Rule>
__device__ __forceinline__ float modified_logit(float qk, const Rule& rule, float distance, float scale_log2) {
  if constexpr (rewrites_logits<Rule>()) {
    return logit_at_distance(rule, qk, distance);
  } else {
    return qk * scale_log2;
  }
}

template <class Traits>
struct MmaShape {
  using Layout = TileRowLayout<Traits::kHeadDim>;
  static constexpr int kHeadDim = Traits::kHeadDim;
  static constexpr int kPaddedDim = Layout::kPaddedDim;
  static constexpr int kBlockM = Traits::kBlockM;
  static constexpr int kBlockN = Traits::kBlockN;
  static constexpr int kWarps = Traits::kWarps;
  static constexpr int kStages = Traits::kStages;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kWarpRows = kBlockM / kWarps;
  static constexpr int kMTiles = kWarpRows / 16;            // 16-row mma tiles per warp
  static constexpr int kNTiles = kBlockN / 8;               // 8-key S tiles per block
  static constexpr int kDTiles = kPaddedDim / 8;            // 8-column O tiles
  static constexpr int kQBytes = kBlockM * Layout::kRowBytes;
  static constexpr int kKvTileBytes = kBlockN * Layout::kRowBytes;
  // The generated shell checks this against generator/mma_rules.cpp.
  static constexpr int kSharedBytes = kQBytes + 2 * kStages * kKvTileBytes;

  static_assert(kWarpRows == 16 || kWarpRows == 32, "each warp owns 16 or 32 query rows");
  static_assert(kBlockN % 16 == 0, "kBlockN must be a multiple of 16 (the k16 step of P V)");
  static_assert(kStages >= 1, "at least one K/V slot");
};

// Per-thread state of the online softmax and the O accumulators.
template <class Shape>
struct MmaAccumulators {
  float o[Shape::kMTiles][Shape::kDTiles][4];
  float row_max[Shape::kMTiles][2];  // running max of scaled scores (log2 domain), rows g and g + 8
  float row_sum[Shape::kMTiles][2];  // this thread's share of the running sum

  __device__ __forceinline__ void clear() {
#pragma unroll
    for (int mt = 0; mt < Shape::kMTiles; ++mt) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        row_max[mt][h] = negative_infinity();
        row_sum[mt][h] = 0.0f;
      }
#pragma unroll
      for (int dt = 0; dt < Shape::kDTiles; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[mt][dt][e] = 0.0f;
    }
  }
};

// S = Q K^T for the warp's rows against the K tile at `k_tile`.
template <class Shape, class Ops, class Element>
__device__ __forceinline__ void compute_scores(float (&s)[Shape::kMTiles][Shape::kNTiles][4], smem_addr_t q_tile,
                                               smem_addr_t k_tile, int warp_row0, int lane) {
  using Layout = typename Shape::Layout;
#pragma unroll
  for (int mt = 0; mt < Shape::kMTiles; ++mt)
#pragma unroll
    for (int nt = 0; nt < Shape::kNTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;

  // Lanes 8i..8i+7 address matrix i of each ldmatrix.x4 (see the layouts in the header comment):
  // Q: matrices (rows 0-7 | 8-15) x (k lo | k hi) in A register order;
  // K: keys 0-7 k lo, keys 0-7 k hi, keys 8-15 k lo, keys 8-15 k hi = B of two 8-key tiles.
  const int q_row = warp_row0 + (lane % 8) + 8 * ((lane / 8) % 2);
  const int q_chunk_hi = lane / 16;
  const int k_row = (lane % 8) + 8 * (lane / 16);
  const int k_chunk_hi = (lane / 8) % 2;
#pragma unroll
  for (int kk = 0; kk < Shape::kPaddedDim / 16; ++kk) {
    unsigned a[Shape::kMTiles][4];
#pragma unroll
    for (int mt = 0; mt < Shape::kMTiles; ++mt)
      ldmatrix_x4(a[mt], q_tile + Layout::offset(q_row + 16 * mt, 2 * kk + q_chunk_hi));
#pragma unroll
    for (int np = 0; np < Shape::kNTiles / 2; ++np) {
      unsigned b[4];
      ldmatrix_x4(b, k_tile + Layout::offset(k_row + 16 * np, 2 * kk + k_chunk_hi));
#pragma unroll
      for (int mt = 0; mt < Shape::kMTiles; ++mt) {
        Ops::mma(s[mt][2 * np], a[mt], b[0], b[1], Element{});
        Ops::mma(s[mt][2 * np + 1], a[mt], b[2], b[3], Element{});
      }
    }
  }
}

// The factors O's rows are scaled by after a block: exp2(old max - new max) per row, exactly 1 for
// an unmoved maximum; `any_moved` says whether any of the thread's rows moved.
template <class Shape>
struct OutputRescale {
  float factor[Shape::kMTiles][2];
  bool any_moved;
};

// The natural-log lse of a row from its maximum (log2 domain) and its whole sum. A row that saw no
// key (causal with seqlen_q > seqlen_k) has lse = -inf. Only a sum of exactly 0 means that: a NaN
// score makes the sum NaN, and the row and its lse with it.
__device__ __forceinline__ float row_lse(float row_max, float sum) {
  const float ln2 = 0.6931471805599453f;
  return sum == 0.0f ? negative_infinity() : (row_max + log2f(sum)) * ln2;
}

// The first half of the online softmax, which leaves O alone (the Hopper kernel runs it while the
// previous block's P V still accumulates into O): scales S into the log2 domain, masks it
// (kMasked: blocks crossing the diagonal or the sequence end; a compile-time choice so unmasked
// blocks carry no compare per element and no mask state in registers), updates the running max and
// sum, leaves P = exp2(S - max) in `s`, and returns how O must be rescaled.
// With a ScoreRule (a kernel with modifiers; rows and `n0` are the sequence's own) the logits are the
// rule's and kMasked blocks (crossing a window edge too) hide what ScoreRule::visible hides; kCausal
// is then the rule's business.
template <class Shape, bool kCausal, bool kMasked, class Rule = NoScoreMods>
__device__ __forceinline__ OutputRescale<Shape> softmax_scores(float (&s)[Shape::kMTiles][Shape::kNTiles][4],
                                                               MmaAccumulators<Shape>& acc,
                                                               const AttentionParams& p, int first_row, int n0,
                                                               int lane, const Rule& rule = Rule{}) {
  constexpr bool kMods = has_score_mods<Rule>();
  const int g = lane / 4;
  const int t = lane % 4;
  const int causal_offset = p.seqlen_k - p.seqlen_q;  // bottom-right: row i sees keys <= i + offset
  OutputRescale<Shape> out;
  float (&rescale)[Shape::kMTiles][2] = out.factor;
  bool max_moved = false;  // whether any of this thread's rows has a new maximum
#pragma unroll
  for (int mt = 0; mt < Shape::kMTiles; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = first_row + 16 * mt + g + 8 * h;
      float tile_max = negative_infinity();
      if constexpr (kMods) {
        // Element (nt, e) is key col0 + 8nt + e: visible while first_visible <= 8nt + e <=
        // last_visible (the rule's bounds for the row, relative to col0).
        const int col0 = n0 + 2 * t;
        const float distance0 = static_cast<float>(row + rule.offset - col0);  // ALiBi's, to key col0
        int first_visible = 0;
        int last_visible = 0;
        if (kMasked) {
          first_visible = rule.first_key(row) - col0;
          last_visible = rule.last_key(row) - col0;
        }
#pragma unroll
        for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& x = s[mt][nt][2 * h + e];
            const int key = 8 * nt + e;
            x = modified_logit(x, rule, distance0 - static_cast<float>(key), p.scale_log2);
            if (kMasked && (key < first_visible || key > last_visible)) x = negative_infinity();
            tile_max = fmaxf(tile_max, x);
          }
        }
      } else {
        // Element (nt, e) is key n0 + 2t + 8nt + e: visible while 8nt + e <= last_visible (one
        // compare against a compile-time constant per element keeps the mask cheap in registers).
        int last_visible = 0;
        if (kMasked) {
          last_visible = p.seqlen_k - 1 - n0 - 2 * t;
          if (kCausal) last_visible = min(last_visible, row + causal_offset - n0 - 2 * t);
        }
#pragma unroll
        for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& x = s[mt][nt][2 * h + e];
            x *= p.scale_log2;
            if (kMasked && 8 * nt + e > last_visible) x = negative_infinity();
            tile_max = fmaxf(tile_max, x);
          }
        }
      }
      // The four threads of a quad hold the same row.
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
      const float new_max = fmaxf(acc.row_max[mt][h], tile_max);
      // A row with no visible key yet keeps max -inf; exponentiate against 0 then, so that
      // -inf - -inf never makes a NaN (every probability is exp2(-inf) = 0).
      const float base = new_max == negative_infinity() ? 0.0f : new_max;
      // An unmoved maximum rescales by exactly 1 (not by ex2.approx(0), which the PTX ISA does not
      // promise to be exact), so skipping the multiply below changes no bit.
      const bool moved = new_max != acc.row_max[mt][h];
      rescale[mt][h] = moved ? fast_exp2(acc.row_max[mt][h] - base) : 1.0f;
      max_moved |= moved;
      acc.row_max[mt][h] = new_max;
      float tile_sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[mt][nt][2 * h + e];
          x = fast_exp2(x - base);
          tile_sum += x;
        }
      }
      acc.row_sum[mt][h] = acc.row_sum[mt][h] * rescale[mt][h] + tile_sum;
    }
  }
  out.any_moved = max_moved;
  return out;
}

// The second half: O's rows times their factors.
template <class Shape>
__device__ __forceinline__ void rescale_output(MmaAccumulators<Shape>& acc, const OutputRescale<Shape>& r) {
  // Once the running maxima settle (most blocks of a long row), every rescale factor is 1: skipping
  // the multiply changes no bit and saves d/2 FMULs per row and 16-row tile. The branch is per
  // thread, so a warp saves the time only when none of its lanes' rows saw a new maximum.
  if (!r.any_moved) return;
#pragma unroll
  for (int mt = 0; mt < Shape::kMTiles; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int dt = 0; dt < Shape::kDTiles; ++dt) {
        acc.o[mt][dt][2 * h] *= r.factor[mt][h];
        acc.o[mt][dt][2 * h + 1] *= r.factor[mt][h];
      }
}

// The whole online softmax of one block: statistics and P, then O rescaled (only when a maximum
// moved).
template <class Shape, bool kCausal, bool kMasked, class Rule = NoScoreMods>
__device__ __forceinline__ void online_softmax(float (&s)[Shape::kMTiles][Shape::kNTiles][4],
                                               MmaAccumulators<Shape>& acc, const AttentionParams& p,
                                               int first_row, int n0, int lane, const Rule& rule = Rule{}) {
  rescale_output(acc, softmax_scores<Shape, kCausal, kMasked>(s, acc, p, first_row, n0, lane, rule));
}

// O += P V with P taken from the S accumulators in registers and V from the tile at `v_tile`.
template <class Shape, class Ops, class Element>
__device__ __forceinline__ void accumulate_pv(const float (&s)[Shape::kMTiles][Shape::kNTiles][4],
                                              MmaAccumulators<Shape>& acc, smem_addr_t v_tile, int lane) {
  using Layout = typename Shape::Layout;
  // V, ldmatrix.trans: keys 0-7 d lo, keys 8-15 d lo, keys 0-7 d hi, keys 8-15 d hi = B of two
  // 8-column O tiles.
  const int v_row = (lane % 8) + 8 * ((lane / 8) % 2);
  const int v_chunk_hi = lane / 16;
#pragma unroll
  for (int kk = 0; kk < Shape::kBlockN / 16; ++kk) {
    // The C fragments of S tiles 2kk and 2kk+1 are, pairwise packed, the A fragment of keys
    // 16kk..16kk+15.
    unsigned a[Shape::kMTiles][4];
#pragma unroll
    for (int mt = 0; mt < Shape::kMTiles; ++mt) {
      a[mt][0] = pack2(s[mt][2 * kk][0], s[mt][2 * kk][1], Element{});
      a[mt][1] = pack2(s[mt][2 * kk][2], s[mt][2 * kk][3], Element{});
      a[mt][2] = pack2(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1], Element{});
      a[mt][3] = pack2(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3], Element{});
    }
#pragma unroll
    for (int dp = 0; dp < Shape::kDTiles / 2; ++dp) {
      unsigned b[4];
      ldmatrix_x4_trans(b, v_tile + Layout::offset(v_row + 16 * kk, 2 * dp + v_chunk_hi));
#pragma unroll
      for (int mt = 0; mt < Shape::kMTiles; ++mt) {
        Ops::mma(acc.o[mt][2 * dp], a[mt], b[0], b[1], Element{});
        Ops::mma(acc.o[mt][2 * dp + 1], a[mt], b[2], b[3], Element{});
      }
    }
  }
}

// The last step of the epilogue: the warp's rows of O, complete in its Q rows of shared memory
// (normalized and rounded), written to global memory in whole 16-byte chunks where rows are aligned.
// With a SequenceView (a kernel with modifiers), `o` is the sequence's row 0 and its length bounds
// the rows; a packed tensor's batch stride of 0 keeps the 16-byte stores.
template <class Shape, class Element, class Sequence = NoScoreMods>
__device__ __forceinline__ void copy_rows_out(const AttentionParams& p, const char* q_tile, Element* o, int m0,
                                              int warp_row0, int lane, const Sequence& sequence = Sequence{}) {
  using Layout = typename Shape::Layout;
  const bool vector_stores = rows_are_16_byte_aligned(p.o, p.o_strides, p.batch, p.num_heads);
  constexpr int kChunks = Layout::kChunks;
  for (int i = lane; i < Shape::kWarpRows * kChunks; i += 32) {
    const int r = i / kChunks;
    const int c = i % kChunks;
    const int row = m0 + warp_row0 + r;
    if constexpr (has_score_mods<Sequence>()) {
      if (row >= sequence.seqlen_q || c * 8 >= Shape::kHeadDim) continue;
    } else {
      if (row >= p.seqlen_q || c * 8 >= Shape::kHeadDim) continue;
    }
    const char* from = q_tile + Layout::offset(warp_row0 + r, c);
    Element* to = o + row * p.o_strides.seq + c * 8;
    if (vector_stores) {
      *reinterpret_cast<Chunk16*>(to) = *reinterpret_cast<const Chunk16*>(from);
    } else {
      const Element* values = reinterpret_cast<const Element*>(from);
#pragma unroll
      for (int e = 0; e < 8; ++e) to[e] = values[e];
    }
  }
}

// Normalizes O, writes the lse, and stores the warp's rows: through its own Q rows in shared memory
// so each lane writes whole 16-byte chunks of a row. With a SequenceView (a kernel with modifiers) the
// rows are the sequence's and its lse rows start at lse_row0 (a ragged batch's lse is [heads, total_q]).
template <class Shape, class Element, class Sequence = NoScoreMods>
__device__ __forceinline__ void store_output(MmaAccumulators<Shape>& acc, const AttentionParams& p, char* q_tile,
                                             Element* o, int batch, int head, int m0, int warp_row0, int lane,
                                             const Sequence& sequence = Sequence{}) {
  using Layout = typename Shape::Layout;
  const int g = lane / 4;
  const int t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < Shape::kMTiles; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float sum = quad_sum(acc.row_sum[mt][h]);
      // A row that saw no key (causal with seqlen_q > seqlen_k) is all zeros with lse = -inf. Only
      // a sum of exactly 0 means that: a NaN score makes the sum NaN, and the row and its lse with it.
      const float inv_sum = sum == 0.0f ? 0.0f : 1.0f / sum;
      const int tile_row = warp_row0 + 16 * mt + g + 8 * h;
#pragma unroll
      for (int dt = 0; dt < Shape::kDTiles; ++dt) {
        const unsigned packed =
            pack2(acc.o[mt][dt][2 * h] * inv_sum, acc.o[mt][dt][2 * h + 1] * inv_sum, Element{});
        // Columns 8dt + 2t and 8dt + 2t + 1: bytes 4t.. of chunk dt.
        *reinterpret_cast<unsigned*>(q_tile + Layout::offset(tile_row, dt) + 4 * t) = packed;
      }
      const int row = m0 + tile_row;
      if constexpr (has_score_mods<Sequence>()) {
        if (p.lse != nullptr && t == 0 && row < sequence.seqlen_q)
          p.lse[sequence.lse_row0 + row] = row_lse(acc.row_max[mt][h], sum);
      } else {
        if (p.lse != nullptr && t == 0 && row < p.seqlen_q)
          p.lse[(static_cast<long long>(batch) * p.num_heads + head) * p.seqlen_q + row] =
              row_lse(acc.row_max[mt][h], sum);
      }
    }
  }
  __syncwarp();  // the warp's rows are complete in shared memory
  copy_rows_out<Shape, Element>(p, q_tile, o, m0, warp_row0, lane, sequence);
}

// cp.async group bookkeeping, absent where the copies are synchronous (and cp.async does not exist).
template <class Ops>
__device__ __forceinline__ void commit_copies() {
  if constexpr (Ops::kAsyncCopy) cp_async_commit();
}
template <class Ops, int kPending>
__device__ __forceinline__ void wait_copies() {
  if constexpr (Ops::kAsyncCopy) cp_async_wait<kPending>();
}

// The m16n8 fragments of mma_sm80 and mma_sm75 as mma_forward's `Fragments` policy: the shape of a
// block and its accumulators, and the four steps of a block (S = Q K^T, the online softmax, O += P V,
// the epilogue). (Functions and types only: NVRTC emits a .global for every static data member.)
template <class Traits, class Ops>
struct M16n8Fragments {
  using Element = typename Traits::Element;
  using Shape = MmaShape<Traits>;
  using Accumulators = MmaAccumulators<Shape>;
  using Scores = float[Shape::kMTiles][Shape::kNTiles][4];

  static __device__ __forceinline__ void compute_scores(Scores& s, smem_addr_t q_tile, smem_addr_t k_tile,
                                                        int warp_row0, int lane) {
    ::flashjit::dev::compute_scores<Shape, Ops, Element>(s, q_tile, k_tile, warp_row0, lane);
  }
  template <bool kCausal, bool kMasked, class Rule = NoScoreMods>
  static __device__ __forceinline__ void online_softmax(Scores& s, Accumulators& acc, const AttentionParams& p,
                                                        int first_row, int n0, int lane, const Rule& rule = Rule{}) {
    ::flashjit::dev::online_softmax<Shape, kCausal, kMasked>(s, acc, p, first_row, n0, lane, rule);
  }
  static __device__ __forceinline__ void accumulate_pv(const Scores& s, Accumulators& acc, smem_addr_t v_tile,
                                                       int lane) {
    ::flashjit::dev::accumulate_pv<Shape, Ops, Element>(s, acc, v_tile, lane);
  }
  template <class Sequence = NoScoreMods>
  static __device__ __forceinline__ void store_output(Accumulators& acc, const AttentionParams& p, char* q_tile,
                                                      Element* o, int batch, int head, int m0, int warp_row0,
                                                      int lane, const Sequence& sequence = Sequence{}) {
    ::flashjit::dev::store_output<Shape, Element>(acc, p, q_tile, o, batch, head, m0, warp_row0, lane, sequence);
  }
  // Split-KV: the warp's rows as fp32 partials (templates/mma_kv_cache.cuh).
  static __device__ __forceinline__ void store_partials(const Accumulators& acc, const KvCacheParams& kv, int split,
                                                        long long lse_row0, int seqlen_q, int m0, int warp_row0,
                                                        int lane) {
    store_split_partials<Shape>(acc, kv, split, lse_row0, seqlen_q, m0, warp_row0, lane);
  }
};

// One block's work. A kernel with modifiers passes its ScoreModParams (the `_modified` entries): the
// block then works on its own sequence of a ragged batch, skips the key blocks outside its rows' window
// on both sides, and masks the blocks crossing an edge of some row's band; a dense kernel passes
// nothing (NoScoreMods), and every modifier branch folds away.
// A kernel reading a KV cache also passes its KvCacheParams (the `_kvcache` entries): K/V rows come
// through the cache (templates/mma_kv_cache.cuh), query block 0 of each KV group's first head appends
// the new keys, and with several splits each block takes its share of the key blocks and leaves
// fp32 partials for the combine step.
template <class Traits, class Ops, class Fragments = M16n8Fragments<Traits, Ops>, class Mods = NoScoreMods,
          class Kv = NoKvCache>
__device__ __forceinline__ void mma_forward(const AttentionParams& p, const Mods& mods = Mods{}, const Kv kv = Kv{}) {
  using Element = typename Traits::Element;
  constexpr bool kMods = has_score_mods<Mods>();
  constexpr bool kCache = has_kv_cache<Kv>();
  using Shape = typename Fragments::Shape;
  constexpr int BM = Shape::kBlockM;
  constexpr int BN = Shape::kBlockN;
  constexpr int D = Shape::kHeadDim;
  constexpr int kStages = Shape::kStages;
  constexpr int kThreads = Shape::kThreads;

  // 16-byte aligned: cp.async, ldmatrix and the epilogue's vector reads address it in 16-byte chunks.
  extern __shared__ __align__(16) float smem[];
  char* q_tile = reinterpret_cast<char*>(smem);
  char* kv_tiles = q_tile + Shape::kQBytes;  // slot s: K at 2s, V at 2s + 1 (kKvTileBytes each)
  const smem_addr_t q_addr = to_smem_addr(q_tile);
  const smem_addr_t kv_addr = to_smem_addr(kv_tiles);

  // Causal blocks lower in the matrix see more keys: launching them first (the grid's x runs
  // fastest) leaves the short ones for the last wave instead of a long straggler.
  // Split-KV: a query block's splits are consecutive blocks (templates/kv_cache_params.cuh).
  int block_x = blockIdx.x;
  int m_blocks = gridDim.x;
  int split = 0;
  if constexpr (kCache) {
    block_x = blockIdx.x / kv.num_splits;
    m_blocks = gridDim.x / kv.num_splits;
    split = blockIdx.x % kv.num_splits;
  }
  const int m_block = Traits::kCausal ? m_blocks - 1 - block_x : block_x;
  const int m0 = m_block * BM;
  const int head = blockIdx.y;
  const int batch = blockIdx.z;
  const int lane = threadIdx.x % 32;
  const int warp_row0 = (threadIdx.x / 32) * Shape::kWarpRows;

  const auto mod = cache_mod_state<Traits>(p, mods, kv, batch, head);
  // Before any return: a sequence without queries still appends its keys.
  if constexpr (kCache && appends_keys<Traits>()) {
    const int group = p.num_heads / p.num_kv_heads;
    if (blockIdx.x == 0 && head % group == 0) append_rows<Element, Traits, kThreads, D>(p, kv, batch, head / group);
  }
  // The lengths of the block's sequence: a ragged batch's own with modifiers; in a dense kernel the
  // call's, read where they are used (as before modifiers existed: the dense PTX stays the same).
  auto seqlen_q = [&] {
    if constexpr (kMods) return mod.sequence.seqlen_q;
    else return p.seqlen_q;
  };
  auto seqlen_k = [&] {
    if constexpr (kMods) return mod.sequence.seqlen_k;
    else return p.seqlen_k;
  };
  // A ragged batch's grid covers its longest sequence: a block past this one's end has no rows and
  // leaves before any copy or barrier (the whole block alike).
  if constexpr (kMods) {
    if (m0 >= seqlen_q()) return;
  }

  HeadSlices<Element> slices = head_slices<Element>(p, batch, head);
  if constexpr (kMods) move_to_sequence(slices, p, mod.sequence);
  const Element* q = slices.q;
  const Element* k = slices.k;
  const Element* v = slices.v;
  Element* o = slices.o;

  // A KV cache's keys and values, wherever each row lives (nothing without one).
  const CacheRows<Element, Traits, Kv> cache = cache_rows<Element, Traits>(p, kv, batch, head);
  bool aligned;
  if constexpr (kCache) {
    aligned = rows_are_16_byte_aligned(p.q, p.q_strides, p.batch, p.num_heads) &&
              cache_rows_are_16_byte_aligned<Traits>(p, kv);
  } else {
    aligned = rows_are_16_byte_aligned(p.q, p.q_strides, p.batch, p.num_heads) &&
              rows_are_16_byte_aligned(p.k, p.k_strides, p.batch, p.num_kv_heads) &&
              rows_are_16_byte_aligned(p.v, p.v_strides, p.batch, p.num_kv_heads);
  }

  // Keys past the last one the block's bottom row may see are never loaded.
  const int causal_offset = seqlen_k() - seqlen_q();
  int n_end = seqlen_k();
  if (Traits::kCausal) n_end = min(seqlen_k(), m0 + BM + causal_offset);
  // With a window, neither are the keys after the last one the bottom row sees nor the whole blocks
  // before the first one the top row sees: the work follows the window, not the sequence. The ring
  // then starts at block first_block (slot 0).
  int first_block = 0;
  if constexpr (kMods) {
    n_end = min(n_end, mod.rule.key_end(min(m0 + BM, seqlen_q()) - 1));
    first_block = mod.rule.key_begin(m0) / BN;
  }
  int n_blocks = n_end > 0 ? (n_end + BN - 1) / BN : 0;
  // Split-KV: this split's share of the key blocks (none when there are fewer blocks than splits).
  if constexpr (kCache) {
    const int blocks = n_blocks > first_block ? n_blocks - first_block : 0;
    const int per_split = (blocks + kv.num_splits - 1) / kv.num_splits;
    first_block += split * per_split;
    n_blocks = min(n_blocks, first_block + per_split);
  }

  auto load_kv = [&](int block, int slot) {
    const int n0 = block * BN;
    char* k_tile = kv_tiles + (2 * slot) * Shape::kKvTileBytes;
    char* v_tile = k_tile + Shape::kKvTileBytes;
    if constexpr (kCache) {
      load_cache_tile_rows<Element, Traits, D, BN, kThreads, Ops::kAsyncCopy>(
          k_tile, kv_addr + (2 * slot) * Shape::kKvTileBytes, cache.k, n0, seqlen_k(), aligned);
      load_cache_tile_rows<Element, Traits, D, BN, kThreads, Ops::kAsyncCopy>(
          v_tile, kv_addr + (2 * slot + 1) * Shape::kKvTileBytes, cache.v, n0, seqlen_k(), aligned);
      return;
    }
    load_tile_rows<Element, D, BN, kThreads, Ops::kAsyncCopy>(k_tile, kv_addr + (2 * slot) * Shape::kKvTileBytes, k,
                                             p.k_strides.seq, n0, seqlen_k(), aligned);
    load_tile_rows<Element, D, BN, kThreads, Ops::kAsyncCopy>(v_tile, kv_addr + (2 * slot + 1) * Shape::kKvTileBytes, v,
                                             p.v_strides.seq, n0, seqlen_k(), aligned);
  };

  // Prologue: Q with the first kStages - 1 K/V blocks, one commit group per block (empty groups
  // past the end keep the group count, and so the wait below, uniform).
  load_tile_rows<Element, D, BM, kThreads, Ops::kAsyncCopy>(q_tile, q_addr, q, p.q_strides.seq, m0, seqlen_q(), aligned);
#pragma unroll
  for (int block = 0; block < kStages - 1; ++block) {
    if (first_block + block < n_blocks) load_kv(first_block + block, block);
    commit_copies<Ops>();
  }

  typename Fragments::Accumulators acc;
  acc.clear();
  int slot = 0;
  for (int block = first_block; block < n_blocks; ++block) {
    if constexpr (kStages == 1) {
      __syncthreads();  // every warp is done with the previous block's slot
      load_kv(block, 0);
      commit_copies<Ops>();
      wait_copies<Ops, 0>();
    } else {
      // Block `block` has landed when at most the kStages - 2 newer groups are in flight.
      wait_copies<Ops, kStages - 2>();
    }
    // Every thread's copies are visible, and every warp is done with the slot reloaded below
    // (it held block - 1).
    __syncthreads();
    if constexpr (kStages > 1) {
      const int ahead = block + kStages - 1;
      if constexpr (kMods) {
        // The ring starts at first_block: block `ahead` goes into the slot before this block's.
        if (ahead < n_blocks) load_kv(ahead, slot == 0 ? kStages - 1 : slot - 1);
      } else {
        if (ahead < n_blocks) load_kv(ahead, ahead % kStages);
      }
      commit_copies<Ops>();
    }

    const int n0 = block * BN;
    const smem_addr_t k_tile = kv_addr + (2 * slot) * Shape::kKvTileBytes;
    const smem_addr_t v_tile = k_tile + Shape::kKvTileBytes;
    // Only blocks crossing the sequence end or the diagonal need the mask.
    bool needs_mask = n0 + BN > seqlen_k() || (Traits::kCausal && n0 + BN - 1 > m0 + causal_offset);

    // On the diagonal a block of keys can lie entirely after the warp's last row can see: such a
    // block would add exp2(-inf) = 0 everywhere and leave max and sum as they are, so the warp
    // skips it (it still took part in the copies and the barrier above). So does a warp whose rows
    // are all past the end of the sequence (in the last query block), which stores nothing.
    const bool warp_has_rows = m0 + warp_row0 < seqlen_q();
    bool warp_sees_block = !Traits::kCausal || m0 + warp_row0 + Shape::kWarpRows - 1 + causal_offset >= n0;
    if constexpr (kMods) {
      // Per warp, from its rows' bands (first_key and last_key grow with the row): whether some row
      // sees a key of the block, and whether some row misses one (a window edge, the diagonal or the
      // sequence end crosses the warp's tile), which takes the mask.
      const int warp_first = m0 + warp_row0;
      const int warp_rows = min(Shape::kWarpRows, seqlen_q() - warp_first);
      warp_sees_block = mod.rule.last_key(warp_first + warp_rows - 1) >= n0 && mod.rule.first_key(warp_first) < n0 + BN;
      needs_mask = mod.rule.tile_needs_mask(warp_first, warp_rows, n0, BN);
    }
    if (warp_has_rows && warp_sees_block) {
      typename Fragments::Scores s;
      Fragments::compute_scores(s, q_addr, k_tile, warp_row0, lane);
      if constexpr (kMods) {
        if (needs_mask)
          Fragments::template online_softmax<Traits::kCausal, true>(s, acc, p, m0 + warp_row0, n0, lane, mod.rule);
        else
          Fragments::template online_softmax<Traits::kCausal, false>(s, acc, p, m0 + warp_row0, n0, lane, mod.rule);
      } else {
        if (needs_mask)
          Fragments::template online_softmax<Traits::kCausal, true>(s, acc, p, m0 + warp_row0, n0, lane);
        else
          Fragments::template online_softmax<Traits::kCausal, false>(s, acc, p, m0 + warp_row0, n0, lane);
      }
      Fragments::accumulate_pv(s, acc, v_tile, lane);
    }
    slot = slot + 1 == kStages ? 0 : slot + 1;
  }

  // No copy may still be landing in the Q rows the epilogue reuses (with zero blocks, Q's copies
  // were never committed or waited for), and no warp still reads them.
  commit_copies<Ops>();
  wait_copies<Ops, 0>();
  __syncthreads();
  if constexpr (kCache) {
    if (kv.num_splits > 1) {
      Fragments::store_partials(acc, kv, split, mod.sequence.lse_row0, seqlen_q(), m0, warp_row0, lane);
      return;
    }
  }
  if constexpr (kMods) {
    // The sequence's view again, rather than its lse row kept in two registers through the loop.
    const SequenceView sequence = sequence_view<Traits>(p, mods, batch, head);
    Fragments::store_output(acc, p, q_tile, o, batch, head, m0, warp_row0, lane, sequence);
  } else {
    Fragments::store_output(acc, p, q_tile, o, batch, head, m0, warp_row0, lane);
  }
}

}  // namespace dev
}  // namespace flashjit
