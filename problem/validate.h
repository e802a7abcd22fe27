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

// A ragged batch's tensors are packed: their extent is the token counts total_q and total_k when
// the call gives them (checked here like a dense call's), else it depends on the offsets (device
// memory on the CUDA backend), and only check_ragged_offsets, given the offsets on the host, checks
// it.
Result<AttentionArgs> validate_args(const AttentionArgs& args);

// Whether a ragged call gives its packed tensors' token counts (total_q and total_k both 0: not given).
inline bool has_token_counts(const AttentionArgs& args) { return args.total_q != 0 || args.total_k != 0; }

// For a ragged call validate_args accepted: the offsets `q_offsets` and `k_offsets` (batch + 1 each,
// host copies of cu_seqlens_q/k) start at 0 or later, never decrease and give no sequence longer
// than seqlen_q/seqlen_k (the maxima), and end within total_q/total_k when given; then the packed
// tensors' extent and overlap are checked as validate_args checks dense ones. An error names the first bad entry: "cu_seqlens_q[3] = 10 is
// smaller than cu_seqlens_q[2] = 12: offsets must not decrease".
Status check_ragged_offsets(const AttentionArgs& normalized, const int32_t* q_offsets, const int32_t* k_offsets);


// The checks of validate_args that need no data: sizes, head dim, GQA ratio, grid limits and the
// mask (not the dtype, which validate_args checks per tensor). Problems built without a call (a
// manifest entry, CLI options) pass the same checks with the same messages.
Status validate_sizes(const ProblemFeatures& features, const ProblemShape& shape);

// Contiguous [batch, seqlen, heads, head_dim] strides.
Strides contiguous_strides(int seqlen, int heads, int head_dim);

}  // namespace flashjit
