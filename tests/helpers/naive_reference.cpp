#include "helpers/naive_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "flashjit/numeric.h"

namespace flashjit::test {

ReferenceOutput naive_attention(const AttentionArgs& a) {
  ReferenceOutput r;
  const int D = a.head_dim;
  r.out.assign(static_cast<size_t>(a.batch) * a.seqlen_q * a.num_heads * D, 0.0);
  r.lse.assign(static_cast<size_t>(a.batch) * a.num_heads * a.seqlen_q, 0.0);
  const int group = a.num_heads / a.num_kv_heads;
  // Queries and keys packed independently: a KV cache's tests pass packed keys with dense queries.
  const bool ragged_q = a.cu_seqlens_q != nullptr;
  const bool ragged_k = a.cu_seqlens_k != nullptr;
  std::vector<double> scores;

  // Element (token s of batch entry b, head h, d); a ragged tensor's tokens are packed (batch stride 0).
  auto at = [&](const InputTensor& t, int b, int64_t s, int h, int d) {
    return static_cast<double>(
        load_as_float(t.data, t.dtype, b * t.strides.batch + s * t.strides.seq + h * t.strides.head + d));
  };

  for (int b = 0; b < a.batch; ++b) {
    const int64_t sq = ragged_q ? a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b] : a.seqlen_q;
    const int64_t sk = ragged_k ? a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b] : a.seqlen_k;
    const int64_t q0 = ragged_q ? a.cu_seqlens_q[b] : 0;
    const int64_t k0 = ragged_k ? a.cu_seqlens_k[b] : 0;
    scores.assign(static_cast<size_t>(sk), 0.0);
    for (int h = 0; h < a.num_heads; ++h) {
      const int kvh = h / group;
      const double slope = a.alibi_slopes ? a.alibi_slopes[b * a.alibi_batch_stride + h] : 0.0;
      for (int64_t i = 0; i < sq; ++i) {
        double max_score = -std::numeric_limits<double>::infinity();
        bool nan_score = false;
        // Bottom-right alignment: the diagonal of row i is key i + sk - sq.
        const int64_t diagonal = i + sk - sq;
        const int64_t window_right = a.mask == MaskKind::causal ? 0 : a.window_right;
        for (int64_t j = 0; j < sk; ++j) {
          const bool visible = (a.window_left < 0 || j >= diagonal - a.window_left) &&
                               (window_right < 0 || j <= diagonal + window_right);
          if (!visible) {
            scores[j] = -std::numeric_limits<double>::infinity();
            continue;
          }
          double dot = 0.0;
          for (int d = 0; d < D; ++d) dot += at(a.q, b, q0 + i, h, d) * at(a.k, b, k0 + j, kvh, d);
          double score = dot * a.softmax_scale;
          if (a.softcap > 0.0f) score = a.softcap * std::tanh(score / a.softcap);
          score -= slope * std::abs(static_cast<double>(diagonal - j));
          scores[j] = score;
          nan_score |= std::isnan(scores[j]);
          max_score = std::max(max_score, scores[j]);
        }
        const size_t lse_index = (static_cast<size_t>(b) * a.num_heads + h) * a.seqlen_q + i;
        double* out = &r.out[((static_cast<size_t>(b) * a.seqlen_q + i) * a.num_heads + h) * D];
        if (nan_score) {
          // A NaN among the visible scores makes the softmax, the output row and the lse NaN.
          std::fill(out, out + D, std::numeric_limits<double>::quiet_NaN());
          r.lse[lse_index] = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        if (max_score == -std::numeric_limits<double>::infinity()) {
          r.lse[lse_index] = -std::numeric_limits<double>::infinity();  // no visible key
          continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < sk; ++j) {
          scores[j] = std::exp(scores[j] - max_score);
          sum += scores[j];
        }
        for (int64_t j = 0; j < sk; ++j) {
          if (scores[j] == 0.0) continue;
          const double weight = scores[j] / sum;
          for (int d = 0; d < D; ++d) out[d] += weight * at(a.v, b, k0 + j, kvh, d);
        }
        r.lse[lse_index] = max_score + std::log(sum);
      }
    }
  }
  return r;
}

}  // namespace flashjit::test
