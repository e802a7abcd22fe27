// What the wgmma_sm90 kernel needs TMA to address, computed without the driver: the arguments of
// one cuTensorMapEncodeTiled call per input tensor, and why a layout cannot be addressed at all.
// Pure functions, so they are unit-tested on machines without a GPU and reused by the emulation.
#pragma once

#include <array>
#include <string>

#include "flashjit/types.h"

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

enum class TmaOperand { q, k, v };

// The request for one tensor of `args` (q, k or v) with boxes of `box_rows` sequence positions.
TensorMapRequest tensor_map_request(const AttentionArgs& args, TmaOperand operand, int box_rows);

// Why TMA cannot address the tensors of `args` (normalized), e.g. "k: the seq stride of 100
// elements (200 bytes) is not a positive multiple of 16 bytes"; empty when it can. Checks q, k, v and out
// (the epilogue stores pairs of elements) against TMA's rules: 16-byte aligned base addresses,
// strides that are positive multiples of 16 bytes below 2^40 for every dimension longer than 1, and
// a span below 2^40 bytes.
std::string tma_layout_problem(const AttentionArgs& args);

}  // namespace flashjit
