// Which (query block, head, batch) tile a persistent wgmma_sm90 thread block computes next. The grid
// has at most one block per SM; block b takes tiles b, b + gridDim.x, ... of the order below, so the
// producer can load the next tile's Q and K/V while the consumers finish the current one.
//
// Order: without a mask every tile costs the same, and the query blocks of one head run side by
// side so they share that head's K/V in L2. With the causal mask a query block further down sees
// more keys: the most expensive tiles (the last query block of every head) come first and the
// cheapest last, so the round-robin hand-out ends with short tiles instead of a long straggler
// (longest-processing-time-first).
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

}  // namespace dev
}  // namespace flashjit
