// What the tensor-core template (mma_forward.cuh) needs to read a KV cache (issue 15): K/V tiles
// gathered row by row through CacheKeys (a page through the block table, or an appended key from
// k_new), whether the cache's rows allow 16-byte copies, and split-KV's epilogue, which writes a
// warp's rows as fp32 partials with their lse for the combine step (templates/split_combine.cuh).
#pragma once

#include "kv_cache.cuh"
#include "mma_tile_layout.cuh"

namespace flashjit {
namespace dev {

// Whether every row the cache can hand out starts on a 16-byte boundary: the cache's pages (or batch
// entries) and heads, and the appended rows. Otherwise the tiles are copied element by element.
template <class Traits>
__device__ __forceinline__ bool cache_rows_are_16_byte_aligned(const AttentionParams& p, const KvCacheParams& kv) {
  // 2 "batch entries": the page (or batch) stride is always stepped.
  bool aligned = rows_are_16_byte_aligned(p.k, p.k_strides, 2, p.num_kv_heads) &&
                 rows_are_16_byte_aligned(p.v, p.v_strides, 2, p.num_kv_heads);
  if constexpr (appends_keys<Traits>())
    aligned = aligned && rows_are_16_byte_aligned(kv.k_new, kv.k_new_strides, 2, p.num_kv_heads) &&
              rows_are_16_byte_aligned(kv.v_new, kv.v_new_strides, 2, p.num_kv_heads);
  return aligned;
}

// load_tile_rows for a cache: rows [row0, row0 + kRows) of the sequence's keys (or values), each
// found through `keys`; rows at or past `valid_rows` and padding columns become zeros.
template <class Element, class Traits, int kHeadDim, int kRows, int kThreads, bool kAsync>
__device__ __forceinline__ void load_cache_tile_rows(char* tile, smem_addr_t tile_addr,
                                                     const CacheKeys<Element, Traits>& keys, int row0, int valid_rows,
                                                     bool aligned) {
  using Layout = TileRowLayout<kHeadDim>;
  constexpr int kChunks = Layout::kChunks;
  constexpr int kTotal = kRows * kChunks;
  for (int i = threadIdx.x; i < kTotal; i += kThreads) {
    const int r = i / kChunks;
    const int c = i % kChunks;
    const int row = row0 + r;
    const bool valid = row < valid_rows && c * 8 < kHeadDim;
    // An invalid chunk reads nothing; any in-bounds address will do for the instruction.
    const Element* from = valid ? keys.row(row) + c * 8 : keys.cache;
    copy_chunk<Element, kAsync>(tile, tile_addr, Layout::offset(r, c), from, valid, aligned);
  }
}

// Split-KV's epilogue for m16n8 accumulators: each of the warp's rows, normalized, in fp32 at
// partial row `split * partial_rows + lse_row0 + row`, and its lse (-inf for a row that saw no key
// in this split's keys).
template <class Shape, class Accumulators>
__device__ __forceinline__ void store_split_partials(const Accumulators& acc, const KvCacheParams& kv, int split,
                                                     long long lse_row0, int seqlen_q, int m0, int warp_row0,
                                                     int lane) {
  const int g = lane / 4;
  const int t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < Shape::kMTiles; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float sum = quad_sum(acc.row_sum[mt][h]);
      const int row = m0 + warp_row0 + 16 * mt + g + 8 * h;
      if (row >= seqlen_q) continue;
      const float inv_sum = sum == 0.0f ? 0.0f : 1.0f / sum;
      const long long partial_row = split * kv.partial_rows + lse_row0 + row;
      float* out = kv.partial_out + partial_row * Shape::kHeadDim;
#pragma unroll
      for (int dt = 0; dt < Shape::kDTiles; ++dt) {
        const int col = 8 * dt + 2 * t;
        if (col < Shape::kHeadDim) {
          out[col] = acc.o[mt][dt][2 * h] * inv_sum;
          out[col + 1] = acc.o[mt][dt][2 * h + 1] * inv_sum;
        }
      }
      // The row's natural-log lse, as store_output's row_lse writes it (mma_forward.cuh).
      if (t == 0)
        kv.partial_lse[partial_row] =
            sum == 0.0f ? negative_infinity() : (acc.row_max[mt][h] + log2f(sum)) * 0.6931471805599453f;
    }
  }
}

}  // namespace dev
}  // namespace flashjit
