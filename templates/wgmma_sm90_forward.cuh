// wgmma_sm90: the Hopper FlashAttention forward (sm_90a), warp-specialized after FlashAttention-3.
//
// A thread block is one producer warpgroup and kConsumers = kBlockM / 64 consumer warpgroups; it
// is persistent (at most one per SM) and takes tiles from WgmmaTileScheduler.
//  - Producer: with two consumers, setmaxnreg gives its registers to them; one thread issues TMA
//    loads (tensor maps built on the host, see runtime/tensor_map_request.h): the tile's Q once,
//    then K and V of each key block
//    into a ring of kStages shared-memory slots. Each slot has a "K full" and a "V full" mbarrier
//    (TMA completes their transactions) and an "empty" mbarrier the consumers arrive on when done.
//  - Consumers: warpgroup c owns query rows 64c..64c+63 of the tile. Per key block:
//      S = Q K^T   wgmma m64 n(kBlockN) k16, both operands from shared memory (K-major)
//      online softmax in registers (mma_forward.cuh's, on the same fragment layout), exp2 with the
//                  scale folded in; only blocks crossing the diagonal or the sequence end are masked
//      O += P V    wgmma m64 n(kPaddedDim) k16, P from registers, V from shared memory (MN-major)
//    then the epilogue normalizes O and stores it straight from registers (each quad of lanes writes
//    16 contiguous bytes of a row): staging through shared memory for 16-byte or TMA stores would
//    need Q's buffer, which the producer is already refilling with the next tile's Q, and the
//    ring leaves no room for another (d 128 takes 225 of the 227 KB); O is a few percent of a
//    tile's traffic at any sequence length. A block's P V is issued
//    with the next block's S, and the two consumer warpgroups take turns issuing (PingPong), so the
//    softmax of one overlaps matrix products (see consume()).
// Key blocks run from the last to the first, so the masked ones come first and the rest need no
// mask; causal blocks above the diagonal of the tile are never loaded.
//
// Issue 14's sliding windows, softcap and ALiBi: the `_modified` entry takes ScoreModParams as well
// (the dense entry passes NoScoreMods, and its code is what it was). A tile then loads and computes
// only the key blocks its rows' bands touch (a window skips whole blocks on both sides; a tile whose
// rows see no key has none), the blocks crossing an edge of a band take the mask, and softcap and
// ALiBi rewrite every logit (wgmma_score_modifiers.cuh). A ragged batch's packed tensors are one
// tensor-map entry of total_q or total_k tokens (the host encodes them; the call gives the counts): a
// tile loads from its sequence's first token on, and a box running past the sequence's end reads
// the next sequence's rows, which the mask hides from the scores (keys) or the store leaves out
// (queries), or TMA's zeros past the last token (so P V never multiplies a zero probability with
// memory that is not a finite value). Tiles run to the longest sequence: a shorter sequence's tiles
// past its end load nothing and store nothing.
//
// Shared memory (from a 1024-byte aligned base, see wgmma_primitives.cuh for the swizzle):
//   Q: kConsumers x [64 rows x kPaddedDim], K: kStages x [kBlockN x kPaddedDim], V: the same,
//   each stored as 64-column tiles of 128-byte rows; then the mbarriers.
#pragma once

#include "attention_params.cuh"
#include "mma_forward.cuh"
#include "score_modifiers.cuh"
#include "tma_params.cuh"
#include "warpgroup_register_budget.cuh"
#include "wgmma_kv_cache.cuh"
#include "wgmma_primitives.cuh"
#include "wgmma_score_modifiers.cuh"
#include "wgmma_tile_scheduler.cuh"

#if defined(FLASHJIT_HOST_EMULATION)
#define FLASHJIT_GRID_CONSTANT
#else
#define FLASHJIT_GRID_CONSTANT __grid_constant__
#endif

namespace flashjit {
namespace dev {

template <class Traits>
struct WgmmaShape {
  static constexpr int kHeadDim = Traits::kHeadDim;
  static constexpr int kPaddedDim = (kHeadDim + 63) / 64 * 64;  // whole 64-column swizzle tiles
  static constexpr int kColumnTiles = kPaddedDim / 64;
  static constexpr int kBlockM = Traits::kBlockM;
  static constexpr int kBlockN = Traits::kBlockN;
  static constexpr int kStages = Traits::kStages;
  static constexpr int kConsumers = kBlockM / 64;
  // Launch bounds, setmaxnreg counts and the register count the kernel must have, from one place.
  using Registers = WarpgroupRegisterBudget<kConsumers>;
  static constexpr int kThreads = Registers::kThreads;
  // The generated shell checks this against generator/wgmma_rules.cpp, which the host checks the
  // loaded module against.
  static constexpr int kEntryRegisters = Registers::kEntryRegisters;
  // What mma_forward.cuh's online softmax and accumulators expect: one 16-row tile per warp.
  static constexpr int kMTiles = 1;
  static constexpr int kNTiles = kBlockN / 8;
  // O covers whole 64-column swizzle tiles: P V's N is kPaddedDim, because an MN-major 128-byte
  // swizzled operand is made of 64-column atoms (N = 96 would end inside one, a layout the PTX ISA
  // does not describe). TMA fills V's padding columns with zeros; the epilogue stores kHeadDim.
  static constexpr int kDTiles = kPaddedDim / 8;

  static constexpr int kRowBytes = 128;                           // one 64-column tile row
  static constexpr int kQWarpgroupBytes = 64 * kPaddedDim * 2;    // one consumer's Q rows
  static constexpr int kQBytes = kConsumers * kQWarpgroupBytes;
  static constexpr int kKvTileBytes = kBlockN * kPaddedDim * 2;   // one K or V slot
  static constexpr int kBarriers = 2 + 3 * kStages;               // Q full/empty; K full, V full, empty per slot
  // The alignment slack comes first. The generated shell checks this against generator/wgmma_rules.cpp.
  static constexpr int kSharedBytes = 1024 + kQBytes + 2 * kStages * kKvTileBytes + 8 * kBarriers;

  static_assert(Traits::kWarps == 4 * (kConsumers + 1), "one producer warpgroup and kBlockM / 64 consumers");
  static_assert(kBlockM % 64 == 0 && kConsumers >= 1 && kConsumers <= 2, "64 or 128 query rows per block");
  static_assert(kBlockN % 16 == 0 && kHeadDim % 16 == 0, "wgmma k16 steps over keys and head dim");
  static_assert(kStages >= 2, "the ring needs two slots to overlap loads with compute");
};

// Byte offsets of the shared-memory regions from the aligned base.
template <class Shape>
struct WgmmaSharedLayout {
  static constexpr int kQ = 0;
  static constexpr int kK = Shape::kQBytes;
  static constexpr int kV = kK + Shape::kStages * Shape::kKvTileBytes;
  static constexpr int kBarriers = kV + Shape::kStages * Shape::kKvTileBytes;

  smem_addr_t base;
  __device__ __forceinline__ smem_addr_t q(int consumer) const {
    return base + kQ + consumer * Shape::kQWarpgroupBytes;
  }
  __device__ __forceinline__ smem_addr_t k(int slot) const { return base + kK + slot * Shape::kKvTileBytes; }
  __device__ __forceinline__ smem_addr_t v(int slot) const { return base + kV + slot * Shape::kKvTileBytes; }
  __device__ __forceinline__ smem_addr_t barrier(int i) const { return base + kBarriers + 8 * i; }
  __device__ __forceinline__ smem_addr_t q_full() const { return barrier(0); }
  __device__ __forceinline__ smem_addr_t q_empty() const { return barrier(1); }
  __device__ __forceinline__ smem_addr_t k_full(int slot) const { return barrier(2 + slot); }
  __device__ __forceinline__ smem_addr_t v_full(int slot) const { return barrier(2 + Shape::kStages + slot); }
  __device__ __forceinline__ smem_addr_t kv_empty(int slot) const { return barrier(2 + 2 * Shape::kStages + slot); }
};

// Position in the K/V ring, advanced identically by producer and consumers (same block sequence).
template <int kStages>
struct RingPosition {
  int slot = 0;
  unsigned phase = 0;  // parity of the slot's current round
  __device__ __forceinline__ void advance() {
    if (++slot == kStages) {
      slot = 0;
      phase ^= 1u;
    }
  }
};

// Tile `index` of the order: a dense batch's scheduler computes it; a ragged batch's walk moves
// forward to it, reading the call's offsets and sizes from the kernel's parameters.
template <class Mods, class Kv>
__device__ __forceinline__ WgmmaTile tile_at(const WgmmaTileScheduler& scheduler, int index, const AttentionParams&,
                                             const Mods&, const Kv) {
  return scheduler.tile(index);
}

__device__ __forceinline__ RaggedBatch ragged_batch(const AttentionParams& p, const ScoreModParams& m, NoKvCache) {
  return {m.cu_seqlens_q, m.cu_seqlens_k, p.batch, p.num_heads, p.seqlen_q, p.seqlen_k};
}

// A chunked prefill over a KV cache (issue 15): the keys of sequence b are its seqused_k[b].
__device__ __forceinline__ RaggedBatch ragged_batch(const AttentionParams& p, const ScoreModParams& m,
                                                    const KvCacheParams& kv) {
  return {m.cu_seqlens_q, kv.seqused_k, p.batch, p.num_heads, p.seqlen_q, p.seqlen_k};
}

template <int kBlockM, int kBlockN, bool kCausal, bool kKeyCounts, class Kv>
__device__ __forceinline__ WgmmaTile tile_at(const RaggedTileWalk<kBlockM, kBlockN, kCausal, kKeyCounts>& walk,
                                             int index, const AttentionParams& p, const ScoreModParams& m,
                                             const Kv kv) {
  return walk.tile(index, ragged_batch(p, m, kv));
}

// The key blocks of one tile: [0, count), processed from count - 1 down to 0.
template <class Shape, bool kCausal>
__device__ __forceinline__ int key_block_count(const AttentionParams& p, int m_block) {
  int n_end = p.seqlen_k;
  // Bottom-right causal: row i sees keys <= i + seqlen_k - seqlen_q; blocks past the tile's last
  // row's horizon are never loaded.
  if (kCausal) n_end = min(p.seqlen_k, (m_block + 1) * Shape::kBlockM + p.seqlen_k - p.seqlen_q);
  return n_end > 0 ? (n_end + Shape::kBlockN - 1) / Shape::kBlockN : 0;
}

// `rows` rows from `row` of one (head, batch) slice: one TMA box per 64-column tile.
template <class Shape>
__device__ __forceinline__ void load_rows(smem_addr_t dst, int rows, const TmaTensor& t, int row, int head, int batch,
                                          smem_addr_t bar) {
#pragma unroll
  for (int ct = 0; ct < Shape::kColumnTiles; ++ct) {
    int c[4];
    place_coordinates(c, t, ct * 64, row, head, batch);
    tma_load_4d(dst + ct * rows * Shape::kRowBytes, &t.map, c, bar);
  }
}

// `scheduler`: WgmmaTileScheduler, or a ragged batch's RaggedTileWalk (each thread's own: a walk
// moves forward as it is asked; tile_at). Taken by reference as the dense kernel always took its
// scheduler: a copy reordered a few of the dense kernel's instructions.
template <class Shape, class Traits, class Mods, class Kv, class Scheduler>
__device__ __forceinline__ void produce(const WgmmaParams& params, const Mods mods, const Kv kv,
                                        const WgmmaSharedLayout<Shape>& shared, const Scheduler& scheduler) {
  constexpr bool kCausal = Traits::kCausal;
  constexpr bool kMods = has_score_mods<Mods>();
  const AttentionParams& p = params.attention;
  prefetch_tensor_map(&params.q.map);
  prefetch_tensor_map(&params.k.map);
  prefetch_tensor_map(&params.v.map);
  RingPosition<Shape::kStages> ring;
  int q_loads = 0;
  for (int index = blockIdx.x; index < scheduler.tile_count(); index += gridDim.x) {
    const WgmmaTile tile = tile_at(scheduler, index, p, mods, kv);
    if constexpr (is_ragged_batch<Traits, Mods>())
      if (Scheduler::is_end(tile)) break;
    const auto mod = cache_mod_state<Traits>(p, mods, kv, tile.batch, tile.head);
    int blocks;
    int first_block = 0;
    if constexpr (kMods) {
      const KeyBlocks range = window_key_blocks<Shape>(mod, tile.m_block);
      blocks = range.count;
      first_block = range.first;
    } else {
      blocks = key_block_count<Shape, kCausal>(p, tile.m_block);
    }
    if (blocks == 0) continue;  // the consumers store zeros without waiting for anything
    const int kv_head = tile.head / (p.num_heads / p.num_kv_heads);
    // Where the tile's rows are in the tensor maps: its batch entry, or in a ragged batch the one
    // packed entry from its sequence's first tokens (offsets are int32, as TMA's coordinates).
    int batch = tile.batch;
    int q_row0 = 0;
    int k_row0 = 0;
    if constexpr (is_ragged_batch<Traits, Mods>()) {
      batch = 0;
      q_row0 = static_cast<int>(mod.sequence.q_row0);
      k_row0 = static_cast<int>(mod.sequence.k_row0);
    }
    // A KV cache is not packed with the queries: its rows are the sequence's own.
    int k_batch = batch;
    if constexpr (has_kv_cache<Kv>()) k_batch = tile.batch;
    // The previous tile's consumers have read their last Q rows.
    if (q_loads > 0) mbarrier_wait(shared.q_empty(), (q_loads - 1) & 1);
    ++q_loads;
    mbarrier_arrive_expect_tx(shared.q_full(), Shape::kQBytes);
#pragma unroll
    for (int c = 0; c < Shape::kConsumers; ++c)
      load_rows<Shape>(shared.q(c), 64, params.q, q_row0 + tile.m_block * Shape::kBlockM + 64 * c, tile.head, batch,
                       shared.q_full());
    for (int block = first_block + blocks - 1; block >= first_block; --block) {
      // The slot's previous round has been consumed (a fresh barrier's "previous phase" counts as done).
      mbarrier_wait(shared.kv_empty(ring.slot), ring.phase ^ 1u);
      mbarrier_arrive_expect_tx(shared.k_full(ring.slot), Shape::kKvTileBytes);
      if constexpr (has_kv_cache<Kv>() && is_paged<Traits>()) {
        load_paged_rows<Shape>(shared.k(ring.slot), params.k, kv, tile.batch, kv_head, mod.sequence.seqlen_k, block,
                               shared.k_full(ring.slot));
      } else {
        load_rows<Shape>(shared.k(ring.slot), Shape::kBlockN, params.k, k_row0 + block * Shape::kBlockN, kv_head,
                         k_batch, shared.k_full(ring.slot));
      }
      mbarrier_arrive_expect_tx(shared.v_full(ring.slot), Shape::kKvTileBytes);
      if constexpr (has_kv_cache<Kv>() && is_paged<Traits>()) {
        load_paged_rows<Shape>(shared.v(ring.slot), params.v, kv, tile.batch, kv_head, mod.sequence.seqlen_k, block,
                               shared.v_full(ring.slot));
      } else {
        load_rows<Shape>(shared.v(ring.slot), Shape::kBlockN, params.v, k_row0 + block * Shape::kBlockN, kv_head,
                         k_batch, shared.v_full(ring.slot));
      }
      ring.advance();
    }
  }
}

// Issues S = Q K^T for the warpgroup's 64 rows against the K tile at `k_tile` (no fence, commit or
// wait: the caller batches it with the previous block's P V).
template <class Shape, class Element>
__device__ __forceinline__ void issue_scores(float (&s)[1][Shape::kNTiles][4], smem_addr_t q_tile,
                                             smem_addr_t k_tile) {
#pragma unroll
  for (int ks = 0; ks < Shape::kHeadDim / 16; ++ks) {
    // k16 step ks is 32 bytes into a 128-byte row of 64-column tile ks / 4.
    const int column_tile = ks / 4;
    const int byte_in_row = (ks % 4) * 32;
    const unsigned long long a =
        make_wgmma_descriptor(q_tile + column_tile * 64 * Shape::kRowBytes + byte_in_row, 16, 1024);
    const unsigned long long b =
        make_wgmma_descriptor(k_tile + column_tile * Shape::kBlockN * Shape::kRowBytes + byte_in_row, 16, 1024);
    wgmma_ss<Shape::kBlockN, Element>(s[0], a, b, ks > 0);
  }
}

// P as wgmma's register operand: the accumulator layout of 8-key tiles 2kk and 2kk+1 is the A
// fragment of k16 step kk. Converted before the wgmma fence, so no register is written between two
// wgmma (which would make ptxas insert a fence there, warning C7519, and stall the tensor cores).
template <class Shape, class Element>
__device__ __forceinline__ void pack_probabilities(unsigned (&p)[Shape::kBlockN / 16][4],
                                                   const float (&s)[1][Shape::kNTiles][4]) {
#pragma unroll
  for (int kk = 0; kk < Shape::kBlockN / 16; ++kk) {
    p[kk][0] = pack2(s[0][2 * kk][0], s[0][2 * kk][1], Element{});
    p[kk][1] = pack2(s[0][2 * kk][2], s[0][2 * kk][3], Element{});
    p[kk][2] = pack2(s[0][2 * kk + 1][0], s[0][2 * kk + 1][1], Element{});
    p[kk][3] = pack2(s[0][2 * kk + 1][2], s[0][2 * kk + 1][3], Element{});
  }
}

// Issues O += P V with V from the tile at `v_tile` (MN-major: keys are rows, the head dim contiguous).
template <class Shape, class Element>
__device__ __forceinline__ void issue_pv(float (&o)[1][Shape::kDTiles][4], const unsigned (&p)[Shape::kBlockN / 16][4],
                                         smem_addr_t v_tile) {
#pragma unroll
  for (int kk = 0; kk < Shape::kBlockN / 16; ++kk) {
    // Keys 16kk..16kk+15 are two 1024-byte groups of 8 rows; 64-column tiles are kBlockN rows apart.
    const unsigned long long b =
        make_wgmma_descriptor(v_tile + kk * 16 * Shape::kRowBytes, Shape::kBlockN * Shape::kRowBytes, 1024);
    wgmma_rs<Shape::kPaddedDim, Element>(o[0], p[kk], b, true);
  }
}

// Ping-pong between the two consumer warpgroups (FlashAttention-3): a warpgroup issues its wgmma
// only in its turn (named barrier 1 + c) and then hands the turn to the other, so one warpgroup's
// matrix products run while the other computes its softmax, instead of both queuing for the tensor
// cores at once and then both exponentiating. With one consumer there is nobody to alternate with.
template <class Shape>
struct PingPong {
  static constexpr bool kOn = Shape::kConsumers == 2;
  static constexpr int kThreads = 256;
  int consumer;

  // Warpgroup 0 takes the first turn.
  __device__ __forceinline__ void begin() const {
    if (kOn && consumer == 1) named_barrier_arrive(1, kThreads);
  }
  __device__ __forceinline__ void wait_turn() const {
    if (kOn) named_barrier_sync(1 + consumer, kThreads);
  }
  __device__ __forceinline__ void pass_turn() const {
    if (kOn) named_barrier_arrive(2 - consumer, kThreads);
  }
  // Warpgroup 1 handed over once more than warpgroup 0 waited: take that turn so no arrival is left
  // pending when the block exits.
  __device__ __forceinline__ void end() const {
    if (kOn && consumer == 0) named_barrier_sync(1, kThreads);
  }
};

// Normalizes O and stores the thread's two rows straight from registers (pairs of columns: 4-byte
// stores; the selector only runs this variant on layouts whose rows are 16-byte aligned), and the lse.
// A ragged batch's rows are its sequence's, from its first token (the batch stride is 0): where they
// are is read again here rather than kept through the main loop, whose accumulators leave no
// registers to spare (d 64's 192-key tile spilled keeping them).
template <class Shape, class Element, class Traits, class Mods>
__device__ __forceinline__ void store_rows(MmaAccumulators<Shape>& acc, const AttentionParams& p, const Mods mods,
                                           int batch, int head, int first_row, int lane) {
  constexpr bool kRagged = is_ragged_batch<Traits, Mods>();
  const int g = lane / 4;
  const int t = lane % 4;
  Element* o = static_cast<Element*>(p.o) + batch * p.o_strides.batch + head * p.o_strides.head;
  const auto mod = mod_state<Traits>(p, mods, batch, head);
  if constexpr (kRagged) o += mod.sequence.q_row0 * p.o_strides.seq;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = acc.row_sum[0][h];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = first_row + g + 8 * h;
    if constexpr (kRagged) {
      if (row >= mod.sequence.seqlen_q) continue;
    } else {
      if (row >= p.seqlen_q) continue;
    }
    // A row that saw no key (causal with seqlen_q > seqlen_k) is all zeros with lse = -inf. Only a
    // sum of exactly 0 means that: a NaN score makes the sum NaN, and the row and its lse with it.
    const float inv_sum = sum == 0.0f ? 0.0f : 1.0f / sum;
    Element* out_row = o + row * p.o_strides.seq;
#pragma unroll
    for (int dt = 0; dt < Shape::kHeadDim / 8; ++dt)
      *reinterpret_cast<unsigned*>(out_row + 8 * dt + 2 * t) =
          pack2(acc.o[0][dt][2 * h] * inv_sum, acc.o[0][dt][2 * h + 1] * inv_sum, Element{});
    if (p.lse != nullptr && t == 0) {
      const float ln2 = 0.6931471805599453f;
      const float lse = sum == 0.0f ? negative_infinity() : (acc.row_max[0][h] + log2f(sum)) * ln2;
      if constexpr (kRagged) {
        p.lse[mod.sequence.lse_row0 + row] = lse;
      } else {
        p.lse[(static_cast<long long>(batch) * p.num_heads + head) * p.seqlen_q + row] = lse;
      }
    }
  }
}

// Scales, masks and exponentiates S_j and updates the row statistics (mma_forward.cuh's online
// softmax: the fragment layout is the same), leaving O alone; returns O's rescale. Only blocks that
// cross the diagonal or the sequence end are masked; with modifiers, the blocks crossing an edge of
// a row's band (wgmma_score_modifiers.cuh).
template <class Shape, class Traits, class Mods>
__device__ __forceinline__ OutputRescale<Shape> score_block(float (&s)[1][Shape::kNTiles][4],
                                                            MmaAccumulators<Shape>& acc, const AttentionParams& p,
                                                            const ModState<Traits, Mods> mod, int group_row0,
                                                            int warp_row0, int block, int lane) {
  constexpr bool kCausal = Traits::kCausal;
  if constexpr (has_score_mods<Mods>()) {
    return modified_block_scores<Shape>(s, acc, p, mod.rule, warp_row0, block, lane);
  } else {
    const int n0 = block * Shape::kBlockN;
    const bool needs_mask = n0 + Shape::kBlockN > p.seqlen_k ||
                            (kCausal && n0 + Shape::kBlockN - 1 > group_row0 + p.seqlen_k - p.seqlen_q);
    if (needs_mask) return softmax_scores<Shape, kCausal, true>(s, acc, p, warp_row0, n0, lane);
    return softmax_scores<Shape, kCausal, false>(s, acc, p, warp_row0, n0, lane);
  }
}

// One consumer warpgroup's tiles. Per key block j (last to first), in its ping-pong turn it issues
// S_j = Q K_j^T, then O += P_{j+1} V_{j+1} (the block before, in processing order), as two wgmma
// groups. It waits for S_j only and computes its softmax statistics and P_j while P_{j+1} V_{j+1}
// still runs (FlashAttention-3's intra-warpgroup overlap), then waits for that, hands back K/V slot
// j+1, rescales O and packs P_j. Between the two warpgroups, the ping-pong turns put one's softmax
// beside the other's products. The first block has no P V before it and the last P V no S after
// it: they are peeled, so that no wgmma is ever issued under a branch (ptxas would then insert
// fences between them, warning C7519). Every block is computed by both warpgroups,
// even one whose rows cannot see it (the causal diagonal, a window's edge, or rows past seqlen_q):
// its mask gives zeros, at the cost of a few products per tile. With modifiers the blocks are those
// of window_key_blocks, the producer's; the ring and Q phases count blocks and loads alike.
template <class Shape, class Element, class Traits, class Mods, class Kv, class Scheduler>
__device__ __forceinline__ void consume(const AttentionParams& p, const Mods mods, const Kv kv,
                                        const WgmmaSharedLayout<Shape>& shared, const Scheduler& scheduler,
                                        int consumer) {
  constexpr bool kCausal = Traits::kCausal;
  constexpr bool kMods = has_score_mods<Mods>();
  const int lane = threadIdx.x % 32;
  const int warp_in_group = (threadIdx.x / 32) % 4;
  const PingPong<Shape> turns{consumer};
  turns.begin();
  RingPosition<Shape::kStages> ring;
  int q_loads = 0;
  for (int index = blockIdx.x; index < scheduler.tile_count(); index += gridDim.x) {
    const WgmmaTile tile = tile_at(scheduler, index, p, mods, kv);
    if constexpr (is_ragged_batch<Traits, Mods>())
      if (Scheduler::is_end(tile)) break;
    const auto mod = cache_mod_state<Traits>(p, mods, kv, tile.batch, tile.head);
    int blocks;
    int first_block = 0;
    if constexpr (kMods) {
      const KeyBlocks range = window_key_blocks<Shape>(mod, tile.m_block);
      blocks = range.count;
      first_block = range.first;
    } else {
      blocks = key_block_count<Shape, kCausal>(p, tile.m_block);
    }
    const int group_row0 = tile.m_block * Shape::kBlockM + 64 * consumer;  // the warpgroup's first row
    const int warp_row0 = group_row0 + 16 * warp_in_group;
    MmaAccumulators<Shape> acc;
    acc.clear();
    if (blocks > 0) {
      mbarrier_wait(shared.q_full(), q_loads & 1);
      ++q_loads;

      float s[1][Shape::kNTiles][4];
      unsigned probabilities[Shape::kBlockN / 16][4];
      // The first block: S alone.
      mbarrier_wait(shared.k_full(ring.slot), ring.phase);
      if constexpr (has_kv_cache<Kv>()) {
        // The only block that can reach past the sequence's keys (wgmma_kv_cache.cuh).
        mbarrier_wait(shared.v_full(ring.slot), ring.phase);
        zero_rows_past_keys<Shape>(shared.v(ring.slot),
                                   mod.sequence.seqlen_k - (first_block + blocks - 1) * Shape::kBlockN, consumer);
      }
      turns.wait_turn();
      wgmma_pin_all(s[0]);
      wgmma_fence();
      issue_scores<Shape, Element>(s, shared.q(consumer), shared.k(ring.slot));
      wgmma_commit();
      turns.pass_turn();
      wgmma_wait<0>();
      wgmma_pin_all(s[0]);
      // The last block's scores are the last read of Q: the producer may load the next tile's.
      if (blocks == 1) mbarrier_arrive(shared.q_empty());
      rescale_output(acc, score_block<Shape>(s, acc, p, mod, group_row0, warp_row0, first_block + blocks - 1, lane));
      pack_probabilities<Shape, Element>(probabilities, s);
      RingPosition<Shape::kStages> pending = ring;  // the block whose P V is still to be issued
      ring.advance();

      for (int block = blocks - 2; block >= 0; --block) {
        mbarrier_wait(shared.k_full(ring.slot), ring.phase);
        mbarrier_wait(shared.v_full(pending.slot), pending.phase);
        turns.wait_turn();
        wgmma_pin_all(acc.o[0]);
        wgmma_pin_all(probabilities);
        wgmma_pin_all(s[0]);
        wgmma_fence();
        issue_scores<Shape, Element>(s, shared.q(consumer), shared.k(ring.slot));
        wgmma_commit();
        issue_pv<Shape, Element>(acc.o, probabilities, shared.v(pending.slot));
        wgmma_commit();
        turns.pass_turn();
        wgmma_wait<1>();  // S_j; P V may still run
        wgmma_pin_all(s[0]);
        if (block == 0) mbarrier_arrive(shared.q_empty());
        const OutputRescale<Shape> rescale =
            score_block<Shape>(s, acc, p, mod, group_row0, warp_row0, first_block + block, lane);
        wgmma_wait<0>();  // P V: O, P and the V slot are free
        wgmma_pin_all(acc.o[0]);
        wgmma_pin_all(probabilities);
        mbarrier_arrive(shared.kv_empty(pending.slot));
        rescale_output(acc, rescale);
        pack_probabilities<Shape, Element>(probabilities, s);
        pending = ring;
        ring.advance();
      }

      // The last P V, outside the ping-pong: the other warpgroup is in its own.
      mbarrier_wait(shared.v_full(pending.slot), pending.phase);
      wgmma_pin_all(acc.o[0]);
      wgmma_pin_all(probabilities);
      wgmma_fence();
      issue_pv<Shape, Element>(acc.o, probabilities, shared.v(pending.slot));
      wgmma_commit();
      wgmma_wait<0>();
      wgmma_pin_all(acc.o[0]);
      mbarrier_arrive(shared.kv_empty(pending.slot));
    }
    store_rows<Shape, Element, Traits>(acc, p, mods, tile.batch, tile.head, warp_row0, lane);
  }
  turns.end();
}

// The producer warpgroup's one thread loads, the consumer warpgroups compute, each walking the
// tiles of `scheduler` in the same order.
template <class Shape, class Element, class Traits, class Mods, class Kv, class Scheduler>
__device__ __forceinline__ void run_warpgroups(const WgmmaParams& params, const Mods mods, const Kv kv,
                                               const WgmmaSharedLayout<Shape>& layout, const Scheduler& scheduler) {
  const int warpgroup = warp_uniform(threadIdx.x / 128);
  // Two consumer warpgroups need more than the 168 registers a 384-thread block starts with: the
  // producer gives its registers to them (templates/warpgroup_register_budget.cuh).
  using Registers = typename Shape::Registers;
  if (warpgroup == 0) {
    if constexpr (Registers::kRebalances) setmaxnreg_dec<Registers::kProducerRegisters>();
    if (threadIdx.x == 0) produce<Shape, Traits>(params, mods, kv, layout, scheduler);
    return;
  }
  if constexpr (Registers::kRebalances) setmaxnreg_inc<Registers::kConsumerRegisters>();
  consume<Shape, Element, Traits>(params.attention, mods, kv, layout, scheduler, warpgroup - 1);
}

// One block's work: the kernel entries below call it with the modifiers' parameters (NoScoreMods
// for a dense kernel, where every modifier branch folds away and the code is what it was before).
// The parameters and the ModState travel by value: an empty NoScoreMods (or ModState) passed by
// reference reordered a few instructions of the dense kernel's PTX.
template <class Traits, class Mods, class Kv = NoKvCache>
__device__ __forceinline__ void wgmma_forward(const WgmmaParams& params, const Mods mods, const Kv kv = Kv{}) {
  using Shape = WgmmaShape<Traits>;
  using Element = typename Traits::Element;
  const AttentionParams& p = params.attention;

  extern __shared__ __align__(16) float smem[];
  // The swizzle atoms must start 1024-byte aligned; dynamic shared memory promises less.
  const smem_addr_t raw = to_smem_addr(smem);
  WgmmaSharedLayout<Shape> layout{raw + ((1024 - static_cast<unsigned>(raw % 1024)) % 1024)};

  const int consumer_threads = 128 * Shape::kConsumers;
  if (threadIdx.x == 0) {
    mbarrier_init(layout.q_full(), 1);
    mbarrier_init(layout.q_empty(), consumer_threads);
    for (int slot = 0; slot < Shape::kStages; ++slot) {
      mbarrier_init(layout.k_full(slot), 1);
      mbarrier_init(layout.v_full(slot), 1);
      mbarrier_init(layout.kv_empty(slot), consumer_threads);
    }
    mbarrier_init_fence();
  }
  __syncthreads();

  if constexpr (is_ragged_batch<Traits, Mods>()) {
    using Walk = RaggedTileWalk<Shape::kBlockM, Shape::kBlockN, Traits::kCausal, has_kv_cache<Kv>()>;
    const Walk walk = Walk::start(ragged_batch(p, mods, kv));
    run_warpgroups<Shape, Element, Traits>(params, mods, kv, layout, walk);
  } else {
    const WgmmaTileScheduler scheduler{(p.seqlen_q + Shape::kBlockM - 1) / Shape::kBlockM, p.num_heads, p.batch,
                                       Traits::kCausal};
    run_warpgroups<Shape, Element, Traits>(params, mods, kv, layout, scheduler);
  }
}

template <class Traits>
__global__ void __launch_bounds__(WgmmaShape<Traits>::Registers::kThreads, 1)
    wgmma_sm90_forward(const FLASHJIT_GRID_CONSTANT WgmmaParams params) {
  wgmma_forward<Traits>(params, NoScoreMods{});
}

// A kernel specialized on a ragged batch, sliding windows, softcap or ALiBi (templates/score_modifiers.cuh).
template <class Traits>
__global__ void __launch_bounds__(WgmmaShape<Traits>::Registers::kThreads, 1)
    wgmma_sm90_forward_modified(const FLASHJIT_GRID_CONSTANT WgmmaParams params, const ScoreModParams mods) {
  wgmma_forward<Traits>(params, mods);
}

// A kernel reading a KV cache (issue 15: a prefill over a paged or dense cache, unsplit; the score
// modifiers as in the `_modified` entry).
template <class Traits>
__global__ void __launch_bounds__(WgmmaShape<Traits>::Registers::kThreads, 1)
    wgmma_sm90_forward_kvcache(const FLASHJIT_GRID_CONSTANT WgmmaParams params, const ScoreModParams mods,
                               const KvCacheParams kv) {
  wgmma_forward<Traits>(params, mods, kv);
}

}  // namespace dev
}  // namespace flashjit
