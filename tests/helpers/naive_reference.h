// The naive reference: attention computed in double precision straight from the definition, with
// the full score matrix. Slow and obviously right; the CPU backend and the kernels are checked
// against it.
#pragma once

#include <vector>

#include "flashjit/types.h"

namespace flashjit::test {

struct ReferenceOutput {
  // [batch, seqlen_q, num_heads, head_dim] and [batch, num_heads, seqlen_q], whatever the layout of
  // the call: a ragged batch's sequence b fills rows [0, its length) of entry b (seqlen_q being the
  // longest), the rest stay 0.
  std::vector<double> out;
  std::vector<double> lse;
};

// `args` must be normalized (strides and scale filled in) and point at host memory (ragged offsets
// and ALiBi slopes too). Queries and keys may be packed independently (cu_seqlens_q or
// cu_seqlens_k alone; a packed tensor's batch stride is 0). A row that sees no key is zeros with lse -inf; a row with a NaN among its
// visible scores is NaN, lse included. The score modifiers follow include/flashjit/types.h, written
// out here a second time from the definitions (window, softcap, ALiBi), in double precision.
ReferenceOutput naive_attention(const AttentionArgs& args);

}  // namespace flashjit::test
