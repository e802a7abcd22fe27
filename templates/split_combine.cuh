// The combine step of split-KV decode (flash-decoding, issue 15): `splits` thread blocks each
// attended to one range of a sequence's keys for the same query rows and left, in the workspace, the
// range's normalized output (fp32) and the natural-log log-sum-exp of its scaled scores. This merges
// them into the call's output and lse, exactly up to fp32 rounding:
//   lse = log sum_s exp(lse_s),   out = sum_s exp(lse_s - lse) * out_s.
// A split that saw no key (lse_s = -inf) weighs nothing and its output is never read (it may be
// anything, NaN included); a row whose splits all saw none is zeros with lse -inf, as a row that sees
// no key is everywhere else; a NaN among a row's lse_s makes the row and its lse NaN.
//
// Rows are numbered as the call's lse is laid out: (b * num_heads + h) * seqlen_q + i for dense
// queries, h * total_q + token for a ragged batch (total_q = cu_seqlens_q[batch], read here: the host
// sizes the workspace and the grid by num_heads * batch * seqlen_q rows, a bound, and rows past the
// real ones do nothing). One warp combines one row: its lanes read the splits' lse, then own
// head-dim columns lane, lane + 32, ...
//
// Traits: Element, kHeadDim, kWarps, kRagged.
#pragma once

#include "attention_params.cuh"
#include "numeric.cuh"
#include "split_partials.cuh"

namespace flashjit {

namespace dev {

template <class Traits>
__device__ __forceinline__ void combine_row(const AttentionParams& p, const SplitPartials& parts, long long row,
                                            int lane) {
  using Element = typename Traits::Element;
  constexpr int D = Traits::kHeadDim;
  constexpr int kDimsPerLane = (D + 31) / 32;
  constexpr float kLog2e = 1.4426950408889634f;
  constexpr float kLn2 = 0.6931471805599453f;

  // Where the row goes; a ragged batch's rows past its real ones do nothing.
  long long o_offset;
  if constexpr (Traits::kRagged) {
    const long long total_q = parts.cu_seqlens_q[p.batch];
    if (row >= total_q * p.num_heads) return;
    o_offset = (row % total_q) * p.o_strides.seq + (row / total_q) * p.o_strides.head;
  } else {
    const long long i = row % p.seqlen_q;
    const long long bh = row / p.seqlen_q;
    o_offset = (bh / p.num_heads) * p.o_strides.batch + i * p.o_strides.seq + (bh % p.num_heads) * p.o_strides.head;
  }

  // The largest lse (fmaxf passes over NaN), and whether any is NaN (then the warp's flag is 1).
  float max_lse = negative_infinity();
  float nan_seen = 0.0f;
  for (int s = lane; s < parts.splits; s += 32) {
    const float l = parts.lse[s * parts.rows + row];
    if (l != l) nan_seen = 1.0f;
    max_lse = fmaxf(max_lse, l);
  }
  max_lse = warp_max(max_lse);
  const bool nan = warp_max(nan_seen) > 0.0f;

  float weight_sum = 0.0f;
  for (int s = lane; s < parts.splits; s += 32) {
    const float l = parts.lse[s * parts.rows + row];
    if (l != negative_infinity()) weight_sum += fast_exp2((l - max_lse) * kLog2e);
  }
  weight_sum = warp_sum(weight_sum);

  float acc[kDimsPerLane];
#pragma unroll
  for (int j = 0; j < kDimsPerLane; ++j) acc[j] = 0.0f;
  const bool empty = max_lse == negative_infinity();
  if (!nan && !empty) {
    const float inv_sum = 1.0f / weight_sum;
    for (int s = 0; s < parts.splits; ++s) {
      const float l = parts.lse[s * parts.rows + row];
      if (l == negative_infinity()) continue;  // saw no key: its output is not read
      const float w = fast_exp2((l - max_lse) * kLog2e) * inv_sum;
      const float* o_s = parts.out + (s * parts.rows + row) * D;
#pragma unroll
      for (int j = 0; j < kDimsPerLane; ++j) {
        const int d = lane + 32 * j;
        if (d < D) acc[j] += w * o_s[d];
      }
    }
  }
  const float nan_value = __int_as_float(0x7fc00000);
  Element* o = static_cast<Element*>(p.o) + o_offset;
#pragma unroll
  for (int j = 0; j < kDimsPerLane; ++j) {
    const int d = lane + 32 * j;
    if (d < D) o[d] = from_float<Element>(nan ? nan_value : acc[j]);
  }
  if (p.lse != nullptr && lane == 0)
    p.lse[row] = nan ? nan_value : empty ? negative_infinity() : max_lse + log2f(weight_sum) * kLn2;
}

// One warp per row, kWarps rows per block; the grid covers parts.rows. A generated KV-cache kernel's
// module holds it as the extern "C" entry flashjit_split_combine (generator/emit.cpp).
template <class Traits>
__device__ __forceinline__ void combine_rows(const AttentionParams& p, const SplitPartials& parts) {
  const long long row = static_cast<long long>(blockIdx.x) * Traits::kWarps + threadIdx.x / 32;
  if (row >= parts.rows) return;
  combine_row<Traits>(p, parts, row, threadIdx.x % 32);
}

template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32) split_combine(const AttentionParams p,
                                                                      const SplitPartials parts) {
  combine_rows<Traits>(p, parts);
}

}  // namespace dev
}  // namespace flashjit
