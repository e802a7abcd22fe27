// Where each lane's register elements sit in the matrices of ldmatrix and mma.sync, written down from
// NVIDIA's PTX ISA, "Warp Level Matrix Multiply-Accumulate Instructions" (section numbers as in PTX
// ISA 9.0; they shift between versions, e.g. 9.7.13.4.x in 7.x, the titles do not). They are taken from the
// ISA text, not from any kernel, so the emulation (tensor_core_emulation.cpp) and its tests check a
// kernel's fragment handling independently of how the kernel's author read the same pages.
//
// Conventions, from the ISA's fragment tables: a fragment's elements are listed "low to high", two
// 16-bit elements per 32-bit register, so element i lives in register i / 2, in the low half when i
// is even. For every shape below:
//   groupID = %laneid >> 2,  threadID_in_group = %laneid % 4.
// A is M x K (row = m, col = k), B is K x N (row = k, col = n), C/D is M x N.
#pragma once

namespace flashjit {
namespace emulation {
namespace ptx_layout {

struct MatrixPos {
  int row;
  int col;
};

constexpr int group_id(int lane) { return lane >> 2; }
constexpr int thread_in_group(int lane) { return lane % 4; }

// ldmatrix .m8n8 .b16 (§9.7.14.5.15 "Warp-level matrix load instruction: ldmatrix", Figure 104):
// "each thread in a warp loads fragments of a row, with thread 0 receiving the first fragment in its
// register r, and so on. A group of four threads loads an entire row of the matrix": lane l holds
// row l/4, columns 2(l%4) and 2(l%4)+1 (element e = 0 in the low half). With .x4, register i holds
// matrix i, whose rows 0..7 start at the addresses lanes 8i..8i+7 give. With .trans "the matrix is
// loaded in column-major format": the matrix delivered is the transpose of the rows in memory, so
// the same (row, col) of the delivered matrix is (col, row) of the stored one.
constexpr MatrixPos ldmatrix_m8n8_b16(int lane, int e) { return {group_id(lane), 2 * thread_in_group(lane) + e}; }

// mma.m16n8k16, .f16/.bf16 multiplicands (§9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with
// floating point type", Figures 79, 81, 83).
//   A, a0..a7 in four .f16x2 registers:
//     row = groupID for ai where 0 <= i < 2 || 4 <= i < 6, groupID + 8 otherwise
//     col = threadID_in_group * 2 + (i & 1), plus 8 for i >= 4
constexpr MatrixPos mma_m16n8k16_a(int lane, int i) {
  return {group_id(lane) + 8 * ((i >> 1) & 1), 2 * thread_in_group(lane) + (i & 1) + 8 * (i >> 2)};
}
//   B, b0..b3 in two .f16x2 registers:
//     row = threadID_in_group * 2 + (i & 1), plus 8 for i >= 2;  col = groupID
constexpr MatrixPos mma_m16n8k16_b(int lane, int i) {
  return {2 * thread_in_group(lane) + (i & 1) + 8 * (i >> 1), group_id(lane)};
}

// mma.m16n8k8, .f16/.bf16 multiplicands (§9.7.14.5.7 "Matrix Fragments for mma.m16n8k8",
// Figures 71, 74).
//   A, a0..a3 in two .f16x2 registers: row = groupID for a0, a1, groupID + 8 for a2, a3;
//     col = threadID_in_group * 2 + (i & 1)
constexpr MatrixPos mma_m16n8k8_a(int lane, int i) {
  return {group_id(lane) + 8 * (i >> 1), 2 * thread_in_group(lane) + (i & 1)};
}
//   B, b0..b1 in one .f16x2 register: row = threadID_in_group * 2 + i;  col = groupID
constexpr MatrixPos mma_m16n8k8_b(int lane, int i) { return {2 * thread_in_group(lane) + i, group_id(lane)}; }

// The f32 accumulator C/D, c0..c3 in four .f32 registers, the same for m16n8k16 (Figure 83) and
// m16n8k8 (Figure 77): row = groupID for c0, c1, groupID + 8 for c2, c3;
//   col = threadID_in_group * 2 + (i & 1)
constexpr MatrixPos mma_m16n8_c(int lane, int i) {
  return {group_id(lane) + 8 * (i >> 1), 2 * thread_in_group(lane) + (i & 1)};
}

// mma.m8n8k4 with .f16 multiplicands (§9.7.14.5.1 in PTX ISA 8.x/9.0, §9.7.15.5.1 later: "Matrix
// Fragments for mma.m8n8k4 with .f16 floating point type", Figures 46-52), Volta's shape. Unlike the
// shapes above, "a warp executing mma.m8n8k4 with .f16 floating point type will compute 4 MMA
// operations": computation q (0..3 here, 1..4 in the ISA's table) is done by the lanes 4q..4q+3 (the
// "low group") and 16+4q..16+4q+3 (the "high group"), each computation with its own A, B, C and D.
// The positions below are within the lane's own computation's matrices. In the ISA's formulas only
// %laneid % 4 (or its bits) and whether %laneid < 16 enter; "+ 4" is the high group.
constexpr int quad_pair(int lane) { return (lane >> 2) & 3; }
constexpr int high_group(int lane) { return lane >= 16 ? 4 : 0; }

//   A (8 x 4), a0..a3 in two .f16x2 registers. Row-major (Figure 46):
//     row = %laneid % 4 (+ 4 in the high group);  col = i
constexpr MatrixPos mma_m8n8k4_a_row(int lane, int i) { return {lane % 4 + high_group(lane), i}; }
//   Column-major (Figure 47): row = i % 4 (+ 4 in the high group);  col = %laneid % 4
constexpr MatrixPos mma_m8n8k4_a_col(int lane, int i) { return {i % 4 + high_group(lane), lane % 4}; }
//   B (4 x 8), b0..b3 in two .f16x2 registers. Row-major (Figure 48):
//     row = %laneid % 4;  col = i (+ 4 in the high group)
constexpr MatrixPos mma_m8n8k4_b_row(int lane, int i) { return {lane % 4, i + high_group(lane)}; }
//   Column-major (Figure 49): row = i;  col = %laneid % 4 (+ 4 in the high group)
constexpr MatrixPos mma_m8n8k4_b_col(int lane, int i) { return {i, lane % 4 + high_group(lane)}; }
//   C/D (8 x 8) as .f16, c0..c7 in four .f16x2 registers (Figure 50):
//     row = %laneid % 4 (+ 4 in the high group);  col = i
constexpr MatrixPos mma_m8n8k4_c_f16(int lane, int i) { return {lane % 4 + high_group(lane), i}; }
//   C/D as .f32, c0..c7 in eight .f32 registers (Figures 51 and 52, one formula for both):
//     row = X (+ 4 in the high group), X = (%laneid & 0b1) + (i & 0b10)
//     col = (i & 0b100) + (%laneid & 0b10) + (i & 0b1)
constexpr MatrixPos mma_m8n8k4_c_f32(int lane, int i) {
  return {(lane & 1) + (i & 2) + high_group(lane), (i & 4) + (lane & 2) + (i & 1)};
}

}  // namespace ptx_layout
}  // namespace emulation
}  // namespace flashjit
