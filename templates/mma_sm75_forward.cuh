// mma_sm75: the tensor-core forward for Turing (and correct on anything newer): each k16 step is two
// mma.sync.m16n8k8 in f16 with fp32 accumulation, and K/V tiles are copied with ordinary 16-byte
// loads and stores, since Turing has no cp.async; with two slots the ring still needs only one
// __syncthreads per block (see mma_forward.cuh for the algorithm).
#pragma once

#include "mma_forward.cuh"

namespace flashjit {
namespace dev {

struct Sm75Ops {
  static constexpr bool kAsyncCopy = false;
  // The m16n8k16 A fragment is {rows g, g+8} x {k lo, k hi}: registers 0-1 are the k lo half (the
  // m16n8k8 A fragment), 2-3 the k hi half; B's two registers are the two k halves likewise.
  static __device__ __forceinline__ void mma(float (&acc)[4], const unsigned (&a)[4], unsigned b0, unsigned b1,
                                             half_bits) {
    mma_m16n8k8(acc, a[0], a[1], b0);
    mma_m16n8k8(acc, a[2], a[3], b1);
  }
};

template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1) mma_sm75_forward(const AttentionParams p) {
  mma_forward<Traits, Sm75Ops>(p);
}

// A kernel specialized on a ragged batch or a score modifier (templates/score_modifiers.cuh).
template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1)
    mma_sm75_forward_modified(const AttentionParams p, const ScoreModParams mods) {
  mma_forward<Traits, Sm75Ops>(p, mods);
}

// A kernel reading its keys from a KV cache (templates/mma_kv_cache.cuh), with any of the above.
template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1)
    mma_sm75_forward_kvcache(const AttentionParams p, const ScoreModParams mods, const KvCacheParams kv) {
  mma_forward<Traits, Sm75Ops, M16n8Fragments<Traits, Sm75Ops>>(p, mods, kv);
}

}  // namespace dev
}  // namespace flashjit
