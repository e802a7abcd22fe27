// Argument validation, done before anything is compiled or launched. Each problem has its own
// message; the returned copy has default strides and the softmax scale filled in, so the backends
// never see a "default" value.
#pragma once

#include "flashjit/status.h"
#include "flashjit/types.h"
#include "problem/problem_features.h"
#include "problem/problem_shape.h"

namespace flashjit {

// Largest grid y/z dimension: heads go in y and batch in z.
inline constexpr int kMaxGridYZ = 65535;

Result<AttentionArgs> validate_args(const AttentionArgs& args);

// The checks of validate_args that need no data: sizes, head dim, GQA ratio, grid limits and the
// mask (not the dtype, which validate_args checks per tensor). Problems built without a call (a
// manifest entry, CLI options) pass the same checks with the same messages.
Status validate_sizes(const ProblemFeatures& features, const ProblemShape& shape);

// Contiguous [batch, seqlen, heads, head_dim] strides.
Strides contiguous_strides(int seqlen, int heads, int head_dim);

}  // namespace flashjit
