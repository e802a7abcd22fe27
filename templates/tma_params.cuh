// The wgmma_sm90 kernel's parameter block: the attention parameters plus one TMA tensor map per
// input. Shared verbatim by the host (runtime) and the kernel template, like attention_params.cuh.
#pragma once

#include "attention_params.cuh"

namespace flashjit {

// The 128 opaque bytes of a CUtensorMap (cuTensorMapEncodeTiled fills them on the host). TMA reads
// them from the kernel's __grid_constant__ parameter block, which keeps them 64-byte aligned.
struct alignas(64) TensorMapBits {
  unsigned long long opaque[16];
};

// A rank-4 tensor map of one of Q, K, V. Dimension 0 is the head dimension; the host orders the
// other three (sequence, head, batch) by increasing stride, as TMA wants, and records where each went
// so the kernel can place its coordinates.
struct TmaTensor {
  TensorMapBits map;
  int seq_slot;    // 1..3: the tensor-map dimension of the sequence position
  int head_slot;   // 1..3: of the (query or key/value) head
  int batch_slot;  // 1..3: of the batch entry
};

struct WgmmaParams {
  TmaTensor q;
  TmaTensor k;
  TmaTensor v;
  AttentionParams attention;
};

}  // namespace flashjit
