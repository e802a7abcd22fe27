// Whether the Tensor Memory Accelerator can address a call's tensors, which decides whether the
// Hopper kernel can serve it. TMA needs 16-byte aligned base addresses, strides that are positive
// multiples of 16 bytes below 2^40 for every dimension longer than 1, and a span below 2^40 bytes.
#pragma once

#include <cstdint>
#include <string>

#include "problem/tensor_geometry.h"

namespace flashjit {

// TMA: strides (and, for dimensions of extent 1, the span standing in for them) below 2^40 bytes.
inline constexpr uint64_t kTmaStrideLimit = uint64_t{1} << 40;

// Why TMA cannot address `tensor` of `element_bytes` elements, e.g. "k: the seq stride of 100
// elements (200 bytes) is not a positive multiple of 16 bytes"; empty when it can.
std::string tma_layout_problem(const TensorGeometry& tensor, int element_bytes);

// The same for every tensor of normalized arguments, q, k, v and out (the Hopper epilogue stores
// pairs of elements, so out counts too); the first problem found, or empty. A ragged call needs its
// token counts (total_q, total_k) as well.
std::string tma_layout_problem(const AttentionArgs& normalized);

}  // namespace flashjit
