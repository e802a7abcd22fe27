// TMA tensor maps from the driver: cuTensorMapEncodeTiled with the arguments the runtime computed
// (runtime/tensor_map_request.h). Host-only work (no launch, no synchronization), so it may run
// during graph capture.
#pragma once

#include <array>

#include <llvm/Support/Error.h>

#include "flashjit/types.h"
#include "tma_params.cuh"

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

}  // namespace flashjit

namespace flashjit::cuda {

llvm::Expected<TensorMapBits> encode_tensor_map(const TensorMapRequest& request);

}  // namespace flashjit::cuda
