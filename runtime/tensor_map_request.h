// What the wgmma_sm90 kernel needs TMA to address, computed without the driver: the arguments of
// one cuTensorMapEncodeTiled call per input tensor. Pure functions, so they are unit-tested on
// machines without a GPU and reused by the emulation.
#pragma once

#include <array>

#include "flashjit/types.h"
#include "problem/tensor_geometry.h"

namespace flashjit {

// One rank-4, 2-byte-element tensor map with 128-byte swizzle, no interleave, unit element strides
// and zero fill out of bounds. Dimension 0 is the head dimension (contiguous); dimensions 1..3 are
// the sequence, head and batch dimensions ordered by increasing stride.
struct TensorMapRequest {
  const void* address = nullptr;
  DType dtype = DType::f16;
  std::array<unsigned long long, 4> dims{};           // elements, innermost first
  std::array<unsigned long long, 3> strides_bytes{};  // of dims 1..3
  std::array<unsigned, 4> box{};                      // elements per dimension: 64, then rows in seq_slot, 1
  // Where the sequence, head and batch coordinates go (1..3).
  int seq_slot = 1;
  int head_slot = 2;
  int batch_slot = 3;
};

// Columns of one TMA box: 64 two-byte elements fill the 128-byte swizzle span exactly.
constexpr unsigned kTmaBoxColumns = 64;

// The request for one tensor of `args` (normalized; q, k or v) with boxes of `box_rows` sequence
// positions. Whether TMA can address the tensors at all is the Problem's to say
// (problem/tma_addressability.h).
TensorMapRequest tensor_map_request(const AttentionArgs& args, Operand operand, int box_rows);

}  // namespace flashjit
