// Which (query block, head, batch) tile a persistent wgmma_sm90 thread block computes next. The grid
// has at most one block per SM; block b takes tiles b, b + gridDim.x, ... of the order below, so the
// producer can load the next tile's Q and K/V while the consumers finish the current one.
//
// Order: without a mask every tile costs the same, and the query blocks of one head run side by
// side so they share that head's K/V in L2. With the causal mask a query block further down sees
// more keys: the most expensive tiles (the last query block of every head) come first and the
// cheapest last, so the round-robin hand-out ends with short tiles instead of a long straggler
// (longest-processing-time-first). A ragged batch takes RaggedTileWalk below.
#pragma once

namespace flashjit {
namespace dev {

struct WgmmaTile {
  int m_block;  // query rows m_block * kBlockM ..
  int head;     // query head
  int batch;
};

struct WgmmaTileScheduler {
  int m_blocks;  // query blocks per (batch, head)
  int heads;
  int batches;
  bool causal;

  __device__ __forceinline__ int tile_count() const { return m_blocks * heads * batches; }

  __device__ __forceinline__ WgmmaTile tile(int index) const {
    WgmmaTile t;
    if (causal) {
      const int per_block = heads * batches;
      t.m_block = m_blocks - 1 - index / per_block;
      const int rest = index % per_block;
      t.head = rest % heads;
      t.batch = rest / heads;
      return t;
    }
    t.m_block = index % m_blocks;
    const int rest = index / m_blocks;
    t.head = rest % heads;
    t.batch = rest / heads;
    return t;
  }
};

// A ragged batch's tiles, in the same round-robin hand-out (block b takes the tiles b, b +
// gridDim.x, ... of this order), but only the tiles of each sequence's own query blocks: none past a
// short sequence's end, so no block spends its turn on an empty tile, and longest first (Graham's
// LPT):
//  - causal: by query block from the last down (a tile at block m sees about m + 1 key blocks, as in
//    a dense causal batch), then sequence, then head;
//  - otherwise: by the sequence's key blocks from the most down (every tile of a sequence costs its
//    key count), then sequence, then head with its query blocks side by side (sharing K/V in L2).
// Sequence lengths live on the device (cu_seqlens), so the order is walked there: a walk keeps its
// place (a level of the order and a sequence in it) and moves forward only, so a block that takes
// every gridDim.x-th tile reads each sequence's offsets about once per level over the whole kernel.
// The walk keeps only its place (three registers): the call's sizes and offsets are read from the
// kernel's parameters at each step (RaggedBatch), and it does not count its tiles ahead: the caller
// asks until tile() returns a tile at m_block -1 (the accumulators of d 64's 192-key tile leave no
// register to spare beside a ragged batch with every modifier: a walk keeping its count spilled).
// A sequence longer than the call's maxima (which the opt-in argument check refuses) has its tiles
// beyond them left out, as the other variants' grids do.
struct RaggedBatch {
  const int* cu_seqlens_q;
  const int* cu_seqlens_k;
  int batches;
  int heads;
  int seqlen_q;  // the longest sequence's lengths
  int seqlen_k;
};

// kKeyCounts: cu_seqlens_k holds each sequence's key count itself, not offsets (a KV cache's
// seqused_k, issue 15: its keys live in the cache, not in a packed tensor).
template <int kBlockM, int kBlockN, bool kCausal, bool kKeyCounts = false>
struct RaggedTileWalk {
  // The place: the tiles of (level, batch) are first_index, first_index + 1, ... Mutable: every
  // thread walks its own copy (a register each), which tile() moves forward.
  mutable int level;
  mutable int batch;
  mutable int first_index;

  __device__ __forceinline__ static int m_blocks(const RaggedBatch& r) { return (r.seqlen_q + kBlockM - 1) / kBlockM; }
  // causal: the last query block; otherwise the longest sequence's key blocks.
  __device__ __forceinline__ static int top_level(const RaggedBatch& r) {
    return kCausal ? m_blocks(r) - 1 : (r.seqlen_k + kBlockN - 1) / kBlockN;
  }
  __device__ __forceinline__ static int query_blocks(const RaggedBatch& r, int b) {
    const int blocks = (r.cu_seqlens_q[b + 1] - r.cu_seqlens_q[b] + kBlockM - 1) / kBlockM;
    return min(blocks, m_blocks(r));
  }
  // The level of sequence b's tiles when not causal: its key blocks.
  __device__ __forceinline__ static int key_level(const RaggedBatch& r, int b) {
    const int keys = kKeyCounts ? r.cu_seqlens_k[b] : r.cu_seqlens_k[b + 1] - r.cu_seqlens_k[b];
    const int blocks = (keys + kBlockN - 1) / kBlockN;
    return min(blocks, top_level(r));
  }

  __device__ __forceinline__ static RaggedTileWalk start(const RaggedBatch& r) {
    RaggedTileWalk w;
    w.level = top_level(r);
    w.batch = 0;
    w.first_index = 0;
    return w;
  }

  // No bound known ahead: the caller stops at the end tile (is_end). Below INT_MAX by more than any
  // grid, so that the caller's index never overflows before it gets there.
  __device__ __forceinline__ int tile_count() const { return 0x7f000000; }
  __device__ __forceinline__ static bool is_end(const WgmmaTile& t) { return t.m_block < 0; }

  // Tiles of (level, b), with q_blocks = query_blocks(b).
  __device__ __forceinline__ int group_size(const RaggedBatch& r, int q_blocks, int b) const {
    if (kCausal) return level < q_blocks ? r.heads : 0;
    return key_level(r, b) == level ? q_blocks * r.heads : 0;
  }

  // Tile `index` of the order, or the end tile (m_block -1) past the last; indices asked must not
  // decrease (each block asks its own in order).
  __device__ __forceinline__ WgmmaTile tile(int index, const RaggedBatch& r) const {
    int q_blocks = query_blocks(r, batch);
    int size = group_size(r, q_blocks, batch);
    while (index >= first_index + size && level >= 0) {
      first_index += size;
      if (++batch == r.batches) {
        batch = 0;
        --level;
      }
      q_blocks = query_blocks(r, batch);
      size = group_size(r, q_blocks, batch);
    }
    const int j = index - first_index;
    WgmmaTile t;
    t.batch = batch;
    if (level < 0) {
      t.m_block = -1;
      t.head = 0;
      return t;
    }
    if (kCausal) {
      t.m_block = level;
      t.head = j;
    } else {
      t.m_block = j % q_blocks;
      t.head = j / q_blocks;
    }
    return t;
  }
};

}  // namespace dev
}  // namespace flashjit
