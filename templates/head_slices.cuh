// Where one (batch, head) lives in Q, K, V and O: the same for every kernel variant, including the
// GQA/MQA mapping of query heads onto shared key/value heads.
#pragma once

#include "attention_params.cuh"

namespace flashjit {
namespace dev {

// Element pointers to row 0 of one (batch, head) slice; rows follow at the tensor's seq stride.
template <class Element>
struct HeadSlices {
  const Element* q;
  const Element* k;
  const Element* v;
  Element* o;
};

template <class Element>
__device__ __forceinline__ HeadSlices<Element> head_slices(const AttentionParams& p, int batch, int head) {
  // Query heads are grouped onto key/value heads in order: heads 0..g-1 share kv head 0, and so on.
  const int kv_head = head / (p.num_heads / p.num_kv_heads);
  HeadSlices<Element> s;
  s.q = static_cast<const Element*>(p.q) + batch * p.q_strides.batch + head * p.q_strides.head;
  s.k = static_cast<const Element*>(p.k) + batch * p.k_strides.batch + kv_head * p.k_strides.head;
  s.v = static_cast<const Element*>(p.v) + batch * p.v_strides.batch + kv_head * p.v_strides.head;
  s.o = static_cast<Element*>(p.o) + batch * p.o_strides.batch + head * p.o_strides.head;
  return s;
}

}  // namespace dev
}  // namespace flashjit
