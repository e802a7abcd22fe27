#include "problem/tensor_geometry.h"

#include <algorithm>

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

TensorGeometry make(Operand operand, uintptr_t base, const Strides& s, const ProblemShape& shape, int head_dim) {
  const Extents e = extents_of(shape, operand);
  return {name_of(operand),
          base,
          {{{TensorRole::sequence, "seq", s.seq, e.seqlen},
            {TensorRole::head, "head", s.head, e.heads},
            {TensorRole::batch, "batch", s.batch, shape.batch}}},
          head_dim};
}

}  // namespace

TensorGeometry geometry_of(const AttentionArgs& a, Operand operand) {
  const ProblemShape shape = shape_of(a);
  switch (operand) {
    case Operand::q: return make(operand, reinterpret_cast<uintptr_t>(a.q.data), a.q.strides, shape, a.head_dim);
    case Operand::k: return make(operand, reinterpret_cast<uintptr_t>(a.k.data), a.k.strides, shape, a.head_dim);
    case Operand::v: return make(operand, reinterpret_cast<uintptr_t>(a.v.data), a.v.strides, shape, a.head_dim);
    case Operand::out: break;
  }
  return make(operand, reinterpret_cast<uintptr_t>(a.out.data), a.out.strides, shape, a.head_dim);
}

TensorGeometry contiguous_geometry(const ProblemShape& shape, int head_dim, Operand operand) {
  const Extents e = extents_of(shape, operand);
  return make(operand, 0, contiguous_strides(e.seqlen, e.heads, head_dim), shape, head_dim);
}

int64_t span_elements(const TensorGeometry& t) {
  int64_t span = t.head_dim;
  for (const TensorDim& d : t.dims)
    if (d.extent > 1) span = std::max(span, d.stride * d.extent);
  return span;
}

}  // namespace flashjit
