// A unit of prefill work: the consecutive query blocks of one (sequence, head) that share each K/V
// block loaded, and their walk over the keys.
#pragma once

#include "flashjit/types.h"
#include "runtime/cpu/block_kernels.h"
#include "runtime/cpu/block_state.h"
#include "runtime/cpu/call_view.h"

namespace flashjit::cpu {

// The query blocks of one (sequence, head) that share each K/V block loaded: consecutive blocks,
// rows [blocks[0].q_begin, blocks[count - 1].q_begin + blocks[count - 1].q_rows).
struct Unit {
  QueryBlock blocks[kMaxBlocksPerUnit];
  int count = 0;
};

// The keys some block of the unit sees (the blocks' ranges are ordered, so their hull is the union
// but for gaps no block of a causal or windowed problem leaves).
KeyRange keys_seen(const AttentionArgs& a, const Unit& unit);

// Runs the online softmax of the unit's rows over `keys`, leaving the unnormalized output, max and
// sum of each row in the scratch's block states. A key block outside a query block's own keys is
// skipped for it (the diagonal of a causal problem, a window's edges).
void attend(const AttentionArgs& a, const Unit& unit, KeyRange keys, const BlockKernels& kernels, BlockScratch& s);

}  // namespace flashjit::cpu
