// Hopper (sm_90a) building blocks of the wgmma_sm90 kernel: mbarriers, TMA tile loads, wgmma with
// shared-memory matrix descriptors, setmaxnreg and named barriers. Each wraps one PTX instruction
// (PTX ISA 8.0+, "asynchronous warpgroup level matrix" and "cp.async.bulk.tensor" chapters).
//
// Shared-memory tiles are 128-byte swizzled, the layout TMA writes with CU_TENSOR_MAP_SWIZZLE_128B
// and wgmma reads with swizzle mode 1: a tile of R rows x 64 16-bit columns is R rows of 128 bytes,
// and inside each 1024-byte group of 8 rows the 16-byte chunk c of row r sits at chunk c ^ (r % 8).
// Tiles start 1024-byte aligned so the hardware's swizzle (on address bits 4..6 from bits 7..9)
// and ours agree; wider rows are stored as several such 64-column tiles one after another.
//
// Under FLASHJIT_HOST_EMULATION (tests/emulation runs the kernel on the CPU) every instruction is a
// host function declared below and defined by tests/emulation; NVRTC never sees that branch.
#pragma once

#include "mma_primitives.cuh"
#include "tma_params.cuh"
#include "wgmma_instructions.cuh"

namespace flashjit {

#if defined(FLASHJIT_HOST_EMULATION)
namespace emulation_hooks {
// Per thread unless said otherwise. `bar` is the 8-byte mbarrier object in shared memory.
void mbarrier_init(void* bar, unsigned arrivals);
void mbarrier_arrive(void* bar);
// mbarrier.arrive.expect_tx: adds `bytes` to the transactions the current phase waits for, then arrives.
void mbarrier_arrive_expect_tx(void* bar, unsigned bytes);
// Blocks the calling thread until the phase with parity `parity` has completed.
void mbarrier_wait(void* bar, unsigned parity);
// cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes: the box at
// `coords` (innermost first) of the tensor `map` describes, into `smem_dst`; complete_tx on `bar`.
void tma_load_4d(void* smem_dst, const TensorMapBits* map, const int (&coords)[4], void* bar);
// Warp-collective (all 32 lanes, every warp of the warpgroup in turn): warp w of the warpgroup
// computes rows 16w..16w+15 of the 64 x n product. Descriptors as in make_wgmma_descriptor.
void wgmma_ss(float* acc, int n, unsigned long long desc_a, unsigned long long desc_b, bool accumulate,
              bool bf16);
void wgmma_rs(float* acc, int n, const unsigned (&a)[4], unsigned long long desc_b, bool accumulate, bool bf16);
// wgmma.fence / commit_group / wait_group and setmaxnreg: bookkeeping only under emulation.
void wgmma_fence();
void wgmma_commit();
void wgmma_wait(int pending_groups);
void setmaxnreg(bool increase, int registers);
// bar.sync id, threads: waits until `threads` threads (whole warps) have arrived at barrier `id`.
void named_barrier_sync(int id, int threads);
// bar.arrive id, threads: counts towards barrier `id` without waiting.
void named_barrier_arrive(int id, int threads);
// The shared-window address of a host address inside the emulated shared memory (what a matrix
// descriptor holds).
unsigned shared_window_address(const void* host_address);
}  // namespace emulation_hooks
#endif

namespace dev {

// ---- mbarrier --------------------------------------------------------------------------------------

__device__ __forceinline__ void mbarrier_init(smem_addr_t bar, unsigned arrivals) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::mbarrier_init(reinterpret_cast<void*>(bar), arrivals);
#else
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
#endif
}

// Makes initialized mbarriers visible to the other threads and to the TMA unit; a __syncthreads
// must follow before anyone uses them.
__device__ __forceinline__ void mbarrier_init_fence() {
#if !defined(FLASHJIT_HOST_EMULATION)
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void mbarrier_arrive(smem_addr_t bar) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::mbarrier_arrive(reinterpret_cast<void*>(bar));
#else
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}

__device__ __forceinline__ void mbarrier_arrive_expect_tx(smem_addr_t bar, unsigned bytes) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::mbarrier_arrive_expect_tx(reinterpret_cast<void*>(bar), bytes);
#else
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
#endif
}

// Spins until the phase of parity `parity` completes (try_wait suspends the thread for a while in
// hardware between polls, so the loop does not hammer shared memory).
__device__ __forceinline__ void mbarrier_wait(smem_addr_t bar, unsigned parity) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::mbarrier_wait(reinterpret_cast<void*>(bar), parity);
#else
  unsigned done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
#endif
}

// ---- TMA -------------------------------------------------------------------------------------------

// Fetches the tensor map into the constant cache ahead of its first use.
__device__ __forceinline__ void prefetch_tensor_map(const TensorMapBits* map) {
#if !defined(FLASHJIT_HOST_EMULATION)
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(map) : "memory");
#else
  (void)map;
#endif
}

// One box of a rank-4 tensor map into shared memory; the bytes count against `bar`'s transaction
// count. Elements outside the tensor arrive as zeros, and the full box size is always counted.
__device__ __forceinline__ void tma_load_4d(smem_addr_t dst, const TensorMapBits* map, const int (&coords)[4],
                                            smem_addr_t bar) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::tma_load_4d(reinterpret_cast<void*>(dst), map, coords,
                                           reinterpret_cast<void*>(bar));
#else
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
      "%5}], [%6];\n" ::"r"(dst),
      "l"(map), "r"(coords[0]), "r"(coords[1]), "r"(coords[2]), "r"(coords[3]), "r"(bar)
      : "memory");
#endif
}

// ---- wgmma -----------------------------------------------------------------------------------------

// A shared-memory matrix descriptor for a 128-byte swizzled operand (swizzle mode 1 in bits 62-63).
// Addresses and offsets are in bytes and multiples of 16 (the fields hold them >> 4):
//  - K-major (Q and K for Q.K^T): 8-row groups `stride_bytes` (1024) apart; the leading offset is
//    unused because one k16 step (32 bytes) never leaves a 128-byte row.
//  - MN-major (V for P.V): `leading_bytes` between 64-column tiles along N, `stride_bytes` (1024)
//    between 8-row groups along K.
__device__ __forceinline__ unsigned long long make_wgmma_descriptor(smem_addr_t address, unsigned leading_bytes,
                                                                    unsigned stride_bytes) {
#if defined(FLASHJIT_HOST_EMULATION)
  const unsigned window = ::flashjit::emulation_hooks::shared_window_address(reinterpret_cast<const void*>(address));
#else
  const unsigned window = address;
#endif
  return static_cast<unsigned long long>((window >> 4) & 0x3FFFu) |
         (static_cast<unsigned long long>((leading_bytes >> 4) & 0x3FFFu) << 16) |
         (static_cast<unsigned long long>((stride_bytes >> 4) & 0x3FFFu) << 32) | (1ull << 62);
}

// Orders this thread's register writes to accumulators before the wgmma that reads them.
__device__ __forceinline__ void wgmma_fence() {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::wgmma_fence();
#else
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void wgmma_commit() {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::wgmma_commit();
#else
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

// Waits until at most kPending committed wgmma groups are in flight: their accumulators are then
// readable and the shared memory they read may be overwritten.
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::wgmma_wait(kPending);
#else
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#endif
}

// Keeps the compiler from moving accesses of `r` across wgmma issue/wait points (the asm
// statements name the registers, but not the asynchrony).
__device__ __forceinline__ void wgmma_pin(float& r) {
#if !defined(FLASHJIT_HOST_EMULATION)
  asm volatile("" : "+f"(r)::"memory");
#else
  (void)r;
#endif
}

__device__ __forceinline__ void wgmma_pin(unsigned& r) {
#if !defined(FLASHJIT_HOST_EMULATION)
  asm volatile("" : "+r"(r)::"memory");
#else
  (void)r;
#endif
}

// Every register of a wgmma operand or accumulator array (a wgmma.fence orders only the accesses
// the compiler leaves before it).
template <class T, int kTiles>
__device__ __forceinline__ void wgmma_pin_all(T (&r)[kTiles][4]) {
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) wgmma_pin(r[i][e]);
}

__device__ __forceinline__ bool is_bf16(half_bits) { return false; }
__device__ __forceinline__ bool is_bf16(bf16_bits) { return true; }

// d (64 x N fp32 per warpgroup, N / 8 tiles of 4 per thread) = or += A (64 x 16, K-major in shared memory) * B (16 x N,
// K-major in shared memory).
template <int N, class Element>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 8][4], unsigned long long desc_a, unsigned long long desc_b,
                                         bool accumulate) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::wgmma_ss(&d[0][0], N, desc_a, desc_b, accumulate, is_bf16(Element{}));
#else
  WgmmaInstruction<N>::ss(d, desc_a, desc_b, accumulate ? 1 : 0, Element{});
#endif
}

// d (64 x N) = or += A (64 x 16 from registers) * B (16 x N, MN-major in shared memory).
template <int N, class Element>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 8][4], const unsigned (&a)[4], unsigned long long desc_b,
                                         bool accumulate) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::wgmma_rs(&d[0][0], N, a, desc_b, accumulate, is_bf16(Element{}));
#else
  WgmmaInstruction<N>::rs(d, a, desc_b, accumulate ? 1 : 0, Element{});
#endif
}

// ---- registers and barriers ------------------------------------------------------------------------

// `value` as the compiler can see it is the same in every lane (lane 0's): branches on it are then
// known not to diverge, which ptxas needs to keep wgmma asynchronous inside them (otherwise it
// serializes every wgmma behind an inserted warpgroup barrier, warning C7520).
__device__ __forceinline__ int warp_uniform(int value) {
#if defined(FLASHJIT_HOST_EMULATION)
  return value;
#else
  return __shfl_sync(0xffffffffu, value, 0);
#endif
}

// The whole warpgroup must execute these (.sync.aligned). The producer gives registers back so the
// consumers can hold their accumulators.
template <int kRegisters>
__device__ __forceinline__ void setmaxnreg_dec() {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::setmaxnreg(false, kRegisters);
#else
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}

template <int kRegisters>
__device__ __forceinline__ void setmaxnreg_inc() {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::setmaxnreg(true, kRegisters);
#else
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}

// bar.sync on barrier `id` (1..15; 0 is __syncthreads) for `threads` threads (a multiple of 32).
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::named_barrier_sync(id, threads);
#else
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
#endif
}

// Orders this thread's ordinary writes to shared memory before the async proxy's reads that follow
// (wgmma's operands): without it a wgmma may read what was there before the writes.
__device__ __forceinline__ void fence_proxy_async_shared() {
#if !defined(FLASHJIT_HOST_EMULATION)
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// bar.arrive: signals barrier `id` (of `threads` threads) and goes on; the threads that bar.sync on
// it wait for these arrivals.
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::named_barrier_arrive(id, threads);
#else
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
#endif
}

}  // namespace dev
}  // namespace flashjit
