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
  // A KV cache's (issue 15): the keys of a page (0: the cache is dense, or there is none) and the
  // keys each sequence appends (0: none). seqlen_k counts the appended keys too.
  int page_size = 0;
  int seqlen_new = 0;
};

// The most blocks split-KV (issue 15) splits one tile's keys over: beyond it the combine step's reads
// outgrow what another split saves. Problem keys and tuned specs are bounded by it.
inline constexpr int kMaxKvSplits = 128;

inline ProblemShape shape_of(const AttentionArgs& args) {
  return {args.batch,    args.num_heads, args.num_kv_heads, args.seqlen_q, args.seqlen_k,
          args.block_table ? args.page_size : 0, args.seqused_k ? args.seqlen_new : 0};
}

}  // namespace flashjit
