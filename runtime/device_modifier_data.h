// A problem's ragged-batch offsets, ALiBi slopes and KV cache's counts and block table copied to the GPU, for the runs FlashJIT makes
// itself on a device: the tuner's timing and correctness runs, `flashjit run` and `flashjit bench`.
#pragma once

#include <llvm/Support/Error.h>

#include "cuda/device.h"
#include "problem/modifier_data.h"

namespace flashjit {

struct DeviceModifierData {
  // Unallocated (a null pointer) where the problem has none.
  cuda::DeviceBuffer cu_seqlens_q, cu_seqlens_k, alibi_slopes, seqused_k, block_table;
  int64_t total_q = 0, total_k = 0;  // the offsets' last entries (the packed tensors' token counts)

  // The device pointers, as Problem::contiguous_args takes them.
  ModifierPointers pointers() const;
};

// Copies `host`'s non-empty vectors into buffers of the current context.
llvm::Expected<DeviceModifierData> upload_modifier_data(const ModifierData& host);

}  // namespace flashjit
