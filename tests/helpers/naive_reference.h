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

// `args` must be normalized (strides and scale filled in) and point at host memory.
ReferenceOutput naive_attention(const AttentionArgs& args);

}  // namespace flashjit::test
