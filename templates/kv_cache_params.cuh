// The third parameter block of kernels that read their keys from a KV cache (issue 15): each
// sequence's cached key count, a paged cache's block table, and the keys appended first. Shared
// verbatim by the host and the templates, like attention_params.cuh; a kernel without a cache takes
// none, so its PTX is what it was.
#pragma once

#include "attention_params.cuh"

namespace flashjit {

struct KvCacheParams {
  const int* seqused_k;          // [batch]: keys already in the cache
  const int* block_table;        // [batch][block_table_stride] page ids; null for a dense cache
  long long block_table_stride;
  int page_shift;                // log2 of the page size (a power of two); 0 for a dense cache
  // Appended keys and values, [batch, seqlen_new, kv heads, head_dim] by their strides; null when
  // nothing is appended. The k and v of AttentionParams are the cache they are written into.
  const void* k_new;
  const void* v_new;
  TensorStrides k_new_strides;
  TensorStrides v_new_strides;
  int seqlen_new;
  // Split-KV (flash-decoding): each query block's keys are divided among num_splits thread blocks
  // (blockIdx.x = query block * num_splits + split), which write their rows' normalized fp32 output
  // and natural-log lse to the partials for split_combine (templates/split_combine.cuh) to merge,
  // rows numbered as the call's lse; with 1 split a block writes the output itself and the partials
  // are not read.
  int num_splits;
  float* partial_out;  // [num_splits][partial_rows][head_dim]
  float* partial_lse;  // [num_splits][partial_rows]
  long long partial_rows;
};

}  // namespace flashjit
