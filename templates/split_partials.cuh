// Where split-KV's blocks leave their results for the combine step (templates/split_combine.cuh):
// the combine kernel's second parameter block, shared verbatim by the host and the templates.
#pragma once

namespace flashjit {

struct SplitPartials {
  const float* out;            // [splits][rows][head_dim]
  const float* lse;            // [splits][rows]
  const int* cu_seqlens_q;     // a ragged batch's offsets, else null
  long long rows;              // rows per split (a bound for a ragged batch)
  int splits;
};

}  // namespace flashjit
