// A small host emulation of the CUDA features the kernel templates use (templates/*_forward.cuh), so
// the real kernel templates run on the CPU in CI (which has no GPU). Every CUDA thread of a block is a std::thread;
// they run one at a time, each until it blocks (at __syncthreads(), a warp collective such as
// __shfl_xor_sync(), a named barrier or a wait_until() whose condition is false) or returns, then
// handing the turn on in a fixed order chosen to expose missing barriers: lanes in lane order, warps
// in warp order and reversed in every other phase (see Block in cuda_emulation.cpp). A block in
// which every thread is blocked fails as deadlocked. Shared memory is one namespace-scope array
// that the blocks, run one after another, reuse.
//
// Use: define FLASHJIT_HOST_EMULATION (so templates/numeric.cuh takes its host branches instead of
// inline PTX), include this header, then the kernel template, then launch with emulate_launch().
// Only what the kernels need is here: 1D blocks whose size is a multiple of 32, full-warp float
// shuffles and __syncwarp, named barriers and waits, dynamic shared memory, and the tensor-core
// instructions of templates/mma_primitives.cuh (ldmatrix and mma in tensor_core_emulation.cpp,
// cp.async in cp_async_emulation.cpp). Misuse (divergent barriers or warp collectives, misaligned or
// out-of-range shared-memory addresses, writes past the reserved shared memory) aborts with a message.
#pragma once

#include <math.h>  // fmaxf, log2f, exp2f in the global namespace, as in device code

#include <cstddef>
#include <cstring>
#include <functional>
#include <type_traits>

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
#define __align__(n) __attribute__((aligned(n)))
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
// The same for 32 bits that are not a float (packed f16x2), moved bit for bit.
unsigned __shfl_xor_sync(unsigned mask, unsigned value, int lane_mask);

// Waits until all 32 lanes of the warp have arrived (at this or another __syncwarp: since Volta the
// call sites need not match). Full-warp masks only.
void __syncwarp(unsigned mask = 0xffffffffu);

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

// Every 32-bit word of shared memory holds this quiet NaN (with a recognisable payload) until the
// block writes it.
constexpr unsigned kSharedMemoryPoison = 0x7fc0deadu;

// Runs `thread_body` once per thread of every block of `grid`: blocks one after another, each with
// block.x std::threads. Before each block, shared memory is filled with kSharedMemoryPoison (a read
// of shared memory nobody wrote poisons the result); after it, the bytes past `dynamic_shared_bytes`
// must still hold that pattern (a write past what the launch reserved aborts with a message).
void run_grid(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const std::function<void()>& thread_body);

// The emulated counterpart of cuLaunchKernel with one by-value parameter block.
template <class Params>
void emulate_launch(void (*kernel)(Params), dim3 grid, dim3 block, std::size_t dynamic_shared_bytes,
                    const Params& params) {
  run_grid(grid, block, dynamic_shared_bytes, [kernel, &params] { kernel(params); });
}

// A kernel with a second parameter block (the `_modified` entries' ScoreModParams).
template <class Params, class Mods>
void emulate_launch(void (*kernel)(Params, Mods), dim3 grid, dim3 block, std::size_t dynamic_shared_bytes,
                    const Params& params, const Mods& mods) {
  run_grid(grid, block, dynamic_shared_bytes, [kernel, &params, &mods] { kernel(params, mods); });
}

// A kernel with a third parameter block (the `_kvcache` entries' KvCacheParams).
template <class Params, class Mods, class Kv>
void emulate_launch(void (*kernel)(Params, Mods, Kv), dim3 grid, dim3 block, std::size_t dynamic_shared_bytes,
                    const Params& params, const Mods& mods, const Kv& kv) {
  run_grid(grid, block, dynamic_shared_bytes, [kernel, &params, &mods, &kv] { kernel(params, mods, kv); });
}

// ---- failures -------------------------------------------------------------------------------------
// A misuse of CUDA by the emulated kernel is a bug to fix, not a result to compare: prints
// "cuda_emulation: <message>" with the calling thread's block and thread index, then aborts.
[[noreturn]] void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Fails unless [address, address + 16) is 16-byte aligned and inside the shared memory the running
// launch reserved (dev::smem up to its dynamic_shared_bytes); `what` names the instruction.
void check_shared_chunk16(const void* address, const char* what);
// The same for `bytes` bytes aligned to `bytes` (a power of two up to 16): the 8- and 16-byte shared
// loads of the Volta kernel.
void check_shared_bytes(const void* address, std::size_t bytes, const char* what);

// ---- warp collectives ----------------------------------------------------------------------------
// One step that all 32 lanes of a warp take together (a shuffle, ldmatrix, mma.sync, __syncwarp):
// every lane deposits its input, the last lane to arrive computes all 32 outputs from all 32 inputs
// (so ldmatrix, say, reads shared memory at one instant, before any lane goes on), then the lanes
// resume in lane order and take their outputs. All lanes must call the same collective, identified
// by its compute function; divergence aborts with a message naming both.
constexpr std::size_t kLanePayloadBytes = 64;
struct alignas(16) LanePayload {
  unsigned char bytes[kLanePayloadBytes];
};
using WarpCompute = void (*)(const LanePayload (&inputs)[32], LanePayload (&outputs)[32]);
void warp_collective(const char* name, WarpCompute compute, const LanePayload& input, LanePayload& output);

// The typed form: `Compute` maps the 32 lanes' In to their Out (both trivially copyable, at most
// kLanePayloadBytes). Each instantiation is its own collective for the divergence check.
template <class In, class Out, void (*Compute)(const In (&)[32], Out (&)[32])>
Out warp_collective(const char* name, const In& input) {
  static_assert(std::is_trivially_copyable<In>::value && sizeof(In) <= kLanePayloadBytes, "In must fit a payload");
  static_assert(std::is_trivially_copyable<Out>::value && sizeof(Out) <= kLanePayloadBytes, "Out must fit a payload");
  struct Adapter {
    static void run(const LanePayload (&inputs)[32], LanePayload (&outputs)[32]) {
      In typed_inputs[32];
      Out typed_outputs[32];
      for (int lane = 0; lane < 32; ++lane) std::memcpy(&typed_inputs[lane], inputs[lane].bytes, sizeof(In));
      Compute(typed_inputs, typed_outputs);
      for (int lane = 0; lane < 32; ++lane) std::memcpy(outputs[lane].bytes, &typed_outputs[lane], sizeof(Out));
    }
  };
  LanePayload in_payload{};
  std::memcpy(in_payload.bytes, &input, sizeof(In));
  LanePayload out_payload;
  warp_collective(name, &Adapter::run, in_payload, out_payload);
  Out output;
  std::memcpy(&output, out_payload.bytes, sizeof(Out));
  return output;
}

// ---- waits and named barriers (the wgmma_sm90 kernel's producer/consumer hand-offs) --------------
// Blocks the calling thread until `ready()` returns true, letting the other threads of its block run
// meanwhile (an mbarrier wait). `ready` is evaluated only while the calling thread holds the turn:
// on the call, and again whenever the schedule reaches the thread after other threads have run
// (returning at once, without handing the turn on, when it is true on the call). Any lanes may wait,
// not necessarily the whole warp; the others go on, and may wait for it at a warp collective or
// return from the kernel. When every unfinished thread of the block is blocked and none can
// proceed, the emulation fails with a message naming `what` (a deadlock on the GPU).
void wait_until(const char* what, const std::function<bool()>& ready);

// bar.sync `id`, `threads`: blocks the calling thread until `threads` threads (whole warps, all 32
// lanes of each) have arrived at barrier `id` (1..15; 0 is __syncthreads), then releases them all;
// the barrier can then be used again. Threads of the block that do not take part keep running, and
// may return from the kernel meanwhile. A warp only partly there when the count is reached, or
// arrivals that disagree on `threads`, abort with a message.
void named_barrier(int id, int threads);

// bar.arrive `id`, `threads`: counts the calling thread towards the barrier's `threads` without
// waiting (a producer's signal to threads that bar.sync on it).
void named_barrier_arrive(int id, int threads);

// ---- cp.async ------------------------------------------------------------------------------------
// How the emulated cp.async (templates/mma_primitives.cuh) moves its bytes; set before a launch.
//  - deferred (the default): a copy lands only when cp.async.wait_group retires its group, so a
//    kernel that reads shared memory before waiting reads the poison;
//  - eager: a copy lands when issued, so a kernel that issues into a buffer other warps still read
//    (a missing __syncthreads before the issue) corrupts what they read.
enum class CpAsyncMode { eager, deferred };
void set_cp_async_mode(CpAsyncMode mode);
// Called by run_grid at the start of every emulated thread: an empty cp.async queue in the current mode.
void begin_thread_cp_async();
// cp.async copies issued since the process started (a kernel on its element-by-element path issues
// none).
long long cp_async_copies_issued();

// ---- shared-memory bank conflicts of ldmatrix ----------------------------------------------------
// Shared memory has 32 banks of 4 bytes; ldmatrix.x4 reads its 4 matrices in 4 phases of 8 16-byte
// rows, one phase per request when the 8 rows fall in 8 different 16-byte bank groups (or are the
// same row). Counted over every ldmatrix of the launches since the last reset.
struct LdmatrixBankStats {
  long long phases = 0;       // 8-row reads
  long long extra_cycles = 0;  // requests beyond one per phase: 0 when conflict-free
};
void reset_ldmatrix_bank_stats();
LdmatrixBankStats ldmatrix_bank_stats();

}  // namespace emulation
}  // namespace flashjit
