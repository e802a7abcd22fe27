// The vocabulary of the public API: data types, masks, variants, tensors and attention arguments.
#pragma once

#include <cstddef>
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

// One attention forward: out = softmax(scale * q k^T + mask) v, per batch and query head (with the
// optional ragged batches and score modifiers below).
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

  // Ragged batches (FlashAttention-2's varlen), both or neither: int32 prefix offsets [batch + 1]
  // of each sequence's first token in packed q/out [total_q, num_heads, head_dim] and k/v
  // [total_k, num_kv_heads, head_dim] (device memory on the CUDA backend, host memory on the CPU
  // backend; the batch strides must be 0, the seq stride steps one token). seqlen_q and seqlen_k are
  // then the longest sequence's lengths (max_seqlen_q/k). Each sequence is its own problem: the
  // causal alignment, windows and ALiBi distances use its own lengths; a sequence of length 0
  // produces nothing. lse is then [num_heads, total_q].
  const int32_t* cu_seqlens_q = nullptr;
  const int32_t* cu_seqlens_k = nullptr;
  // Optional with a ragged batch (both 0: not given): the token counts of packed q/out
  // and k/v, total_q and total_k (at least cu_seqlens_q[batch] and cu_seqlens_k[batch]; the tensors'
  // first dimension). Given, they bound the packed tensors, so validate_args checks their extent and
  // overlap without reading the offsets, and the Hopper kernel can serve the batch (TMA sizes its
  // tensor maps by them); without them a ragged batch runs on another variant.
  int64_t total_q = 0;
  int64_t total_k = 0;

  // Score modifiers, with FlashAttention-2's semantics. With sq, sk one sequence's lengths:
  // Sliding window (-1 = unbounded): query i sees key j when
  //   i + sk - sq - window_left <= j <= i + sk - sq + window_right.
  // MaskKind::causal is window_right = 0 (and composes with window_left).
  int window_left = -1;
  int window_right = -1;
  // Logit softcap (0 = off): a score becomes softcap * tanh(score * softmax_scale / softcap).
  float softcap = 0.0f;
  // ALiBi (null = off): fp32 slopes, one per query head, for batch entry b at
  // alibi_slopes + b * alibi_batch_stride (0: the same slopes for every batch entry); adds
  // -slope * |i + sk - sq - j| to the scaled (and capped) score.
  const float* alibi_slopes = nullptr;
  int64_t alibi_batch_stride = 0;

  // A KV cache (FlashAttention-2's flash_attn_with_kvcache; decode and chunked prefill), issue 15.
  // seqused_k (int32 [batch], device memory on the CUDA backend, host memory on the CPU backend):
  // sequence b's keys already in the cache, which may differ per sequence and may be 0; the causal
  // mask, windows and ALiBi align bottom-right against each sequence's keys. seqlen_k then bounds
  // every sequence's keys (after an append), and a dense cache (k and v as above) has seqlen_k rows
  // per batch entry. Queries may be dense or ragged (cu_seqlens_q; cu_seqlens_k stays null).
  const int32_t* seqused_k = nullptr;
  // Paged (vLLM's block tables), with seqused_k: k and v are the caches [num_pages, page_size,
  // num_kv_heads, head_dim], their strides' `batch` stepping pages, `seq` rows within a page and
  // `head` heads (default: contiguous pages). Key j of sequence b is row j % page_size of page
  // block_table[b * block_table_stride + j / page_size] (int32, same memory as seqused_k); pages may
  // be shared between sequences and appear in any order. page_size is a power of two; seqlen_k is
  // at most max_pages_per_sequence * page_size.
  const int32_t* block_table = nullptr;
  int max_pages_per_sequence = 0;
  int64_t block_table_stride = 0;  // entries between the rows of sequences; 0: max_pages_per_sequence
  int page_size = 0;
  int num_pages = 0;  // pages k and v hold
  // Appending (with seqused_k): k_new and v_new [batch, seqlen_new, num_kv_heads, head_dim] (in the
  // order of their strides; default contiguous) are written into the cache at positions
  // seqused_k[b] .. seqused_k[b] + seqlen_new - 1 (through the block table) before attention, which
  // then sees seqused_k[b] + seqlen_new keys. seqused_k itself is not changed (the caller advances
  // it), and k and v must be writable memory.
  InputTensor k_new, v_new;
  int seqlen_new = 0;

  // Split-KV's scratch (flash-decoding): when a KV-cache call's sequences are too few to fill the
  // GPU, several blocks share each sequence's keys and leave partial results here for a combine
  // step. Device memory of at least Runtime::workspace_size(args) bytes (0 when the call needs
  // none), 16-byte aligned, which the call overwrites; workspace_bytes is its size. Null: the
  // runtime uses a buffer of its own per stream, grown when needed; a call that needs one while
  // its stream captures a CUDA graph is then refused, as growing would break the capture.
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
};

FLASHJIT_API const char* dtype_name(DType dtype);       // "f32", "f16", "bf16"
FLASHJIT_API const char* mask_name(MaskKind mask);      // "none", "causal"
FLASHJIT_API const char* variant_name(Variant variant); // "generic", "mma_sm75", ...
FLASHJIT_API int dtype_size(DType dtype);

}  // namespace flashjit
