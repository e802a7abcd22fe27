// The address arithmetic of one tensor of a call: its base and its sequence, head and batch
// dimensions (the head dimension is contiguous). What TMA can address and the tensor maps the
// Hopper kernel needs are both computed from it, for a real call or for contiguous tensors of a
// shape (a manifest entry), by the same code.
#pragma once

#include <array>
#include <cstdint>

#include "flashjit/types.h"
#include "problem/problem_shape.h"

namespace flashjit {

enum class Operand { q, k, v, out };

enum class TensorRole { sequence, head, batch };

struct TensorDim {
  TensorRole role;
  const char* name;  // "seq", "head", "batch"
  int64_t stride;    // elements
  int64_t extent;   // 0: not known (the token count of a ragged call that gives none)
};

struct TensorGeometry {
  const char* name;  // "q", "k", "v", "out"
  uintptr_t base = 0;
  std::array<TensorDim, 3> dims;  // sequence, head, batch
  int head_dim = 0;
};

// One tensor of normalized arguments (validate_args filled in the strides). A ragged call's packed
// tensor is one batch entry of total_q (q, out) or total_k (k, v) rows; a KV cache's k and v are
// its num_pages pages of page_size rows, or [batch, seqlen_k] rows when dense.
TensorGeometry geometry_of(const AttentionArgs& normalized, Operand operand);
// The same tensor stored contiguously ([batch, seq, heads, head_dim]) at a 16-byte aligned base; a
// ragged one packed ([tokens, heads, head_dim], batch stride 0) with room for `batch` sequences of
// the shape's lengths. A KV cache's k and v (`kv_cache`) are its pages ([pages, page_size, heads,
// head_dim], each sequence's seqlen_k keys in whole pages) when the shape has a page size, else
// [batch, seqlen_k] rows, whether or not the queries are ragged.
TensorGeometry contiguous_geometry(const ProblemShape& shape, int head_dim, Operand operand, bool ragged = false,
                                   bool kv_cache = false);

// The elements the tensor spans from its base: the largest offset a dimension reaches, plus a row.
int64_t span_elements(const TensorGeometry& tensor);

}  // namespace flashjit
