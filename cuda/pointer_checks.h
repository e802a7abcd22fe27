// What forward() checks about the caller's pointers and stream before anything is built or
// launched, with the driver's help: every tensor is device memory this GPU can read, and whether the
// stream is capturing a CUDA graph.
#pragma once

#include <cuda.h>

#include "flashjit/status.h"
#include "flashjit/types.h"

namespace flashjit::cuda {

// An invalid_argument error naming the first tensor (q, k, v, out, lse, and a ragged batch's offsets
// or the ALiBi slopes) that is plain host memory
// or device memory of a GPU other than `device_index`; managed and mapped host memory pass.
Status check_device_pointers(const AttentionArgs& args, int device_index);

// Whether work queued on `stream` now would be captured into a graph rather than run: the stream
// captures, or (with the legacy default stream) another stream captures in a mode that forbids
// implicit synchronization with it.
bool stream_is_capturing(CUstream stream);

}  // namespace flashjit::cuda
