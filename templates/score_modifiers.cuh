// Ragged batches and score modifiers, the same for every kernel variant: where one sequence of a
// (possibly ragged) batch lives, which keys a query row sees (causal, sliding window, sequence end)
// and what its logits are (scale, softcap, ALiBi), with FlashAttention-2's semantics.
//
// A kernel specialized on any of them is a variant's `_modified` entry: its shell declares kRagged,
// kWindow, kSoftcap and kAlibi and it takes ScoreModParams. A dense kernel's entry passes
// NoScoreMods, whose ModState is empty, and its shell declares none of those traits. Nothing here is
// a static data member: NVRTC emits every one a kernel references into the PTX, which would change
// a dense kernel's PTX.
#pragma once

#include "attention_params.cuh"
#include "head_slices.cuh"
#include "numeric.cuh"
#include "kv_cache_params.cuh"
#include "score_modifier_params.cuh"

namespace flashjit {
namespace dev {

// The modifiers' parameter block of a dense kernel: never read.
struct NoScoreMods {};

// Whether a kernel's modifiers' block is real (overloads, not a trait's static member; see above).
__device__ constexpr bool has_score_mods(const NoScoreMods*) { return false; }
__device__ constexpr bool has_score_mods(const ScoreModParams*) { return true; }
template <class Mods>
__device__ constexpr bool has_score_mods() {
  return has_score_mods(static_cast<const Mods*>(nullptr));
}

// Whether a kernel reads its keys from a KV cache (templates/kv_cache.cuh): its shell declares
// kKvCache; no other shell declares it, and it reads as false there (a function, not a static
// member, so that no other kernel's PTX changes).
template <class Traits>
__device__ constexpr auto kv_cache_trait(int) -> decltype(Traits::kKvCache) {
  return Traits::kKvCache;
}
template <class Traits>
__device__ constexpr bool kv_cache_trait(long) {
  return false;
}

// Whether a kernel computes a ragged batch (a dense kernel's traits declare no kRagged).
template <class Traits>
__device__ constexpr bool is_ragged_batch(const NoScoreMods*) {
  return false;
}
template <class Traits>
__device__ constexpr bool is_ragged_batch(const ScoreModParams*) {
  return Traits::kRagged;
}
template <class Traits, class Mods>
__device__ constexpr bool is_ragged_batch() {
  return is_ragged_batch<Traits>(static_cast<const Mods*>(nullptr));
}

// 1/x with the hardware approximation (rcp.approx: relative error about 2^-23).
__device__ __forceinline__ float fast_reciprocal(float x) {
  float y;
#if defined(FLASHJIT_HOST_EMULATION)
  y = 1.0f / x;
#else
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
#endif
  return y;
}

// tanh(x) = 1 - 2 / (e^{2x} + 1) from two hardware approximations (ex2, rcp): an absolute error of
// about 1e-7, where tanhf costs a long FMA sequence per score and tanh.approx's 2^-11 relative error
// would move a softcap of 30's logits by about 0.015. Saturates to +-1; NaN stays NaN.
__device__ __forceinline__ float softcap_tanh(float x) {
  constexpr float kTwoLog2e = 2.8853900817779268f;  // 2 log2(e)
  return 1.0f - 2.0f * fast_reciprocal(fast_exp2(x * kTwoLog2e) + 1.0f);
}

// One sequence of the batch, for one (batch entry, head): its lengths, where its first query and key
// rows sit in the (packed) tensors relative to the batch entry's slice, and where its lse row 0 is.
struct SequenceView {
  int seqlen_q;
  int seqlen_k;
  long long q_row0;    // token index of query row 0: 0 when dense, cu_seqlens_q[b] when ragged
  long long k_row0;
  long long lse_row0;  // index into lse of (this head, query row 0)
};

template <class Traits>
__device__ __forceinline__ SequenceView sequence_view(const AttentionParams& p, const ScoreModParams& m, int batch,
                                                      int head) {
  SequenceView s;
  if constexpr (Traits::kRagged && kv_cache_trait<Traits>(0)) {
    // Only the queries are packed: a KV cache counts the keys (cache_mod_state sets seqlen_k).
    const int q0 = m.cu_seqlens_q[batch];
    s.seqlen_q = m.cu_seqlens_q[batch + 1] - q0;
    s.seqlen_k = p.seqlen_k;
    s.q_row0 = q0;
    s.k_row0 = 0;
    s.lse_row0 = static_cast<long long>(head) * m.cu_seqlens_q[p.batch] + q0;
  } else if constexpr (Traits::kRagged) {
    const int q0 = m.cu_seqlens_q[batch];
    const int k0 = m.cu_seqlens_k[batch];
    s.seqlen_q = m.cu_seqlens_q[batch + 1] - q0;
    s.seqlen_k = m.cu_seqlens_k[batch + 1] - k0;
    s.q_row0 = q0;
    s.k_row0 = k0;
    // lse is [num_heads, total_q] in ragged mode.
    s.lse_row0 = static_cast<long long>(head) * m.cu_seqlens_q[p.batch] + q0;
  } else {
    s.seqlen_q = p.seqlen_q;
    s.seqlen_k = p.seqlen_k;
    s.q_row0 = 0;
    s.k_row0 = 0;
    s.lse_row0 = (static_cast<long long>(batch) * p.num_heads + head) * p.seqlen_q;
  }
  return s;
}

// Which keys a query row of one sequence sees, and its logits in the log2 domain (scores go
// through exp2). Rows and keys are the sequence's own indices; offset = seqlen_k - seqlen_q aligns
// the causal diagonal and the window bottom-right.
template <class Traits>
struct ScoreRule {
  int seqlen_k;
  int offset;
  int window_left;   // -1: unbounded
  int window_right;  // -1: unbounded; 0 in a causal kernel
  float scale_log2;
  float softcap_log2;   // softcap * log2(e)
  float softcap_scale;  // softmax_scale / softcap
  float slope_log2;     // the head's ALiBi slope * log2(e)

  // The first key row `row` sees (0 without a left window bound).
  __device__ __forceinline__ int first_key(int row) const {
    if (!Traits::kWindow || window_left < 0) return 0;
    const int first = row + offset - window_left;
    return first > 0 ? first : 0;
  }
  // The last key row `row` sees (inclusive; below first_key when it sees none).
  __device__ __forceinline__ int last_key(int row) const {
    int last = seqlen_k - 1;
    int bound = last;
    if (Traits::kCausal) bound = row + offset;
    else if (Traits::kWindow && window_right >= 0) bound = row + offset + window_right;
    return bound < last ? bound : last;
  }
  __device__ __forceinline__ bool visible(int row, int col) const {
    return col >= first_key(row) && col <= last_key(row);
  }
  // The logit of a raw q·k score, log2 domain: scaled (through the softcap when there is one) plus
  // the ALiBi bias.
  __device__ __forceinline__ float logit(float qk, int row, int col) const {
    float x;
    if constexpr (Traits::kSoftcap) {
      x = softcap_log2 * softcap_tanh(qk * softcap_scale);
    } else {
      x = qk * scale_log2;
    }
    if constexpr (Traits::kAlibi) {
      const int distance = row + offset - col;
      x -= slope_log2 * static_cast<float>(distance < 0 ? -distance : distance);
    }
    return x;
  }
  // Whether any element of the tile [row0, row0 + rows) x [col0, col0 + cols) needs the mask: it
  // crosses the sequence end, the causal diagonal or a window edge.
  __device__ __forceinline__ bool tile_needs_mask(int row0, int rows, int col0, int cols) const {
    const int row_last = row0 + rows - 1;
    return col0 + cols - 1 > last_key(row0) || col0 < first_key(row_last);
  }
  // Keys [key_begin(row0), key_end(row0 + rows - 1)) hold every key a row of the tile sees.
  __device__ __forceinline__ int key_begin(int row0) const { return first_key(row0); }
  __device__ __forceinline__ int key_end(int row_last) const {
    const int last = last_key(row_last);
    return last + 1 > 0 ? last + 1 : 0;
  }
};

template <class Traits>
__device__ __forceinline__ ScoreRule<Traits> score_rule(const AttentionParams& p, const ScoreModParams& m,
                                                        const SequenceView& s, int batch, int head) {
  constexpr float kLog2e = 1.4426950408889634f;
  ScoreRule<Traits> r;
  r.seqlen_k = s.seqlen_k;
  r.offset = s.seqlen_k - s.seqlen_q;
  r.window_left = -1;
  r.window_right = Traits::kCausal ? 0 : -1;
  r.scale_log2 = p.scale_log2;
  r.softcap_log2 = 0.0f;
  r.softcap_scale = 0.0f;
  r.slope_log2 = 0.0f;
  if constexpr (Traits::kWindow) {
    r.window_left = m.window_left;
    if (!Traits::kCausal) r.window_right = m.window_right;
  }
  if constexpr (Traits::kSoftcap) {
    r.softcap_log2 = m.softcap * kLog2e;
    r.softcap_scale = m.softcap_scale;
  }
  if constexpr (Traits::kAlibi) {
    r.slope_log2 = m.alibi_slopes[batch * m.alibi_batch_stride + head] * kLog2e;
  }
  return r;
}

// What a block keeps of its modifiers: the sequence it works on and its score rule; nothing at all
// in a dense kernel.
template <class Traits, class Mods>
struct ModState {};

template <class Traits>
struct ModState<Traits, ScoreModParams> {
  SequenceView sequence;
  ScoreRule<Traits> rule;
};

template <class Traits>
__device__ __forceinline__ ModState<Traits, NoScoreMods> mod_state(const AttentionParams&, const NoScoreMods&, int,
                                                                   int) {
  return {};
}

template <class Traits>
__device__ __forceinline__ ModState<Traits, ScoreModParams> mod_state(const AttentionParams& p,
                                                                      const ScoreModParams& m, int batch, int head) {
  ModState<Traits, ScoreModParams> state;
  state.sequence = sequence_view<Traits>(p, m, batch, head);
  state.rule = score_rule<Traits>(p, m, state.sequence, batch, head);
  return state;
}

// mod_state for a kernel that may read a KV cache (templates/kv_cache.cuh): without one
// (NoKvCache, any other Kv type) the same; with one, the sequence's keys are its cached ones and
// the appended ones (seqused_k[b] + seqlen_new), and its score rule aligns against them.
template <class Traits, class Mods, class Kv>
__device__ __forceinline__ auto cache_mod_state(const AttentionParams& p, const Mods& mods, const Kv&, int batch,
                                                int head) {
  return mod_state<Traits>(p, mods, batch, head);
}

template <class Traits>
__device__ __forceinline__ ModState<Traits, ScoreModParams> cache_mod_state(const AttentionParams& p,
                                                                            const ScoreModParams& mods,
                                                                            const KvCacheParams& kv, int batch,
                                                                            int head) {
  ModState<Traits, ScoreModParams> state = mod_state<Traits>(p, mods, batch, head);
  state.sequence.seqlen_k = kv.seqused_k[batch] + kv.seqlen_new;
  state.rule = score_rule<Traits>(p, mods, state.sequence, batch, head);
  return state;
}

// A ragged sequence's slices: the batch entry's (whose batch stride is 0) moved to its first token.
template <class Element>
__device__ __forceinline__ void move_to_sequence(HeadSlices<Element>& slices, const AttentionParams& p,
                                                 const SequenceView& s) {
  slices.q += s.q_row0 * p.q_strides.seq;
  slices.k += s.k_row0 * p.k_strides.seq;
  slices.v += s.k_row0 * p.v_strides.seq;
  slices.o += s.q_row0 * p.o_strides.seq;
}

// ScoreRule::logit with ALiBi's distance (row + offset - col) given as a float, for a kernel that
// holds a row's keys in registers: it converts the distance to the row's first key once and subtracts
// each key's compile-time column in floats, exact while distances stay below 2^24, instead of an
// integer subtraction, absolute value and conversion per element (beside a window's mask those
// spilled wgmma_sm90's 192-key blocks at d 64). The scale and softcap are logit's: keep them alike.
template <class Traits>
__device__ __forceinline__ float logit_at_distance(const ScoreRule<Traits>& r, float qk, float distance) {
  float x;
  if constexpr (Traits::kSoftcap) {
    x = r.softcap_log2 * softcap_tanh(qk * r.softcap_scale);
  } else {
    x = qk * r.scale_log2;
  }
  if constexpr (Traits::kAlibi) x -= r.slope_log2 * fabsf(distance);
  return x;
}

}  // namespace dev
}  // namespace flashjit
