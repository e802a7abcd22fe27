// Issue 15's KV cache in the wgmma_sm90 kernel (wgmma_sm90_forward.cuh's `_kvcache` entry): the
// producer's K/V loads from a paged cache through the block table, and the consumers' clearing of
// the cache rows past a sequence's keys. A dense cache is loaded as dense K/V always was: its tensor
// maps are [batch, seqlen_k] rows. Only a kernel reading a cache calls these; the others' code does
// not change.
//
// Paged: the tensor maps of k and v are the cache itself, [num_pages, page_size, kv heads, head dim]
// (runtime/launch_params.cpp), with boxes of paged_box_rows keys, so a box never crosses a page: a
// K/V tile is kBlockN / rows boxes, each at (its page, its row in the page). A box past the
// sequence's last key reads no block-table entry (those past its pages need not hold a page) and
// takes page -1, which TMA fills with zeros, counting the full box as always.
//
// The cache rows of a sequence's last page (or a dense cache's rows) past its keys hold whatever the
// cache held: the scores mask them, but P V multiplies their zero probability by V, and 0 x NaN is
// NaN. So before the first P V of a tile, whose block is the only one reaching past the keys (blocks
// run from the last down), each consumer warpgroup writes zeros over those V rows of the slot.
#pragma once

#include "kv_cache.cuh"
#include "kv_cache_params.cuh"
#include "tma_params.cuh"
#include "wgmma_primitives.cuh"

namespace flashjit {
namespace dev {

// TMA coordinates, innermost first: the head-dim column, then sequence, head and batch in the order
// the host gave the tensor map's dimensions (selects, so the array stays in registers).
__device__ __forceinline__ void place_coordinates(int (&c)[4], const TmaTensor& t, int column, int row, int head,
                                                  int batch) {
  c[0] = column;
#pragma unroll
  for (int slot = 1; slot < 4; ++slot) c[slot] = t.seq_slot == slot ? row : t.head_slot == slot ? head : batch;
}

// The keys of one box of a paged K/V tile: the page size, or the largest power of two dividing
// kBlockN when smaller (runtime/tensor_map_request.h's paged_box_rows, which the host encodes).
template <int kBlockN>
__device__ __forceinline__ int paged_box_rows(int page_shift) {
  const int page = 1 << page_shift;
  constexpr int kLowBit = kBlockN & -kBlockN;
  return page < kLowBit ? page : kLowBit;
}

// Key block `block` of sequence `batch` (its `keys` cached keys), KV head `kv_head`, from the paged
// cache of `t` into the slot at `dst`: per 64-column tile, one box per page the block touches.
template <class Shape>
__device__ __forceinline__ void load_paged_rows(smem_addr_t dst, const TmaTensor& t, const KvCacheParams& kv,
                                                int batch, int kv_head, int keys, int block, smem_addr_t bar) {
  const int rows = paged_box_rows<Shape::kBlockN>(kv.page_shift);
  const int* pages = kv.block_table + batch * kv.block_table_stride;
  const int page_mask = (1 << kv.page_shift) - 1;
  for (int first = 0; first < Shape::kBlockN; first += rows) {
    const int key = block * Shape::kBlockN + first;
    const int page = key < keys ? pages[key >> kv.page_shift] : -1;
#pragma unroll
    for (int ct = 0; ct < Shape::kColumnTiles; ++ct) {
      int c[4];
      place_coordinates(c, t, ct * 64, key & page_mask, kv_head, page);
      tma_load_4d(dst + ct * Shape::kBlockN * Shape::kRowBytes + first * Shape::kRowBytes, &t.map, c, bar);
    }
  }
}

// 16 zero bytes at a shared-memory address.
__device__ __forceinline__ void store_shared_zero16(smem_addr_t at) {
#if defined(FLASHJIT_HOST_EMULATION)
  *reinterpret_cast<Chunk16*>(at) = Chunk16{};
#else
  asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(at), "r"(0) : "memory");
#endif
}

// Zeros rows [valid, kBlockN) of the V slot at `v_tile` (every 64-column tile: whole 128-byte rows,
// so the swizzle does not matter) with the warpgroup's 128 threads, then makes the zeros visible to
// its wgmma. Both consumer warpgroups write the same zeros; each waits only for its own.
template <class Shape>
__device__ __forceinline__ void zero_rows_past_keys(smem_addr_t v_tile, int valid, int consumer) {
  if (valid >= Shape::kBlockN) return;
  const int first = valid > 0 ? valid : 0;
  const int chunks_per_row = Shape::kRowBytes / 16;
  const int chunks = (Shape::kBlockN - first) * chunks_per_row * Shape::kColumnTiles;
  for (int i = threadIdx.x % 128; i < chunks; i += 128) {
    const int ct = i / ((Shape::kBlockN - first) * chunks_per_row);
    const int rest = i % ((Shape::kBlockN - first) * chunks_per_row);
    const int row = first + rest / chunks_per_row;
    const smem_addr_t at = v_tile + ct * Shape::kBlockN * Shape::kRowBytes + row * Shape::kRowBytes +
                           (rest % chunks_per_row) * 16;
    store_shared_zero16(at);
  }
  fence_proxy_async_shared();
  named_barrier_sync(3 + consumer, 128);
}

}  // namespace dev
}  // namespace flashjit
