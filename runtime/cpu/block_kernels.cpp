// One set of block kernels per instruction set: the same bodies (block_kernel_bodies.h) inlined
// into functions compiled with each set's target attribute and register tiles sized for its vector
// registers (16 x 128-bit for the portable set, 16 x 256-bit for AVX2, 32 x 512-bit for AVX-512).
#include "runtime/cpu/block_kernels.h"

#include "flashjit/numeric.h"
#include "runtime/cpu/block_kernel_bodies.h"
#include "runtime/cpu/bf16_products.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FLASHJIT_CPU_X86 1
#endif

namespace flashjit::cpu {
namespace {

void widen_f16_portable(const uint16_t* src, int count, float* dst) {
  for (int i = 0; i < count; ++i) dst[i] = half_bits_to_float(src[i]);
}

void narrow_f16_portable(const float* src, int count, uint16_t* dst) {
  for (int i = 0; i < count; ++i) dst[i] = float_to_half_bits(src[i]);
}

#ifdef FLASHJIT_CPU_X86
// F16C's conversion, eight at a time (the caller's counts are head dims, multiples of 8).
[[gnu::target("avx,f16c")]] void widen_f16_f16c(const uint16_t* src, int count, float* dst) {
  int i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < count; ++i) dst[i] = half_bits_to_float(src[i]);
}

[[gnu::target("avx,f16c")]] void narrow_f16_f16c(const float* src, int count, uint16_t* dst) {
  int i = 0;
  for (; i + 8 <= count; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < count; ++i) dst[i] = float_to_half_bits(src[i]);
}
#endif

// Defines namespace `name`'s kernels, compiled for `target` (a gnu::target string, or empty for the
// build's baseline) with score tiles of score_keys x score_lanes and accumulator tiles of
// acc_rows x acc_cols fp32 values, its fp16 conversions widen_f16_<f16_suffix> and
// narrow_f16_<f16_suffix>, and an instance `name::kernels` of the table.
#define FLASHJIT_BLOCK_KERNELS(name, isa_value, target, score_keys, score_lanes, acc_rows, acc_cols, f16_suffix)   \
  namespace name {                                                                                                 \
  target void wide_scores(const float* q_transposed, const float* const* k_rows, int keys, int head_dim,         \
                          float* st) {                                                                             \
    bodies::wide_scores<score_keys, score_lanes>(q_transposed, k_rows, keys, head_dim, st);                       \
  }                                                                                                                \
  target void narrow_scores(const float* q, int rows, const float* const* k_rows, int keys, int head_dim,        \
                            float* st) {                                                                           \
    bodies::narrow_scores(q, rows, k_rows, keys, head_dim, st);                                                   \
  }                                                                                                                \
  target void softmax(float* st, int keys, int lanes, float* row_max, float* row_sum, float* correction) {        \
    if (lanes == kWideLanes) return bodies::softmax<kWideLanes>(st, keys, row_max, row_sum, correction);          \
    bodies::softmax<kNarrowLanes>(st, keys, row_max, row_sum, correction);                                        \
  }                                                                                                                \
  target void modify_scores(float* st, int keys, int lanes, int rows, const ScoreMods& mods) {                    \
    bodies::modify_scores(st, keys, lanes, rows, mods);                                                            \
  }                                                                                                                \
  target void accumulate(const float* pt, int keys, int lanes, const float* const* v_rows, int head_dim,          \
                         const float* correction, float* acc, int rows) {                                         \
    bodies::accumulate<acc_rows, acc_cols>(pt, keys, lanes, v_rows, head_dim, correction, acc, rows);             \
  }                                                                                                                \
  target void widen_bf16(const uint16_t* src, int count, float* dst) { bodies::widen_bf16(src, count, dst); }    \
  target void narrow_bf16(const float* src, int count, uint16_t* dst) { bodies::narrow_bf16(src, count, dst); }  \
  const BlockKernels kernels{isa_value,          wide_scores,  narrow_scores,           softmax,                   \
                             modify_scores,      accumulate,   widen_f16_##f16_suffix,  widen_bf16,                \
                             narrow_f16_##f16_suffix, narrow_bf16, nullptr,            nullptr,                   \
                             nullptr,            nullptr};                                                         \
  }

#define FLASHJIT_NO_TARGET
// The tiles are the fastest of those measured on a Zen 4 core (bench/PERFORMANCE.md, step 10): GCC
// keeps them in registers; a tile one step larger spills and runs several times slower.
FLASHJIT_BLOCK_KERNELS(portable, CpuIsa::portable, FLASHJIT_NO_TARGET, 4, 8, 2, 16, portable)
#ifdef FLASHJIT_CPU_X86
FLASHJIT_BLOCK_KERNELS(avx2, CpuIsa::avx2, [[gnu::target("avx2,fma,f16c")]], 1, 64, 2, 32, f16c)
FLASHJIT_BLOCK_KERNELS(avx512, CpuIsa::avx512,
                       [[gnu::target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,prefer-vector-width=512")]], 4,
                       64, 4, 64, f16c)
#endif

#ifdef FLASHJIT_CPU_X86
// avx512's kernels, and bf16 products for bf16 storage.
BlockKernels with_bf16_products(BlockKernels kernels) {
  kernels.isa = CpuIsa::avx512_bf16;
  kernels.bf16_scores = bf16::scores;
  kernels.bf16_pack_probabilities = bf16::pack_probabilities;
  kernels.bf16_pack_values = bf16::pack_values;
  kernels.bf16_accumulate = bf16::accumulate;
  return kernels;
}
#endif

}  // namespace

const BlockKernels& block_kernels(CpuIsa isa) {
#ifdef FLASHJIT_CPU_X86
  static const BlockKernels avx512_bf16 = with_bf16_products(avx512::kernels);
  if (isa == CpuIsa::avx512_bf16) return avx512_bf16;
  if (isa == CpuIsa::avx512) return avx512::kernels;
  if (isa == CpuIsa::avx2) return avx2::kernels;
#endif
  return portable::kernels;
}

}  // namespace flashjit::cpu
