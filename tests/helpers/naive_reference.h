// The naive reference: attention computed in double precision straight from the definition, with
// the full score matrix. Slow and obviously right; the CPU backend and the kernels are checked
// against it.
#pragma once

#include <vector>

#include "flashjit/types.h"

namespace flashjit::test {

struct ReferenceOutput {
  // [batch, seqlen_q, num_heads, head_dim] and [batch, num_heads, seqlen_q]
  std::vector<double> out;
  std::vector<double> lse;
};

// `args` must be normalized (strides and scale filled in) and point at host memory. A row that sees
// no key is zeros with lse -inf; a row with a NaN among its visible scores is NaN, lse included.
ReferenceOutput naive_attention(const AttentionArgs& args);

}  // namespace flashjit::test
