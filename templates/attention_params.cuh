// The kernel parameter block, shared verbatim by the host (runtime) and every kernel template.
// Plain C++ with fixed-size fields so the host and nvptx64 layouts agree (the host checks sizeof).
#pragma once

namespace flashjit {

struct TensorStrides {
  long long batch;  // elements between consecutive batch entries
  long long seq;    // elements between consecutive sequence positions
  long long head;   // elements between consecutive heads; head_dim is contiguous
};

struct AttentionParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  float* lse;  // [batch, num_heads, seqlen_q] fp32, or null

  TensorStrides q_strides;
  TensorStrides k_strides;
  TensorStrides v_strides;
  TensorStrides o_strides;

  int batch;
  int num_heads;
  int num_kv_heads;
  int seqlen_q;
  int seqlen_k;
  int head_dim;

  float softmax_scale;
  float scale_log2;  // softmax_scale * log2(e): scores go through exp2
};

}  // namespace flashjit
