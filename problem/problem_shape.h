// The sizes of one attention call, without its data: what a manifest entry, the CLI's options and
// the tuner's timing runs describe, and what a Problem keeps of a call besides its features.
#pragma once

#include "flashjit/types.h"

namespace flashjit {

struct ProblemShape {
  int batch = 1;
  int num_heads = 1;
  int num_kv_heads = 1;
  int seqlen_q = 1;
  int seqlen_k = 1;
};

inline ProblemShape shape_of(const AttentionArgs& args) {
  return {args.batch, args.num_heads, args.num_kv_heads, args.seqlen_q, args.seqlen_k};
}

}  // namespace flashjit
