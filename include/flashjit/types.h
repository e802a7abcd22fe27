// The vocabulary of the public API: data types, masks, variants, tensors and attention arguments.
#pragma once

#include <cstdint>

#include "flashjit/export.h"

namespace flashjit {

enum class DType { f32, f16, bf16 };
enum class MaskKind { none, causal };

// Kernel families FlashJIT can generate. The selector picks one per device and problem;
// RuntimeOptions can force one for testing and debugging. (New ones are appended: the numbers are
// part of the ABI.)
enum class Variant { generic, mma_sm75, mma_sm80, wgmma_sm90, mma_sm70 };

// Strides in elements (not bytes). The innermost (head_dim) dimension is always contiguous.
// All three zero means "contiguous [batch, seqlen, heads, head_dim]", the FlashAttention layout.
struct Strides {
  int64_t batch = 0;
  int64_t seq = 0;
  int64_t head = 0;
  bool is_default() const { return batch == 0 && seq == 0 && head == 0; }
};

struct InputTensor {
  const void* data = nullptr;
  DType dtype = DType::f16;
  Strides strides{};
};

struct OutputTensor {
  void* data = nullptr;
  DType dtype = DType::f16;
  Strides strides{};
};

// One attention forward: out = softmax(scale * q k^T + mask) v, per batch and query head.
// q and out: [batch, seqlen_q, num_heads, head_dim]; k and v: [batch, seqlen_k, num_kv_heads,
// head_dim] (in the index order of the strides). num_heads must be a multiple of num_kv_heads
// (GQA/MQA: query head h reads kv head h / (num_heads / num_kv_heads)).
// The causal mask is aligned bottom-right as in FlashAttention 2.1+: query i sees key j when
// j <= i + seqlen_k - seqlen_q. A query row that sees no key gets zeros and lse = -inf; a NaN
// among a row's visible scores (a NaN in q or k) makes its output and lse NaN.
struct AttentionArgs {
  InputTensor q, k, v;
  OutputTensor out;
  // Optional natural-log log-sum-exp of the scaled scores, fp32 [batch, num_heads, seqlen_q].
  float* lse = nullptr;

  int batch = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int seqlen_q = 0;
  int seqlen_k = 0;
  int head_dim = 0;
  MaskKind mask = MaskKind::none;
  // 0 means the usual 1/sqrt(head_dim).
  float softmax_scale = 0.0f;
};

FLASHJIT_API const char* dtype_name(DType dtype);       // "f32", "f16", "bf16"
FLASHJIT_API const char* mask_name(MaskKind mask);      // "none", "causal"
FLASHJIT_API const char* variant_name(Variant variant); // "generic", "mma_sm75", ...
FLASHJIT_API int dtype_size(DType dtype);

}  // namespace flashjit
