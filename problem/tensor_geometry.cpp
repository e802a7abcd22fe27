#include "problem/tensor_geometry.h"

#include <algorithm>
#include <limits>

#include "problem/validate.h"

namespace flashjit {
namespace {

struct Extents {
  int seqlen;
  int heads;
};

Extents extents_of(const ProblemShape& shape, Operand operand) {
  if (operand == Operand::k || operand == Operand::v) return {shape.seqlen_k, shape.num_kv_heads};
  return {shape.seqlen_q, shape.num_heads};
}

const char* name_of(Operand operand) {
  switch (operand) {
    case Operand::q: return "q";
    case Operand::k: return "k";
    case Operand::v: return "v";
    case Operand::out: return "out";
  }
  return "?";
}

TensorGeometry make(Operand operand, uintptr_t base, const Strides& s, int64_t rows, int heads, int batch,
                    int head_dim) {
  return {name_of(operand),
          base,
          {{{TensorRole::sequence, "seq", s.seq, rows},
            {TensorRole::head, "head", s.head, heads},
            {TensorRole::batch, "batch", s.batch, batch}}},
          head_dim};
}

bool is_query_side(Operand operand) { return operand == Operand::q || operand == Operand::out; }

}  // namespace

TensorGeometry geometry_of(const AttentionArgs& a, Operand operand) {
  const ProblemShape shape = shape_of(a);
  const Extents e = extents_of(shape, operand);
  const InputTensor* input = operand == Operand::q   ? &a.q
                             : operand == Operand::k ? &a.k
                             : operand == Operand::v ? &a.v
                                                     : nullptr;  // out
  const uintptr_t base = reinterpret_cast<uintptr_t>(input ? input->data : a.out.data);
  const Strides& strides = input ? input->strides : a.out.strides;
  // A KV cache (issue 15) is addressed by its own layout whatever the queries are: pages of
  // page_size rows, the batch stride stepping pages, or a dense cache of seqlen_k rows per sequence.
  if (a.seqused_k != nullptr && !is_query_side(operand)) {
    if (a.block_table != nullptr) return make(operand, base, strides, a.page_size, e.heads, a.num_pages, a.head_dim);
    return make(operand, base, strides, e.seqlen, e.heads, shape.batch, a.head_dim);
  }
  if (a.cu_seqlens_q != nullptr) {
    // One packed entry of the call's token count (0 when it gives none; at least one row when it
    // does, so a side whose sequences are all empty still has a tensor map, never read).
    const int64_t tokens = is_query_side(operand) ? a.total_q : a.total_k;
    return make(operand, base, strides, has_token_counts(a) ? std::max<int64_t>(tokens, 1) : 0, e.heads, 1,
                a.head_dim);
  }
  return make(operand, base, strides, e.seqlen, e.heads, shape.batch, a.head_dim);
}

TensorGeometry contiguous_geometry(const ProblemShape& shape, int head_dim, Operand operand, bool ragged,
                                   bool kv_cache) {
  const Extents e = extents_of(shape, operand);
  if (kv_cache && !is_query_side(operand)) {
    // Problem::contiguous_args's cache: [batch, seqlen_k] rows, or each sequence's pages in turn.
    if (shape.page_size <= 0)
      return make(operand, 0, contiguous_strides(e.seqlen, e.heads, head_dim), e.seqlen, e.heads, shape.batch, head_dim);
    const int64_t pages = int64_t{shape.batch} * ((int64_t{shape.seqlen_k} + shape.page_size - 1) / shape.page_size);
    return make(operand, 0, contiguous_strides(shape.page_size, e.heads, head_dim), shape.page_size, e.heads,
                static_cast<int>(std::min<int64_t>(pages, std::numeric_limits<int>::max())), head_dim);
  }
  Strides strides = contiguous_strides(e.seqlen, e.heads, head_dim);
  if (!ragged) return make(operand, 0, strides, e.seqlen, e.heads, shape.batch, head_dim);
  // Packed: `batch` sequences of the longest length at most, one entry without a batch stride.
  strides.batch = 0;
  return make(operand, 0, strides, int64_t{shape.batch} * e.seqlen, e.heads, 1, head_dim);
}

int64_t span_elements(const TensorGeometry& t) {
  int64_t span = t.head_dim;
  for (const TensorDim& d : t.dims)
    if (d.extent > 1) span = std::max(span, d.stride * d.extent);
  return span;
}

}  // namespace flashjit
