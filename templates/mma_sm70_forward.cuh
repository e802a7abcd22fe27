// mma_sm70: the tensor-core forward for Volta (sm_70, sm_72): FlashAttention-2's algorithm on
// mma.sync.m8n8k4 in f16 with fp32 accumulation (Volta's tensor cores have no bf16), with
// synchronous 16-byte copies (no cp.async) and plain shared-memory loads (no ldmatrix). It is
// mma_forward.cuh's main loop with another `Fragments` policy, M8n8k4Fragments below.
//
// One mma.m8n8k4 is four independent 8x8x4 products, one per quad pair q (lanes 4q..4q+3 and
// 16+4q..16+4q+3; mma_sm70_primitives.cuh has the layouts). A warp owns 32 or 16 query rows:
//  - 32 rows: quad pair q computes an 8-row slab (slab q) over the whole head dim. All four share
//    each K and V fragment (their lanes read the same addresses: one broadcast), each has its own Q.
//  - 16 rows (kDimParts 2, for the large head dims whose O would not fit in registers): quad pairs
//    q and q ^ 2 share slab q & 1 and split the head dim between them: chunks (8 columns) of parity
//    q >> 1. Each computes its half of S = Q K^T, one shfl.xor 8 adds the halves (both then hold the
//    whole S and run the same softmax), and each accumulates its own half of O's columns.
// Per 8-key tile each lane holds 8 fp32 scores: rows r and r + 2 of its slab, columns (lane & 2) +
// {0, 1, 4, 5}; a row's columns are split between lanes l and l ^ 2, so a row maximum or sum is one
// shfl.xor 2. P becomes the A operand of O += P V in registers (accumulator_to_a_fragments). S's
// B is K^T column-major and P V's B is V row-major, so every operand is consecutive elements of a
// tile row: 16-byte loads for Q and K (two k4 steps), 8-byte loads for V.
//
// The slab's 8 rows are not consecutive: slab s's row m is warp row (m & 3) + 4 (s & 1) + 8 (m >> 2)
// + 16 (s >> 1), so the 8 lanes that load Q together (a quarter warp: quad pairs 0 and 1, or 2
// and 3) read rows whose swizzled chunks fall in 8 different bank groups of the XOR-swizzled tile
// (8 consecutive rows would put two lanes in each). K and V rows are 4 distinct per quarter.
#pragma once

#include "mma_forward.cuh"
#include "mma_sm70_primitives.cuh"

namespace flashjit {
namespace dev {

template <class Traits>
struct M8n8k4Shape {
  using Layout = TileRowLayout<Traits::kHeadDim>;
  static constexpr int kHeadDim = Traits::kHeadDim;
  static constexpr int kPaddedDim = Layout::kPaddedDim;
  static constexpr int kBlockM = Traits::kBlockM;
  static constexpr int kBlockN = Traits::kBlockN;
  static constexpr int kWarps = Traits::kWarps;
  static constexpr int kStages = Traits::kStages;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kWarpRows = kBlockM / kWarps;
  static constexpr int kDimParts = 32 / kWarpRows;  // quad pairs sharing a slab, each with its part of the head dim
  // 8-column chunks S contracts over: the data chunks with one part, every chunk of the padded row
  // (an even count) with two.
  static constexpr int kDimChunks = kDimParts == 1 ? kHeadDim / 8 : kPaddedDim / 8;
  static constexpr int kPartChunks = kDimChunks / kDimParts;  // per quad pair; also its 8-column O tiles
  static constexpr int kNTiles = kBlockN / 8;                  // 8-key S tiles per block
  static constexpr int kQBytes = kBlockM * Layout::kRowBytes;
  static constexpr int kKvTileBytes = kBlockN * Layout::kRowBytes;
  // The generated shell checks this against generator/mma_sm70_rules.cpp.
  static constexpr int kSharedBytes = kQBytes + 2 * kStages * kKvTileBytes;

  static_assert(kWarpRows == 16 || kWarpRows == 32, "each warp owns 16 or 32 query rows");
  static_assert(kHeadDim % 8 == 0, "head_dim must be a multiple of 8");
  static_assert(kBlockN % 8 == 0, "kBlockN must be a multiple of 8 (the S tile)");
  static_assert(kStages >= 1, "at least one K/V slot");
};

// Where a lane's fragments sit in the warp's rows and the tile's columns (see the header comment).
template <class Shape>
struct QuadPairLane {
  int a_row;  // warp row of its A fragments (Q, and P's row for O += P V)
  int c_row;  // first warp row of its accumulators; the other is c_row + 2
  int c_col;  // lane & 2: its first column in each 4-column half of an 8-column accumulator tile
  int k_row;  // row within an 8-key tile of its K fragment (S's B: column L + H)
  int v_row;  // row within a 4-key step of its V fragment (P V's B: row L)
  int v_col;  // first of its 4 columns of V within an 8-column tile (P V's B: columns H..H+3)
  int part;   // which chunk parity of the head dim its quad pair takes (0 with one part)

  __device__ __forceinline__ explicit QuadPairLane(int lane) {
    const int quad_pair = (lane >> 2) & 3;
    const int high = lane >> 4;  // the ISA's high group (lanes 16..31): "+ 4" in every layout
    const int slab = Shape::kDimParts == 1 ? quad_pair : quad_pair & 1;
    part = Shape::kDimParts == 1 ? 0 : quad_pair >> 1;
    const int slab_row0 = 4 * (slab & 1) + 16 * (slab >> 1);
    a_row = slab_row0 + (lane & 3) + 8 * high;  // slab row L + H
    c_row = slab_row0 + (lane & 1) + 8 * high;  // slab rows (lane & 1) + H and + 2
    c_col = lane & 2;
    k_row = (lane & 3) + 4 * high;
    v_row = lane & 3;
    v_col = 4 * high;
  }
};

// Per-thread state of the online softmax and the O accumulators: two rows, the quad pair's O tiles.
template <class Shape>
struct M8n8k4Accumulators {
  float o[Shape::kPartChunks][8];
  float row_max[2];  // running max of scaled scores (log2 domain), rows c_row and c_row + 2
  float row_sum[2];  // this lane's share of the running sum (its columns)

  __device__ __forceinline__ void clear() {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      row_max[h] = negative_infinity();
      row_sum[h] = 0.0f;
    }
#pragma unroll
    for (int u = 0; u < Shape::kPartChunks; ++u)
#pragma unroll
      for (int e = 0; e < 8; ++e) o[u][e] = 0.0f;
  }
};

template <class T>
struct IsHalfBits {
  static constexpr bool value = false;
};
template <>
struct IsHalfBits<half_bits> {
  static constexpr bool value = true;
};

template <class Traits>
struct M8n8k4Fragments {
  using Element = typename Traits::Element;
  static_assert(IsHalfBits<Element>::value, "mma_sm70 computes f16 only: Volta's tensor cores have no bf16");
  using Shape = M8n8k4Shape<Traits>;
  using Layout = typename Shape::Layout;
  using Accumulators = M8n8k4Accumulators<Shape>;
  using Scores = float[Shape::kNTiles][8];
  using Lane = QuadPairLane<Shape>;

  // S = Q K^T for the warp's rows against the K tile at `k_tile`.
  static __device__ __forceinline__ void compute_scores(Scores& s, smem_addr_t q_tile, smem_addr_t k_tile,
                                                        int warp_row0, int lane) {
    const Lane at(lane);
#pragma unroll
    for (int nt = 0; nt < Shape::kNTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 8; ++e) s[nt][e] = 0.0f;
#pragma unroll
    for (int u = 0; u < Shape::kPartChunks; ++u) {
      const int chunk = u * Shape::kDimParts + at.part;
      // Registers 0-1: columns 8 chunk..+3 (the first k4 step), 2-3: the next four.
      unsigned a[4];
      load_shared_16(a, q_tile + Layout::offset(warp_row0 + at.a_row, chunk));
#pragma unroll
      for (int nt = 0; nt < Shape::kNTiles; ++nt) {
        unsigned b[4];
        load_shared_16(b, k_tile + Layout::offset(8 * nt + at.k_row, chunk));
        mma_m8n8k4_row_col(s[nt], a[0], a[1], b[0], b[1]);
        mma_m8n8k4_row_col(s[nt], a[2], a[3], b[2], b[3]);
      }
    }
    if constexpr (Shape::kDimParts == 2) {
      // Quad pair q ^ 2 (lane ^ 8) holds the same scores over the other half of the head dim.
#pragma unroll
      for (int nt = 0; nt < Shape::kNTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 8; ++e) s[nt][e] += __shfl_xor_sync(0xffffffffu, s[nt][e], 8);
    }
  }

  // The online softmax of one block (mma_forward.cuh's softmax_scores and rescale_output, on this
  // layout): S scaled into the log2 domain and masked (kMasked: blocks crossing the diagonal or the
  // sequence end), the running max and sum updated, P = exp2(S - max) left in `s`, O rescaled where
  // a maximum moved. With a ScoreRule (a kernel with modifiers) the logits and the mask are the
  // rule's, as in softmax_scores.
  template <bool kCausal, bool kMasked, class Rule = NoScoreMods>
  static __device__ __forceinline__ void online_softmax(Scores& s, Accumulators& acc, const AttentionParams& p,
                                                        int first_row, int n0, int lane, const Rule& rule = Rule{}) {
    constexpr bool kMods = has_score_mods<Rule>();
    const Lane at(lane);
    const int causal_offset = p.seqlen_k - p.seqlen_q;  // bottom-right: row i sees keys <= i + offset
    float rescale[2];
    bool max_moved = false;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = first_row + at.c_row + 2 * h;
      float tile_max = negative_infinity();
      if constexpr (kMods) {
        // Element e of tile nt is key col0 + 8nt + (e & 4) + (e & 1): visible while first_visible <=
        // 8nt + (e & 4) + (e & 1) <= last_visible (the rule's bounds for the row, relative to col0).
        const int col0 = n0 + at.c_col;
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
          for (int j = 0; j < 4; ++j) {
            const int e = 2 * h + (j & 1) + 4 * (j >> 1);
            float& x = s[nt][e];
            const int key = 8 * nt + (e & 4) + (e & 1);
            x = modified_logit(x, rule, distance0 - static_cast<float>(key), p.scale_log2);
            if (kMasked && (key < first_visible || key > last_visible)) x = negative_infinity();
            tile_max = fmaxf(tile_max, x);
          }
        }
      } else {
        // Element e of tile nt is key n0 + 8nt + (e & 4) + c_col + (e & 1): visible while
        // 8nt + (e & 4) + (e & 1) <= last_visible (a compile-time constant per element).
        int last_visible = 0;
        if (kMasked) {
          last_visible = p.seqlen_k - 1 - n0 - at.c_col;
          if (kCausal) last_visible = min(last_visible, row + causal_offset - n0 - at.c_col);
        }
#pragma unroll
        for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int e = 2 * h + (j & 1) + 4 * (j >> 1);  // row h's elements: 2h, 2h+1, 2h+4, 2h+5
            float& x = s[nt][e];
            x *= p.scale_log2;
            if (kMasked && 8 * nt + (e & 4) + (e & 1) > last_visible) x = negative_infinity();
            tile_max = fmaxf(tile_max, x);
          }
        }
      }
      // Lanes l and l ^ 2 hold the row's other columns.
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
      const float new_max = fmaxf(acc.row_max[h], tile_max);
      // A row with no visible key yet keeps max -inf; exponentiate against 0 then, so that
      // -inf - -inf never makes a NaN. An unmoved maximum rescales by exactly 1 (see
      // softmax_scores, whose arithmetic this is: its PTX is kept as it was, so it is not shared).
      const float base = new_max == negative_infinity() ? 0.0f : new_max;
      const bool moved = new_max != acc.row_max[h];
      rescale[h] = moved ? fast_exp2(acc.row_max[h] - base) : 1.0f;
      max_moved |= moved;
      acc.row_max[h] = new_max;
      float tile_sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          float& x = s[nt][2 * h + (j & 1) + 4 * (j >> 1)];
          x = fast_exp2(x - base);
          tile_sum += x;
        }
      }
      acc.row_sum[h] = acc.row_sum[h] * rescale[h] + tile_sum;
    }
    // Skipping the multiply when no maximum moved changes no bit (rescale_output says why it pays).
    if (!max_moved) return;
#pragma unroll
    for (int u = 0; u < Shape::kPartChunks; ++u)
#pragma unroll
      for (int e = 0; e < 8; ++e) acc.o[u][e] *= rescale[(e >> 1) & 1];
  }

  // O += P V with P taken from the S accumulators in registers and V from the tile at `v_tile`.
  static __device__ __forceinline__ void accumulate_pv(const Scores& s, Accumulators& acc, smem_addr_t v_tile,
                                                       int lane) {
    const Lane at(lane);
    // All of P first, as f16 pairs: the block_n fp32 scores die here, half as many registers remain.
    // (Converted tile by tile inside the loop below, NVRTC 11.8's ptxas spilled at d 120-128 and
    // 216-256: 255 registers and up to 456 bytes; now 234 at d 128.)
    unsigned a[Shape::kNTiles][2][2];  // tile nt: keys 8nt..8nt+3, 8nt+4..8nt+7
#pragma unroll
    for (int nt = 0; nt < Shape::kNTiles; ++nt) accumulator_to_a_fragments(s[nt], a[nt], lane);
#pragma unroll
    for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
      for (int step = 0; step < 2; ++step) {
        const int key = 8 * nt + 4 * step + at.v_row;
#pragma unroll
        for (int u = 0; u < Shape::kPartChunks; ++u) {
          unsigned b[2];
          load_shared_8(b, v_tile + Layout::offset(key, u * Shape::kDimParts + at.part) + 2 * at.v_col);
          mma_m8n8k4_row_row(acc.o[u], a[nt][step][0], a[nt][step][1], b[0], b[1]);
        }
      }
    }
  }

  // Normalizes O, writes the lse, and stores the warp's rows through its own Q rows in shared memory
  // (copy_rows_out then writes whole 16-byte chunks of each row). With a SequenceView (a kernel with
  // modifiers) the rows are the sequence's and its lse rows start at lse_row0.
  template <class Sequence = NoScoreMods>
  static __device__ __forceinline__ void store_output(Accumulators& acc, const AttentionParams& p, char* q_tile,
                                                      Element* o, int batch, int head, int m0, int warp_row0,
                                                      int lane, const Sequence& sequence = Sequence{}) {
    const Lane at(lane);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float sum = acc.row_sum[h];
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      // A row that saw no key is all zeros with lse -inf; a NaN sum makes the row NaN (row_lse).
      const float inv_sum = sum == 0.0f ? 0.0f : 1.0f / sum;
      const int tile_row = warp_row0 + at.c_row + 2 * h;
#pragma unroll
      for (int u = 0; u < Shape::kPartChunks; ++u) {
        const int chunk = u * Shape::kDimParts + at.part;
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int e = 2 * h + 4 * j;  // columns 4j + c_col and the next: bytes 2 (4j + c_col).. of the chunk
          const unsigned packed = pack2(acc.o[u][e] * inv_sum, acc.o[u][e + 1] * inv_sum, Element{});
          *reinterpret_cast<unsigned*>(q_tile + Layout::offset(tile_row, chunk) + 2 * (4 * j + at.c_col)) = packed;
        }
      }
      const int row = m0 + tile_row;
      // One lane per row writes its lse (with two parts, both hold the same statistics).
      if constexpr (has_score_mods<Sequence>()) {
        if (p.lse != nullptr && at.c_col == 0 && at.part == 0 && row < sequence.seqlen_q)
          p.lse[sequence.lse_row0 + row] = row_lse(acc.row_max[h], sum);
      } else {
        if (p.lse != nullptr && at.c_col == 0 && at.part == 0 && row < p.seqlen_q)
          p.lse[(static_cast<long long>(batch) * p.num_heads + head) * p.seqlen_q + row] = row_lse(acc.row_max[h], sum);
      }
    }
    __syncwarp();  // the warp's rows are complete in shared memory
    copy_rows_out<Shape, Element>(p, q_tile, o, m0, warp_row0, lane, sequence);
  }
};

struct Sm70Ops {
  static constexpr bool kAsyncCopy = false;  // cp.async starts at sm_80
};

template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1) mma_sm70_forward(const AttentionParams p) {
  mma_forward<Traits, Sm70Ops, M8n8k4Fragments<Traits>>(p);
}

// A kernel specialized on a ragged batch or a score modifier (templates/score_modifiers.cuh).
template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1)
    mma_sm70_forward_modified(const AttentionParams p, const ScoreModParams mods) {
  mma_forward<Traits, Sm70Ops, M8n8k4Fragments<Traits>>(p, mods);
}

}  // namespace dev
}  // namespace flashjit
