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
  std::vector<double> scores(a.seqlen_k);

  auto at = [&](const InputTensor& t, int b, int s, int h, int d) {
    return static_cast<double>(
        load_as_float(t.data, t.dtype, b * t.strides.batch + s * t.strides.seq + h * t.strides.head + d));
  };

  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.num_heads; ++h) {
      const int kvh = h / group;
      for (int i = 0; i < a.seqlen_q; ++i) {
        double max_score = -std::numeric_limits<double>::infinity();
        bool nan_score = false;
        for (int j = 0; j < a.seqlen_k; ++j) {
          const bool visible = a.mask != MaskKind::causal || j <= i + (int64_t{a.seqlen_k} - a.seqlen_q);
          if (!visible) {
            scores[j] = -std::numeric_limits<double>::infinity();
            continue;
          }
          double dot = 0.0;
          for (int d = 0; d < D; ++d) dot += at(a.q, b, i, h, d) * at(a.k, b, j, kvh, d);
          scores[j] = dot * a.softmax_scale;
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
        for (int j = 0; j < a.seqlen_k; ++j) {
          scores[j] = std::exp(scores[j] - max_score);
          sum += scores[j];
        }
        for (int j = 0; j < a.seqlen_k; ++j) {
          if (scores[j] == 0.0) continue;
          const double weight = scores[j] / sum;
          for (int d = 0; d < D; ++d) out[d] += weight * at(a.v, b, j, kvh, d);
        }
        r.lse[lse_index] = max_score + std::log(sum);
      }
    }
  }
  return r;
}

}  // namespace flashjit::test
