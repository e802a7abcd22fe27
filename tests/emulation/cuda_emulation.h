// A small host emulation of the CUDA features templates/generic_forward.cuh uses, so the real kernel
// template runs on the CPU in CI (which has no GPU). Every CUDA thread of a block is a std::thread;
// they run one at a time, handing the turn on at __syncthreads(), __shfl_xor_sync() and their end,
// in a fixed order chosen to expose missing barriers (see Block in cuda_emulation.cpp). Shared
// memory is one namespace-scope array that the blocks, run one after another, reuse.
//
// Use: define FLASHJIT_HOST_EMULATION (so templates/numeric.cuh takes its host branches instead of
// inline PTX), include this header, then the kernel template, then launch with emulate_launch().
// Only what the generic kernel needs is here: 1D blocks whose size is a multiple of 32, full-warp
// float shuffles, dynamic shared memory. Misuse (divergent barriers or shuffles, writes past the
// reserved shared memory) aborts with a message.
#pragma once

#include <math.h>  // fmaxf, log2f, exp2f in the global namespace, as in device code

#include <cstddef>
#include <cstring>
#include <functional>

#if !defined(FLASHJIT_HOST_EMULATION)
#error "define FLASHJIT_HOST_EMULATION before including cuda_emulation.h (templates/numeric.cuh needs it)"
#endif
#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(__global__) || defined(__device__) || \
    defined(__shared__)
#error "cuda_emulation.h replaces CUDA; it cannot be combined with a CUDA compiler or the CUDA runtime headers"
#endif

// ---- qualifiers ----------------------------------------------------------------------------------
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
// `extern __shared__ float smem[];` at block scope in namespace flashjit::dev then names the array
// flashjit::dev::smem defined by cuda_emulation.cpp.
#define __shared__

// ---- built-in variables --------------------------------------------------------------------------
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

// ---- intrinsics ----------------------------------------------------------------------------------
// Waits until every thread of the block has arrived; makes their shared-memory writes visible.
void __syncthreads();

// Exchanges `value` with lane (lane ^ lane_mask) of the same warp. Every lane of the warp must
// call it (mask 0xffffffff only, as the kernel does); each call is one barrier over the warp.
float __shfl_xor_sync(unsigned mask, float value, int lane_mask);

inline int min(int a, int b) { return a < b ? a : b; }

inline float __int_as_float(int x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}
inline float __uint_as_float(unsigned x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned x;
  std::memcpy(&x, &f, sizeof x);
  return x;
}

// ---- shared memory and launch --------------------------------------------------------------------
namespace flashjit {
namespace dev {
// The block's shared memory: the largest a block may opt in to on Hopper.
constexpr std::size_t kEmulatedSharedBytes = 227 * 1024;
extern float smem[kEmulatedSharedBytes / sizeof(float)];
}  // namespace dev

namespace emulation {

// Runs `thread_body` once per thread of every block of `grid`: blocks one after another, each with
// block.x std::threads. Before each block, shared memory is filled with a NaN pattern (a read of
// shared memory nobody wrote poisons the result); after it, the bytes past `dynamic_shared_bytes`
// must still hold that pattern (a write past what the launch reserved aborts with a message).
void run_grid(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const std::function<void()>& thread_body);

// The emulated counterpart of cuLaunchKernel with one by-value parameter block.
template <class Params>
void emulate_launch(void (*kernel)(Params), dim3 grid, dim3 block, std::size_t dynamic_shared_bytes,
                    const Params& params) {
  run_grid(grid, block, dynamic_shared_bytes, [kernel, &params] { kernel(params); });
}

}  // namespace emulation
}  // namespace flashjit
