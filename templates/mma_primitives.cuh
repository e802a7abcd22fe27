// Tensor-core building blocks shared by the mma_sm80 and mma_sm75 kernels: shared-memory addresses,
// cp.async (and its synchronous stand-in), ldmatrix, mma.sync and fp32 -> f16x2/bf16x2 packing.
// Each wraps one PTX instruction; fragment layouts are the ones the PTX ISA gives for
// mma.m16n8k16 / m16n8k8 with .row.col operands (see mma_forward.cuh for how they are used).
//
// Under FLASHJIT_HOST_EMULATION (tests/emulation runs the kernels on the CPU) the instructions are
// replaced by host functions with the same warp-collective semantics, declared below and defined
// by tests/emulation; NVRTC never sees that branch.
#pragma once

#include "numeric.cuh"

namespace flashjit {
#if defined(FLASHJIT_HOST_EMULATION)
namespace emulation_hooks {
// Warp-collective, like the instructions: all 32 lanes call them together.
//   ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8i..8i+7 pass the 16-byte rows of matrix i.
void ldmatrix_x4(unsigned regs[4], const void* row_address, bool transpose);
//   mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32, accumulating in place.
void mma_m16n8k16(float acc[4], const unsigned a[4], const unsigned b[2], bool bf16);
//   mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32, accumulating in place.
void mma_m16n8k8(float acc[4], const unsigned a[2], unsigned b);
// Per thread: cp.async.cg.shared.global 16 bytes (src_bytes 0 or 16; the rest is zero-filled),
// cp.async.commit_group and cp.async.wait_group.
void cp_async_16(void* shared_dst, const void* global_src, int src_bytes);
void cp_async_commit();
void cp_async_wait(int pending_groups);
}  // namespace emulation_hooks
#endif

namespace dev {

// A shared-memory byte address: the 32-bit shared-window address on the device (what ldmatrix and
// cp.async take), a plain host address under emulation. Offsets in bytes add to either.
#if defined(FLASHJIT_HOST_EMULATION)
using smem_addr_t = unsigned long long;
__device__ __forceinline__ smem_addr_t to_smem_addr(const void* p) {
  return reinterpret_cast<unsigned long long>(p);
}
#else
using smem_addr_t = unsigned;
__device__ __forceinline__ smem_addr_t to_smem_addr(const void* p) {
  unsigned addr;
  asm("{ .reg .u64 a64; cvta.to.shared.u64 a64, %1; cvt.u32.u64 %0, a64; }" : "=r"(addr) : "l"(p));
  return addr;
}
#endif

// 16 bytes, the unit of every copy below.
struct alignas(16) Chunk16 {
  unsigned w[4];
};

// Asynchronous 16-byte global -> shared copy that bypasses L1 (.cg: K/V tiles are read once per
// block). `valid` false zero-fills the destination without reading global memory, which is how
// rows past the sequence end and padding columns become zeros. Needs sm_80.
__device__ __forceinline__ void cp_async_16(smem_addr_t dst, const void* src, bool valid) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::cp_async_16(reinterpret_cast<void*>(dst), src, valid ? 16 : 0);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most kPending of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::cp_async_wait(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

// The synchronous stand-in (Turing, and layouts not 16-byte aligned): an ordinary load and store,
// visible to other threads after the next __syncthreads like a waited cp.async.
__device__ __forceinline__ void copy_16(void* dst, const void* src, bool valid) {
  Chunk16 value = {{0u, 0u, 0u, 0u}};
  if (valid) value = *static_cast<const Chunk16*>(src);
  *static_cast<Chunk16*>(dst) = value;
}

// Four 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i, and lane l receives
// row l/4, columns 2(l%4) and 2(l%4)+1 of each (column l/4, rows 2(l%4) and 2(l%4)+1 with .trans).
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], smem_addr_t row_address) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::ldmatrix_x4(r, reinterpret_cast<const void*>(row_address), false);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(row_address));
#endif
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], smem_addr_t row_address) {
#if defined(FLASHJIT_HOST_EMULATION)
  ::flashjit::emulation_hooks::ldmatrix_x4(r, reinterpret_cast<const void*>(row_address), true);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(row_address));
#endif
}

// acc (16x8 fp32) += a (16x16, row) * b (16x8, col), Ampere and newer.
__device__ __forceinline__ void mma_m16n8k16(float (&acc)[4], const unsigned (&a)[4], unsigned b0, unsigned b1,
                                             half_bits) {
#if defined(FLASHJIT_HOST_EMULATION)
  const unsigned b[2] = {b0, b1};
  ::flashjit::emulation_hooks::mma_m16n8k16(acc, a, b, false);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

__device__ __forceinline__ void mma_m16n8k16(float (&acc)[4], const unsigned (&a)[4], unsigned b0, unsigned b1,
                                             bf16_bits) {
#if defined(FLASHJIT_HOST_EMULATION)
  const unsigned b[2] = {b0, b1};
  ::flashjit::emulation_hooks::mma_m16n8k16(acc, a, b, true);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// acc (16x8 fp32) += a (16x8, row) * b (8x8, col), f16 only; Turing's tensor-core shape.
__device__ __forceinline__ void mma_m16n8k8(float (&acc)[4], unsigned a0, unsigned a1, unsigned b) {
#if defined(FLASHJIT_HOST_EMULATION)
  const unsigned a[2] = {a0, a1};
  ::flashjit::emulation_hooks::mma_m16n8k8(acc, a, b);
#else
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
               : "r"(a0), "r"(a1), "r"(b));
#endif
}

// Two fp32 values as one 32-bit register of the element type, `lo` in the low half (the lower
// column of an mma fragment pair), rounded to nearest even.
__device__ __forceinline__ unsigned pack2(float lo, float hi, half_bits) {
#if defined(FLASHJIT_HOST_EMULATION)
  return static_cast<unsigned>(from_float<half_bits>(lo).bits) |
         (static_cast<unsigned>(from_float<half_bits>(hi).bits) << 16);
#else
  unsigned r;
#if __CUDA_ARCH__ >= 800
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#else
  // The paired conversion needs sm_80; Turing converts each half and packs them.
  asm("{ .reg .f16 lo16, hi16; cvt.rn.f16.f32 lo16, %1; cvt.rn.f16.f32 hi16, %2; mov.b32 %0, {lo16, hi16}; }"
      : "=r"(r)
      : "f"(lo), "f"(hi));
#endif
  return r;
#endif
}

__device__ __forceinline__ unsigned pack2(float lo, float hi, bf16_bits) {
#if defined(FLASHJIT_HOST_EMULATION)
  return static_cast<unsigned>(from_float<bf16_bits>(lo).bits) |
         (static_cast<unsigned>(from_float<bf16_bits>(hi).bits) << 16);
#else
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#endif
}

}  // namespace dev
}  // namespace flashjit
