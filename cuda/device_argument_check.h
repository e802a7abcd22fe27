// The opt-in deep check of forward()'s arguments (RuntimeOptions::check_args, FLASHJIT_CHECK_ARGS=1):
// what validate_args cannot see without reading device memory or asking the driver. A ragged batch's
// offsets are copied to the host and checked entry by entry (problem/validate.h,
// check_ragged_offsets), as are a KV cache's seqused_k and block table (problem/kv_cache_args.h,
// check_kv_cache_contents: a count beyond the pages a row holds, a table entry that is no page, by
// sequence and index), and every tensor, the offsets, the slopes, the counts and the table must lie
// inside the allocation their pointer belongs to, so an offset past the tensor is refused instead of read.
#pragma once

#include <cuda.h>

#include "flashjit/status.h"
#include "flashjit/types.h"

namespace flashjit::cuda {

// `normalized`: what validate_args returned. Synchronizes `stream` first when the batch is ragged or
// reads a KV cache (the offsets, counts and table may be written by work queued before); refuses nothing it cannot read, and runs no check
// that would break a stream capturing a graph (the offsets are then not copied).
Status check_device_arguments(const AttentionArgs& normalized, CUstream stream);

}  // namespace flashjit::cuda
