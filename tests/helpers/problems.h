// Problems for the generator's and tuner's tests, which judge features and layouts without data.
#pragma once

#include <cstdint>
#include <functional>

#include <gtest/gtest.h>

#include "problem/problem.h"
#include "problem/validate.h"

namespace flashjit::testing {

// Contiguous tensors with these features (one head, one row: only the features matter).
inline Problem problem_with(const ProblemFeatures& features) {
  auto p = Problem::of_features(features);
  if (!p) ADD_FAILURE() << llvm::toString(p.takeError());
  return std::move(*p);
}

inline Problem problem_with(DType dtype = DType::f16, int head_dim = 128, MaskKind mask = MaskKind::none) {
  return problem_with(ProblemFeatures{dtype, head_dim, mask});
}

// A validated call of these features (batch 1, 2 heads, 4 rows at 16-byte aligned fake addresses,
// never dereferenced) after `edit` changed its layout: for problems TMA cannot address.
inline Problem problem_of_call(const ProblemFeatures& f, const std::function<void(AttentionArgs&)>& edit) {
  AttentionArgs a;
  a.batch = 1;
  a.num_heads = a.num_kv_heads = 2;
  a.seqlen_q = a.seqlen_k = 4;
  set_features(f, a);
  a.q.data = reinterpret_cast<const void*>(0x100000);
  a.k.data = reinterpret_cast<const void*>(0x200000);
  a.v.data = reinterpret_cast<const void*>(0x300000);
  a.out.data = reinterpret_cast<void*>(0x400000);
  Result<AttentionArgs> contiguous = validate_args(a);
  if (!contiguous.ok()) ADD_FAILURE() << contiguous.status().to_string();
  AttentionArgs edited = *contiguous;
  edit(edited);
  Result<AttentionArgs> normalized = validate_args(edited);
  if (!normalized.ok()) ADD_FAILURE() << normalized.status().to_string();
  return Problem::of_call(*normalized);
}

// q rows `seq_stride` elements apart: "q: the seq stride of 100 elements (200 bytes) is not a
// positive multiple of 16 bytes" for 100 f16 elements.
inline Problem problem_with_q_seq_stride(const ProblemFeatures& f, int64_t seq_stride) {
  return problem_of_call(f, [&](AttentionArgs& a) {
    a.q.strides.seq = seq_stride;
    a.q.strides.batch = seq_stride * a.seqlen_q;
  });
}

}  // namespace flashjit::testing
