// mma_sm80: the tensor-core forward for Ampere and newer (the fallback on Hopper and Blackwell):
// mma.sync.m16n8k16 in f16 or bf16 with fp32 accumulation, K/V tiles streamed by cp.async through
// a kStages-deep ring (see mma_forward.cuh for the algorithm).
#pragma once

#include "mma_forward.cuh"

namespace flashjit {
namespace dev {

struct Sm80Ops {
  static constexpr bool kAsyncCopy = true;
  template <class Element>
  static __device__ __forceinline__ void mma(float (&acc)[4], const unsigned (&a)[4], unsigned b0, unsigned b1,
                                             Element tag) {
    mma_m16n8k16(acc, a, b0, b1, tag);
  }
};

template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1) mma_sm80_forward(const AttentionParams p) {
  mma_forward<Traits, Sm80Ops>(p);
}

// A kernel specialized on a ragged batch or a score modifier (templates/score_modifiers.cuh).
template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1)
    mma_sm80_forward_modified(const AttentionParams p, const ScoreModParams mods) {
  mma_forward<Traits, Sm80Ops>(p, mods);
}

// A kernel reading its keys from a KV cache (templates/mma_kv_cache.cuh), with any of the above.
template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1)
    mma_sm80_forward_kvcache(const AttentionParams p, const ScoreModParams mods, const KvCacheParams kv) {
  mma_forward<Traits, Sm80Ops, M16n8Fragments<Traits, Sm80Ops>>(p, mods, kv);
}

}  // namespace dev
}  // namespace flashjit
