// Volta's tensor-core instruction and the shared-memory loads that feed it (mma_sm70_forward.cuh).
//
// mma.sync.aligned.m8n8k4 (PTX ISA, "Matrix Fragments for mma.m8n8k4 with .f16 floating point
// type", Figures 46-52) is four independent 8x8x4 products per warp: quad pair q = (lane >> 2) & 3,
// the lanes 4q..4q+3 (low group) and 16+4q..16+4q+3 (high group), has its own A, B, C and D. With
// L = lane % 4 and H = 4 in the high group, 0 in the low one, within the quad pair's matrices:
//   A row-major (8x4), two f16x2 registers: a_i at (row L + H, col i)
//   B row-major (4x8):                      b_i at (row L, col i + H)
//   B col-major (4x8):                      b_i at (row i, col L + H)
//   C/D f32 (8x8), eight registers:          c_i at (row (lane & 1) + (i & 2) + H, col (i & 4) + (lane & 2) + (i & 1))
// Element i of a register pair is register i / 2, in the low half for even i.
// On sm_70/72 it is the native HMMA.884; ptxas accepts it for any newer target (emulated there on the
// CUDA cores from sm_80 on, so only the forced variant runs it there).
//
// Under FLASHJIT_HOST_EMULATION the instruction and the loads' address checks are host functions
// (tests/emulation); NVRTC never sees that branch.
#pragma once

#include "mma_primitives.cuh"

namespace flashjit {
#if defined(FLASHJIT_HOST_EMULATION)
namespace emulation_hooks {
// Warp-collective: mma.sync.aligned.m8n8k4.{row,col}.{row,col}.f32.f16.f16.f32, accumulating in
// place (every lane must pass the same layouts, as every lane of the instruction has the same
// qualifiers).
void mma_m8n8k4(float acc[8], const unsigned a[2], const unsigned b[2], bool a_col, bool b_col);
// Per thread: fails unless [address, address + bytes) is aligned to `bytes` and inside the shared
// memory the launch reserved; `what` names the load.
void check_shared_load(const void* address, int bytes, const char* what);
}  // namespace emulation_hooks
#endif

namespace dev {

// acc (8x8 fp32 per quad pair) += a (8x4, row-major) * b (4x8, column-major): S = Q K^T, whose B is
// K^T, so each lane's b is 4 consecutive head-dim elements of one K row.
__device__ __forceinline__ void mma_m8n8k4_row_col(float (&acc)[8], unsigned a0, unsigned a1, unsigned b0,
                                                   unsigned b1) {
#if defined(FLASHJIT_HOST_EMULATION)
  const unsigned a[2] = {a0, a1};
  const unsigned b[2] = {b0, b1};
  ::flashjit::emulation_hooks::mma_m8n8k4(acc, a, b, false, true);
#else
  asm volatile(
      "mma.sync.aligned.m8n8k4.row.col.f32.f16.f16.f32 {%0, %1, %2, %3, %4, %5, %6, %7}, {%8, %9}, {%10, %11}, "
      "{%0, %1, %2, %3, %4, %5, %6, %7};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3]), "+f"(acc[4]), "+f"(acc[5]), "+f"(acc[6]),
        "+f"(acc[7])
      : "r"(a0), "r"(a1), "r"(b0), "r"(b1));
#endif
}

// acc += a (8x4, row-major) * b (4x8, row-major): O += P V, whose B is V, so each lane's b is 4
// consecutive head-dim elements of one V row.
__device__ __forceinline__ void mma_m8n8k4_row_row(float (&acc)[8], unsigned a0, unsigned a1, unsigned b0,
                                                   unsigned b1) {
#if defined(FLASHJIT_HOST_EMULATION)
  const unsigned a[2] = {a0, a1};
  const unsigned b[2] = {b0, b1};
  ::flashjit::emulation_hooks::mma_m8n8k4(acc, a, b, false, false);
#else
  asm volatile(
      "mma.sync.aligned.m8n8k4.row.row.f32.f16.f16.f32 {%0, %1, %2, %3, %4, %5, %6, %7}, {%8, %9}, {%10, %11}, "
      "{%0, %1, %2, %3, %4, %5, %6, %7};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3]), "+f"(acc[4]), "+f"(acc[5]), "+f"(acc[6]),
        "+f"(acc[7])
      : "r"(a0), "r"(a1), "r"(b0), "r"(b1));
#endif
}

// P for O += P V from one 8x8 fp32 accumulator tile S of the lane's quad pair (after the softmax):
// the row-major A fragments of its keys 0-3 (a[0]) and 4-7 (a[1]), rounded to f16. The lane holds
// rows r = lane & 1 and r + 2 at columns 2c, 2c+1 and 4+2c, 4+2c+1 (c = (lane >> 1) & 1) and needs
// row lane % 4 = r + 2c at every column: its own two pairs of that row, and the other two from
// lane ^ 2, which holds the same rows at the other columns. Two shuffles, no shared memory.
__device__ __forceinline__ void accumulator_to_a_fragments(const float (&c)[8], unsigned (&a)[2][2], int lane) {
  const unsigned row_lo_cols_lo = pack2(c[0], c[1], half_bits{});  // row r,     columns 2c, 2c+1
  const unsigned row_hi_cols_lo = pack2(c[2], c[3], half_bits{});  // row r + 2, columns 2c, 2c+1
  const unsigned row_lo_cols_hi = pack2(c[4], c[5], half_bits{});  // row r,     columns 4+2c, 4+2c+1
  const unsigned row_hi_cols_hi = pack2(c[6], c[7], half_bits{});  // row r + 2, columns 4+2c, 4+2c+1
  const bool odd_pair = (lane & 2) != 0;                            // c == 1: this lane's A row is r + 2
  // The partner (c' = 1 - c) needs the row this lane does not: row r + 2 when this lane is c = 0.
  const unsigned send_lo = odd_pair ? row_lo_cols_lo : row_hi_cols_lo;
  const unsigned send_hi = odd_pair ? row_lo_cols_hi : row_hi_cols_hi;
  const unsigned got_lo = __shfl_xor_sync(0xffffffffu, send_lo, 2);
  const unsigned got_hi = __shfl_xor_sync(0xffffffffu, send_hi, 2);
  // Register 0 holds columns 0-1 (of the k step), register 1 columns 2-3.
  a[0][0] = odd_pair ? got_lo : row_lo_cols_lo;
  a[0][1] = odd_pair ? row_hi_cols_lo : got_lo;
  a[1][0] = odd_pair ? got_hi : row_lo_cols_hi;
  a[1][1] = odd_pair ? row_hi_cols_hi : got_hi;
}

// 8 bytes (two f16x2 registers: four consecutive elements of a tile row) from shared memory.
__device__ __forceinline__ void load_shared_8(unsigned (&r)[2], smem_addr_t address) {
#if defined(FLASHJIT_HOST_EMULATION)
  const void* from = reinterpret_cast<const void*>(address);
  ::flashjit::emulation_hooks::check_shared_load(from, 8, "ld.shared.v2.b32");
  __builtin_memcpy(r, from, 8);
#else
  asm volatile("ld.shared.v2.b32 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(address));
#endif
}

// 16 bytes (one chunk of a tile row: eight consecutive elements, two k4 steps of a fragment).
__device__ __forceinline__ void load_shared_16(unsigned (&r)[4], smem_addr_t address) {
#if defined(FLASHJIT_HOST_EMULATION)
  const void* from = reinterpret_cast<const void*>(address);
  ::flashjit::emulation_hooks::check_shared_load(from, 16, "ld.shared.v4.b32");
  __builtin_memcpy(r, from, 16);
#else
  asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
#endif
}

}  // namespace dev
}  // namespace flashjit
