// The generic FlashAttention-2 forward: plain CUDA, fp32 FMA, valid for compute capability 5.0 and
// newer. It is the fallback where no tensor-core variant applies (Maxwell, Pascal, f32 inputs).
//
// One thread block owns kBlockM query rows of one (batch, head). The Q tile stays in shared memory
// while K and V tiles of kBlockN keys stream through one shared buffer (K, then V, in turns). Each
// warp owns kBlockM / kWarps rows; in S = Q K^T a lane owns key columns lane, lane + 32, ...; in
// O += P V a lane owns head-dim columns lane, lane + 32, ... The softmax is online (running max and
// sum per row, fp32) so the seqlen_q x seqlen_k matrix never exists.
//
// Traits (emitted by the generator): Element (float, half_bits or bf16_bits), kHeadDim, kBlockM,
// kBlockN, kWarps, kCausal; a kernel with modifiers also kWindow, kSoftcap, kAlibi, kRagged; one
// reading a KV cache (issue 15) also kKvCache, kPaged, kAppend, and takes KvCacheParams third:
// each sequence's keys are its cached ones then the appended ones (read from the new tensors, which
// the block of query rows 0 of each KV group's first head also writes into the cache).
#pragma once

#include "attention_params.cuh"
#include "head_slices.cuh"
#include "kv_cache.cuh"
#include "numeric.cuh"
#include "score_modifiers.cuh"

namespace flashjit {
namespace dev {

template <class Traits>
struct GenericShape {
  static constexpr int kHeadDim = Traits::kHeadDim;
  static constexpr int kBlockM = Traits::kBlockM;
  static constexpr int kBlockN = Traits::kBlockN;
  static constexpr int kThreads = Traits::kWarps * 32;
  static constexpr int kRowsPerWarp = kBlockM / Traits::kWarps;
  static constexpr int kColsPerLane = kBlockN / 32;
  static constexpr int kDimsPerLane = (kHeadDim + 31) / 32;
  // One float of padding per K row: lanes reading column d of rows lane, lane + 32, ... then fall in
  // 32 different banks (kHeadDim is a multiple of 8, so kKvStride is odd).
  static constexpr int kKvStride = kHeadDim + 1;
  static constexpr int kQTileFloats = kBlockM * kHeadDim;
  static constexpr int kKvTileFloats = kBlockN * kKvStride;
  static constexpr int kPTileFloats = kBlockM * kBlockN;
  // The Q tile, one K/V tile and the P tile, as generic_forward lays them out below; the generated
  // shell checks this against generator/generic_rules.cpp.
  static constexpr int kSharedBytes = (kQTileFloats + kKvTileFloats + kPTileFloats) * 4;
};

// Loads rows [row0, row0 + rows) of a [seq, head_dim] slice into an fp32 tile with the given row
// stride; rows past `valid_rows` become zeros so tails need no special case later.
template <class Element, int kThreads, int kHeadDim>
__device__ __forceinline__ void load_tile(float* tile, int tile_stride, const Element* src,
                                          long long seq_stride, int row0, int rows, int valid_rows) {
  for (int i = threadIdx.x; i < rows * kHeadDim; i += kThreads) {
    const int r = i / kHeadDim;
    const int c = i % kHeadDim;
    const int row = row0 + r;
    tile[r * tile_stride + c] = row < valid_rows ? to_float(src[row * seq_stride + c]) : 0.0f;
  }
}

// Loads keys [row0, row0 + rows) of a KV cache's sequence (CacheKeys::row: cached, paged or
// appended) into an fp32 tile; keys past `valid_rows` become zeros.
template <class Element, class Traits, int kThreads, int kHeadDim>
__device__ __forceinline__ void load_cache_tile(float* tile, int tile_stride, const CacheKeys<Element, Traits>& keys,
                                                int row0, int rows, int valid_rows) {
  for (int i = threadIdx.x; i < rows * kHeadDim; i += kThreads) {
    const int r = i / kHeadDim;
    const int c = i % kHeadDim;
    const int row = row0 + r;
    tile[r * tile_stride + c] = row < valid_rows ? to_float(keys.row(row)[c]) : 0.0f;
  }
}

// One block's work: the kernel entries below call it with the modifiers' parameters (NoScoreMods
// for a dense kernel, where every modifier branch folds away and the code is what it was before)
// and the cache's (NoKvCache without one).
template <class Traits, class Mods, class Kv = NoKvCache>
__device__ __forceinline__ void generic_attention(const AttentionParams& p, const Mods& mods, const Kv kv = Kv{}) {
  using Element = typename Traits::Element;
  constexpr bool kMods = has_score_mods<Mods>();
  using Shape = GenericShape<Traits>;
  constexpr int D = Shape::kHeadDim;
  constexpr int BM = Shape::kBlockM;
  constexpr int BN = Shape::kBlockN;
  constexpr int R = Shape::kRowsPerWarp;
  constexpr int C = Shape::kColsPerLane;
  constexpr int DL = Shape::kDimsPerLane;

  extern __shared__ float smem[];
  float* q_tile = smem;                            // [BM][D]
  float* kv_tile = q_tile + Shape::kQTileFloats;   // [BN][D + 1], K then V
  float* p_tile = kv_tile + Shape::kKvTileFloats;  // [BM][BN]

  constexpr bool kCache = has_kv_cache<Kv>();
  // Split-KV: blockIdx.x counts the splits of each query block (one split without a cache).
  int m_block = blockIdx.x;
  int split = 0;
  if constexpr (kCache) {
    m_block = blockIdx.x / kv.num_splits;
    split = blockIdx.x % kv.num_splits;
  }
  const int m0 = m_block * BM;
  const int head = blockIdx.y;
  const int batch = blockIdx.z;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const auto mod = cache_mod_state<Traits>(p, mods, kv, batch, head);
  // Before any return: a sequence without queries still appends its keys.
  if constexpr (kCache && appends_keys<Traits>()) {
    // The first head of each KV group, query block 0 (its split 0), writes the group's appended rows.
    if (blockIdx.x == 0 && head % (p.num_heads / p.num_kv_heads) == 0)
      append_rows<Element, Traits, Shape::kThreads, D>(p, kv, batch, head / (p.num_heads / p.num_kv_heads));
  }

  int seqlen_q = p.seqlen_q;
  int seqlen_k = p.seqlen_k;
  if constexpr (kMods) {
    seqlen_q = mod.sequence.seqlen_q;
    seqlen_k = mod.sequence.seqlen_k;
    // A ragged batch's grid covers its longest sequence: blocks past this one's end have no rows.
    if (m0 >= seqlen_q) return;
  }
  // Bottom-right causal alignment: query i sees key j when j <= i + causal_offset.
  const int causal_offset = seqlen_k - seqlen_q;

  HeadSlices<Element> slices = head_slices<Element>(p, batch, head);
  if constexpr (kMods) move_to_sequence(slices, p, mod.sequence);
  const Element* q = slices.q;
  const Element* k = slices.k;
  const Element* v = slices.v;
  Element* o = slices.o;
  // A KV cache's keys and values, wherever each row lives (nothing without one).
  const CacheRows<Element, Traits, Kv> cache = cache_rows<Element, Traits>(p, kv, batch, head);

  load_tile<Element, Shape::kThreads, D>(q_tile, D, q, p.q_strides.seq, m0, BM, seqlen_q);

  // Keys past the last one the block's bottom row may see are skipped entirely.
  int n_end = seqlen_k;
  if (Traits::kCausal) n_end = min(seqlen_k, m0 + BM + causal_offset);
  // With a window, also the keys after the last one the bottom row sees, and whole blocks before the
  // first one the top row sees: the work is proportional to the window, not the sequence.
  int n_begin = 0;
  if constexpr (kMods) {
    n_end = min(n_end, mod.rule.key_end(min(m0 + BM, seqlen_q) - 1));
    n_begin = mod.rule.key_begin(m0) / BN * BN;
  }
  // Split-KV: this split's share of the key blocks (none when there are fewer blocks than splits).
  if constexpr (kCache) {
    const int key_blocks = n_end > n_begin ? (n_end - n_begin + BN - 1) / BN : 0;
    const int per_split = (key_blocks + kv.num_splits - 1) / kv.num_splits;
    n_begin += split * per_split * BN;
    n_end = min(n_end, n_begin + per_split * BN);
  }

  float acc[R][DL];
  float row_max[R];  // running max of scaled scores, log2 domain
  float row_sum[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    row_max[r] = negative_infinity();
    row_sum[r] = 0.0f;
#pragma unroll
    for (int j = 0; j < DL; ++j) acc[r][j] = 0.0f;
  }

  for (int n0 = n_begin; n0 < n_end; n0 += BN) {
    __syncthreads();  // the previous V tile (and, first time, nothing) is no longer read
    if constexpr (kCache) {
      load_cache_tile<Element, Traits, Shape::kThreads, D>(kv_tile, Shape::kKvStride, cache.k, n0, BN, seqlen_k);
    } else {
      load_tile<Element, Shape::kThreads, D>(kv_tile, Shape::kKvStride, k, p.k_strides.seq, n0, BN, seqlen_k);
    }
    __syncthreads();

    float s[R][C];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < C; ++c) s[r][c] = 0.0f;
    for (int d = 0; d < D; ++d) {
      float kd[C];
#pragma unroll
      for (int c = 0; c < C; ++c) kd[c] = kv_tile[(lane + 32 * c) * Shape::kKvStride + d];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float qd = q_tile[(warp * R + r) * D + d];
#pragma unroll
        for (int c = 0; c < C; ++c) s[r][c] += qd * kd[c];
      }
    }

#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int row = m0 + warp * R + r;
      float tile_max = negative_infinity();
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const int col = n0 + lane + 32 * c;
        if constexpr (kMods) {
          s[r][c] = mod.rule.visible(row, col) ? mod.rule.logit(s[r][c], row, col) : negative_infinity();
        } else {
          const bool visible = col < seqlen_k && (!Traits::kCausal || col <= row + causal_offset);
          s[r][c] = visible ? s[r][c] * p.scale_log2 : negative_infinity();
        }
        tile_max = fmaxf(tile_max, s[r][c]);
      }
      tile_max = warp_max(tile_max);
      const float new_max = fmaxf(row_max[r], tile_max);
      // A row that has seen no visible key yet keeps max -inf; exponentiate against 0 instead so
      // that -inf - -inf never makes a NaN.
      const float base = new_max == negative_infinity() ? 0.0f : new_max;
      const float rescale = fast_exp2(row_max[r] - base);
      float tile_sum = 0.0f;
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const float prob = fast_exp2(s[r][c] - base);
        tile_sum += prob;
        p_tile[(warp * R + r) * BN + lane + 32 * c] = prob;
      }
      row_sum[r] = row_sum[r] * rescale + warp_sum(tile_sum);
      row_max[r] = new_max;
#pragma unroll
      for (int j = 0; j < DL; ++j) acc[r][j] *= rescale;
    }

    __syncthreads();  // every warp is done with K
    if constexpr (kCache) {
      load_cache_tile<Element, Traits, Shape::kThreads, D>(kv_tile, Shape::kKvStride, cache.v, n0, BN, seqlen_k);
    } else {
      load_tile<Element, Shape::kThreads, D>(kv_tile, Shape::kKvStride, v, p.v_strides.seq, n0, BN, seqlen_k);
    }
    __syncthreads();

    for (int n = 0; n < BN; ++n) {
      float vn[DL];
#pragma unroll
      for (int j = 0; j < DL; ++j) {
        const int d = lane + 32 * j;
        vn[j] = d < D ? kv_tile[n * Shape::kKvStride + d] : 0.0f;
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float prob = p_tile[(warp * R + r) * BN + n];
#pragma unroll
        for (int j = 0; j < DL; ++j) acc[r][j] += prob * vn[j];
      }
    }
  }

#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int row = m0 + warp * R + r;
    if (row >= seqlen_q) continue;
    // A row that saw no key (causal with seqlen_q > seqlen_k) is all zeros with lse = -inf. Only a
    // sum of exactly 0 means that: a NaN score makes the sum NaN, and the row and its lse with it.
    const float inv_sum = row_sum[r] == 0.0f ? 0.0f : 1.0f / row_sum[r];
    if constexpr (kCache) {
      // Several splits: the row's share goes to the partials (rows numbered as lse), combined later.
      if (kv.num_splits > 1) {
        const long long partial_row = split * kv.partial_rows + mod.sequence.lse_row0 + row;
#pragma unroll
        for (int j = 0; j < DL; ++j) {
          const int d = lane + 32 * j;
          if (d < D) kv.partial_out[partial_row * D + d] = acc[r][j] * inv_sum;
        }
        if (lane == 0)
          kv.partial_lse[partial_row] =
              row_sum[r] == 0.0f ? negative_infinity() : (row_max[r] + log2f(row_sum[r])) * 0.6931471805599453f;
        continue;
      }
    }
#pragma unroll
    for (int j = 0; j < DL; ++j) {
      const int d = lane + 32 * j;
      if (d < D) o[row * p.o_strides.seq + d] = from_float<Element>(acc[r][j] * inv_sum);
    }
    if (p.lse != nullptr && lane == 0) {
      const float ln2 = 0.6931471805599453f;
      const float lse = row_sum[r] == 0.0f ? negative_infinity() : (row_max[r] + log2f(row_sum[r])) * ln2;
      if constexpr (kMods) {
        p.lse[mod.sequence.lse_row0 + row] = lse;
      } else {
        p.lse[(static_cast<long long>(batch) * p.num_heads + head) * seqlen_q + row] = lse;
      }
    }
  }
}

template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1) generic_forward(const AttentionParams p) {
  generic_attention<Traits>(p, NoScoreMods{});
}

// A kernel specialized on a ragged batch or a score modifier (templates/score_modifiers.cuh).
template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1)
    generic_forward_modified(const AttentionParams p, const ScoreModParams mods) {
  generic_attention<Traits>(p, mods);
}

// A kernel reading its keys from a KV cache (templates/kv_cache.cuh), with any of the above.
template <class Traits>
__global__ void __launch_bounds__(Traits::kWarps * 32, 1)
    generic_forward_kvcache(const AttentionParams p, const ScoreModParams mods, const KvCacheParams kv) {
  generic_attention<Traits>(p, mods, kv);
}

}  // namespace dev
}  // namespace flashjit
