// Reading keys from a KV cache (issue 15), the same for every kernel variant: where key j of a
// sequence lives (a dense cache's row, a page through the block table, or, for the keys this call
// appends, the new tensors), and the append itself. A kernel specialized on a cache declares
// kKvCache (and kPaged, kAppend) and takes KvCacheParams third; the others take NoKvCache, whose
// branches fold away.
#pragma once

#include "attention_params.cuh"
#include "kv_cache_params.cuh"

namespace flashjit {
namespace dev {

// The cache's parameter block of a kernel without one: never read.
struct NoKvCache {};

__device__ constexpr bool has_kv_cache(const NoKvCache*) { return false; }
__device__ constexpr bool has_kv_cache(const KvCacheParams*) { return true; }
template <class Kv>
__device__ constexpr bool has_kv_cache() {
  return has_kv_cache(static_cast<const Kv*>(nullptr));
}

// Traits a shell without a cache does not declare read as false (so no other shell changes). As
// functions, not static members: NVRTC emits every static data member a kernel names into its PTX.
template <class Traits>
__device__ constexpr auto paged_trait(int) -> decltype(Traits::kPaged) {
  return Traits::kPaged;
}
template <class Traits>
__device__ constexpr bool paged_trait(long) {
  return false;
}
template <class Traits>
__device__ constexpr bool is_paged() {
  return paged_trait<Traits>(0);
}
template <class Traits>
__device__ constexpr auto append_trait(int) -> decltype(Traits::kAppend) {
  return Traits::kAppend;
}
template <class Traits>
__device__ constexpr bool append_trait(long) {
  return false;
}
template <class Traits>
__device__ constexpr bool appends_keys() {
  return append_trait<Traits>(0);
}

// One sequence's keys in the cache, for one KV head.
template <class Element, class Traits>
struct CacheKeys {
  const Element* cache;      // k or v of AttentionParams, at the KV head (and batch entry, when dense)
  const Element* fresh;      // the appended rows of this sequence and KV head, or null
  long long cache_row_stride;  // between a page's (or a dense entry's) rows
  long long page_stride;     // between pages
  long long fresh_row_stride;
  const int* pages;          // this sequence's block table row, paged only
  int page_shift;
  int used;                  // keys already cached: the ones below come from the cache

  // Row j of the sequence's keys (j below used + seqlen_new).
  __device__ __forceinline__ const Element* row(int j) const {
    if (appends_keys<Traits>() && j >= used) return fresh + (j - used) * fresh_row_stride;
    if constexpr (is_paged<Traits>()) {
      const int page = pages[j >> page_shift];
      return cache + page * page_stride + (j & ((1 << page_shift) - 1)) * cache_row_stride;
    } else {
      return cache + j * cache_row_stride;
    }
  }
};

// The keys (or values: `cache` and `fresh` are K's or V's) of sequence `batch`, KV head `kv_head`.
template <class Element, class Traits>
__device__ __forceinline__ CacheKeys<Element, Traits> cache_keys(const void* cache, const TensorStrides& cache_strides,
                                                                 const void* fresh, const TensorStrides& fresh_strides,
                                                                 const KvCacheParams& kv, int batch, int kv_head) {
  CacheKeys<Element, Traits> c;
  c.cache = static_cast<const Element*>(cache) + kv_head * cache_strides.head;
  if constexpr (!is_paged<Traits>()) c.cache += batch * cache_strides.batch;
  c.fresh = nullptr;
  c.fresh_row_stride = fresh_strides.seq;
  if constexpr (appends_keys<Traits>())
    c.fresh = static_cast<const Element*>(fresh) + batch * fresh_strides.batch + kv_head * fresh_strides.head;
  c.cache_row_stride = cache_strides.seq;
  c.page_stride = cache_strides.batch;
  c.pages = is_paged<Traits>() ? kv.block_table + batch * kv.block_table_stride : nullptr;
  c.page_shift = kv.page_shift;
  c.used = kv.seqused_k[batch];
  return c;
}

// A block's keys and values in the cache (query head `head`'s KV head); empty without a cache.
template <class Element, class Traits, class Kv>
struct CacheRows {};

template <class Element, class Traits>
struct CacheRows<Element, Traits, KvCacheParams> {
  CacheKeys<Element, Traits> k;
  CacheKeys<Element, Traits> v;
};

template <class Element, class Traits>
__device__ __forceinline__ CacheRows<Element, Traits, NoKvCache> cache_rows(const AttentionParams&, const NoKvCache&,
                                                                            int, int) {
  return {};
}

template <class Element, class Traits>
__device__ __forceinline__ CacheRows<Element, Traits, KvCacheParams> cache_rows(const AttentionParams& p,
                                                                                const KvCacheParams& kv, int batch,
                                                                                int head) {
  const int kv_head = head / (p.num_heads / p.num_kv_heads);
  return {cache_keys<Element, Traits>(p.k, p.k_strides, kv.k_new, kv.k_new_strides, kv, batch, kv_head),
          cache_keys<Element, Traits>(p.v, p.v_strides, kv.v_new, kv.v_new_strides, kv, batch, kv_head)};
}

// Writes the appended rows of (batch, kv_head) into the cache, K and V, with the block's threads.
// One block per (sequence, KV head) does it (the caller picks which); every block reads those keys
// from the new tensors instead (CacheKeys::row), so no reader waits for the writer.
template <class Element, class Traits, int kThreads, int kHeadDim>
__device__ __forceinline__ void append_rows(const AttentionParams& p, const KvCacheParams& kv, int batch,
                                            int kv_head) {
  const CacheKeys<Element, Traits> k = cache_keys<Element, Traits>(p.k, p.k_strides, kv.k_new, kv.k_new_strides, kv,
                                                                   batch, kv_head);
  const CacheKeys<Element, Traits> v = cache_keys<Element, Traits>(p.v, p.v_strides, kv.v_new, kv.v_new_strides, kv,
                                                                   batch, kv_head);
  // The cache rows they go to: the same addressing with the append switched off.
  for (int i = threadIdx.x; i < kv.seqlen_new * kHeadDim; i += kThreads) {
    const int r = i / kHeadDim;
    const int c = i % kHeadDim;
    const int j = k.used + r;
    long long row_offset;
    if constexpr (is_paged<Traits>()) {
      row_offset = k.pages[j >> k.page_shift] * k.page_stride + (j & ((1 << k.page_shift) - 1)) * k.cache_row_stride;
    } else {
      row_offset = j * k.cache_row_stride;
    }
    const_cast<Element*>(k.cache)[row_offset + c] = k.fresh[r * k.fresh_row_stride + c];
    // V's strides may differ from K's.
    long long v_offset;
    if constexpr (is_paged<Traits>()) {
      v_offset = v.pages[j >> v.page_shift] * v.page_stride + (j & ((1 << v.page_shift) - 1)) * v.cache_row_stride;
    } else {
      v_offset = j * v.cache_row_stride;
    }
    const_cast<Element*>(v.cache)[v_offset + c] = v.fresh[r * v.fresh_row_stride + c];
  }
}

}  // namespace dev
}  // namespace flashjit
