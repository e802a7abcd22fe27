// The second parameter block of kernels specialized on a ragged batch or a score modifier (sliding
// window, softcap, ALiBi): shared verbatim by the host and the templates, like attention_params.cuh.
// Kernels without any of these take AttentionParams (or WgmmaParams) alone, so their PTX is the
// same as before the features existed.
#pragma once

namespace flashjit {

struct ScoreModParams {
  const int* cu_seqlens_q;        // ragged batches: [batch + 1] token offsets, else null
  const int* cu_seqlens_k;
  const float* alibi_slopes;      // per query head, batch entry b at b * alibi_batch_stride
  long long alibi_batch_stride;
  int window_left;                // -1: unbounded
  int window_right;               // -1: unbounded (a causal kernel reads 0)
  float softcap;                  // > 0 in a softcap kernel: scores become softcap * tanh(s * scale / softcap)
  float softcap_scale;            // softmax_scale / softcap
};

}  // namespace flashjit
