// GQA packing for decode (issue 15): a call with one query row per sequence reads each KV head's keys
// once per query head that shares it, unless those heads become the rows of one tile. With a single
// query row, head j of KV head g's group is row j of a sequence of `group` rows, at the head stride:
// the same call with num_heads = num_kv_heads and seqlen_q = group (FlashAttention-2 swaps seqlen_q
// and the group the same way in flash_attn_with_kvcache). Every kernel of every variant then reads
// each K/V byte once per group and fills `group` rows of its tile instead of one. The lse layout
// [batch, heads, 1] is [batch, kv_heads, group] already, so nothing moves.
//
// Only where it computes the same function: one dense query row (the causal mask, bottom-right, then
// hides nothing: the mask becomes none), no sliding window and no ALiBi (both depend on the row's
// position or head, which the packed rows no longer carry), a KV cache (the calls this is for).
#pragma once

#include <llvm/Support/Error.h>

#include "flashjit/types.h"
#include "problem/problem.h"

namespace flashjit {

// Whether a validated call is packed.
bool packs_gqa(const AttentionArgs& normalized);

// The packed call, or `normalized` itself where packs_gqa() is false.
AttentionArgs gqa_packed(const AttentionArgs& normalized);

// The same for a problem without data (a manifest's, the tuner's): the packed problem, keyed as the
// packed calls are, or `problem` itself where its calls are not packed.
llvm::Expected<Problem> gqa_packed(const Problem& problem);

// The packing itself, whatever the call (tests apply it to calls packs_gqa() does not judge, such
// as a reference's view of the keys).
AttentionArgs pack_query_heads(const AttentionArgs& normalized);

}  // namespace flashjit
