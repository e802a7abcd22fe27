// What the wgmma_sm90 kernel needs TMA to address, computed without the driver: the arguments of
// one cuTensorMapEncodeTiled call per input tensor (TensorMapRequest, cuda/tensor_map_encoder.h).
// Pure functions, so they are unit-tested on machines without a GPU and reused by the emulation.
#pragma once

#include "cuda/tensor_map_encoder.h"
#include "flashjit/types.h"
#include "problem/tensor_geometry.h"

namespace flashjit {

// Columns of one TMA box: 64 two-byte elements fill the 128-byte swizzle span exactly.
constexpr unsigned kTmaBoxColumns = 64;

// The request for one tensor of `args` (normalized; q, k or v) with boxes of `box_rows` sequence
// positions. Whether TMA can address the tensors at all is the Problem's to say
// (problem/tma_addressability.h).
TensorMapRequest tensor_map_request(const AttentionArgs& args, Operand operand, int box_rows);

// The rows of one K/V box of a paged cache (issue 15) for key tiles of `block_n` rows: a box never
// crosses a page, so a tile is block_n / rows boxes, each from its own page: the page size, or the
// largest power of two dividing block_n when that is smaller (96-key tiles take 32-row boxes).
// templates/wgmma_kv_cache.cuh computes the same from its tile and page shift.
int paged_box_rows(int block_n, int page_size);

}  // namespace flashjit
