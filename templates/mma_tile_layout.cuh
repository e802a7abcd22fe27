// Shared-memory layout and tile loading of the tensor-core kernels (mma_forward.cuh).
//
// Q, K and V tiles are stored row by row (one row = one sequence position, head_dim b16 elements,
// zero-padded to a multiple of 16), in 16-byte chunks, which is the unit of both cp.async and
// ldmatrix. ldmatrix reads the same chunk of 8 consecutive rows at once; for that to hit 8
// different bank groups:
//  - rows of 8, 16, 24 or 32 chunks (head_dim 64, 128, 192, 256) are XOR-swizzled: chunk c of row
//    r is stored at chunk c ^ (r % 8) of the row, which stays inside the row's aligned group of 8;
//  - other widths (an even chunk count that is not a multiple of 8) get one chunk of padding per
//    row: an odd row stride in chunks spreads 8 consecutive rows over 8 bank groups.
#pragma once

#include "attention_params.cuh"
#include "mma_primitives.cuh"

namespace flashjit {
namespace dev {

template <int kHeadDim>
struct TileRowLayout {
  static constexpr int kPaddedDim = (kHeadDim + 15) / 16 * 16;  // the mma k and n steps are 16 wide
  static constexpr int kChunks = kPaddedDim / 8;                // 16-byte chunks holding data
  static constexpr bool kSwizzled = kChunks % 8 == 0;
  static constexpr int kRowChunks = kSwizzled ? kChunks : kChunks + 1;
  static constexpr int kRowBytes = kRowChunks * 16;

  // Byte offset of logical chunk `chunk` of tile row `row`.
  static __device__ __forceinline__ int offset(int row, int chunk) {
    return row * kRowBytes + (kSwizzled ? (chunk ^ (row & 7)) : chunk) * 16;
  }
};

// Whether every row of a tensor of `batch` x `heads` slices starts on a 16-byte boundary, so the
// 16-byte copies (cp.async or vector loads and stores) are legal; otherwise the kernel copies element
// by element. The stride of a dimension of extent 1 is never stepped, so it does not count (a
// one-batch view of a larger tensor keeps the fast path).
__device__ __forceinline__ bool rows_are_16_byte_aligned(const void* base, const TensorStrides& s, int batch,
                                                         int heads) {
  const unsigned long long address = reinterpret_cast<unsigned long long>(base);
  return address % 16 == 0 && s.seq % 8 == 0 && (batch == 1 || s.batch % 8 == 0) && (heads == 1 || s.head % 8 == 0);
}

// Copies 8 elements one at a time: the path for layouts the 16-byte copies cannot address.
template <class Element>
__device__ __forceinline__ void copy_8_elements(Element* dst, const Element* src, bool valid) {
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    Element value;
    value.bits = 0;
    if (valid) value = src[e];
    dst[e] = value;
  }
}

// The sum over the quad of lanes that hold one row of an m16n8 accumulator (lanes 4g .. 4g + 3).
__device__ __forceinline__ float quad_sum(float value) {
  value += __shfl_xor_sync(0xffffffffu, value, 1);
  value += __shfl_xor_sync(0xffffffffu, value, 2);
  return value;
}

// One 16-byte chunk of a tile row: by cp.async when kAsync (nothing waits here), else by a vector
// load; element by element where the rows are not 16-byte aligned. An invalid chunk becomes zeros.
template <class Element, bool kAsync>
__device__ __forceinline__ void copy_chunk(char* tile, smem_addr_t tile_addr, int offset, const Element* from,
                                           bool valid, bool aligned) {
  if (!aligned) {
    copy_8_elements(reinterpret_cast<Element*>(tile + offset), from, valid);
    return;
  }
  if constexpr (kAsync)
    cp_async_16(tile_addr + offset, from, valid);
  else
    copy_16(tile + offset, from, valid);
}

// Loads rows [row0, row0 + kRows) of a [seq, head_dim] slice into the tile at `tile` (generic
// pointer) / `tile_addr` (the same tile as a shared-window address). Rows at or past `valid_rows`
// and the padding columns become zeros, so tails and odd head dims need no case downstream.
// Every thread of the block takes part. Aligned rows travel in 16-byte chunks, by cp.async when
// kAsync (nothing waits here: see the caller's cp_async_wait) or else by vector loads; other
// layouts element by element.
template <class Element, int kHeadDim, int kRows, int kThreads, bool kAsync>
__device__ __forceinline__ void load_tile_rows(char* tile, smem_addr_t tile_addr, const Element* src,
                                               long long seq_stride, int row0, int valid_rows, bool aligned) {
  using Layout = TileRowLayout<kHeadDim>;
  constexpr int kChunks = Layout::kChunks;
  constexpr int kTotal = kRows * kChunks;
  for (int i = threadIdx.x; i < kTotal; i += kThreads) {
    const int r = i / kChunks;
    const int c = i % kChunks;
    const int row = row0 + r;
    const bool valid = row < valid_rows && c * 8 < kHeadDim;
    // An invalid chunk reads nothing; any in-bounds address will do for the instruction.
    const Element* from = valid ? src + row * seq_stride + c * 8 : src;
    copy_chunk<Element, kAsync>(tile, tile_addr, Layout::offset(r, c), from, valid, aligned);
  }
}

}  // namespace dev
}  // namespace flashjit
