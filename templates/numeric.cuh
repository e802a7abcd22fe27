// Storage types and conversions without CUDA toolkit headers, so generated source compiles with
// NVRTC and no include path. f16 uses PTX cvt (available since the first PTX ISA); bf16 is done with
// integer arithmetic so it also works before sm_80.
#pragma once

namespace flashjit {
#if defined(FLASHJIT_HOST_EMULATION)
// Host emulation for tests/emulation (the kernel run on the CPU); NVRTC never defines this. The
// library's own round-to-nearest-even conversions (include/flashjit/numeric.h) stand in for PTX cvt;
// declared here because templates include no headers.
unsigned short float_to_half_bits(float value);
float half_bits_to_float(unsigned short bits);
#endif
namespace dev {

struct half_bits {
  unsigned short bits;
};
struct bf16_bits {
  unsigned short bits;
};

__device__ __forceinline__ float to_float(float x) { return x; }

__device__ __forceinline__ float to_float(half_bits x) {
  float f;
#if defined(FLASHJIT_HOST_EMULATION)
  f = ::flashjit::half_bits_to_float(x.bits);
#else
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits));
#endif
  return f;
}

__device__ __forceinline__ float to_float(bf16_bits x) {
  return __uint_as_float(static_cast<unsigned>(x.bits) << 16);
}

template <class T>
struct FromFloat;

template <>
struct FromFloat<float> {
  static __device__ __forceinline__ float convert(float f) { return f; }
};

template <>
struct FromFloat<half_bits> {
  static __device__ __forceinline__ half_bits convert(float f) {
    half_bits h;
#if defined(FLASHJIT_HOST_EMULATION)
    h.bits = ::flashjit::float_to_half_bits(f);
#else
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
#endif
    return h;
  }
};

template <>
struct FromFloat<bf16_bits> {
  // Round to nearest even; NaN stays a (quiet) NaN.
  static __device__ __forceinline__ bf16_bits convert(float f) {
    unsigned u = __float_as_uint(f);
    bf16_bits b;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      b.bits = static_cast<unsigned short>((u >> 16) | 0x40u);
      return b;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    b.bits = static_cast<unsigned short>(u >> 16);
    return b;
  }
};

template <class T>
__device__ __forceinline__ T from_float(float f) {
  return FromFloat<T>::convert(f);
}

__device__ __forceinline__ float negative_infinity() { return __int_as_float(0xff800000); }

// 2^x with the hardware approximation (relative error about 2^-22), as FlashAttention does.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
#if defined(FLASHJIT_HOST_EMULATION)
  y = exp2f(x);
  if (y < 1.17549435e-38f) y = 0.0f;  // ftz: a subnormal result flushes to zero
#else
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
#endif
  return y;
}

__device__ __forceinline__ float warp_max(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

__device__ __forceinline__ float warp_sum(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

}  // namespace dev
}  // namespace flashjit
