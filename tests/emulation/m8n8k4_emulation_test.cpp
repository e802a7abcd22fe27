// Volta's mma.sync.aligned.m8n8k4 under the emulation (tensor_core_emulation.cpp), driven through
// templates/mma_sm70_primitives.cuh by one-warp kernels: the ISA layouts of mma_fragment_layouts.h
// themselves, the instruction against a plain matrix product for each of the warp's four quad-pair
// products at every lane, and the kernel's conversion of an fp32 accumulator tile into the A
// fragments of the next product (the P of O += P V).
#define FLASHJIT_HOST_EMULATION 1

#include <cstddef>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"

#include "emulation/cuda_emulation.h"
#include "emulation/mma_fragment_layouts.h"
#include "mma_sm70_primitives.cuh"

namespace flashjit {
namespace {

namespace layout = emulation::ptx_layout;
using layout::MatrixPos;
using Layout = MatrixPos (*)(int, int);

constexpr std::size_t kSharedBytes = 4096;

void run_warp(const std::function<void()>& kernel) {
  emulation::run_grid(dim3{1, 1, 1}, dim3{32, 1, 1}, kSharedBytes, kernel);
}

int lane() { return static_cast<int>(threadIdx.x % 32); }

// ---- the layouts ----------------------------------------------------------------------------------

// Within each quad pair, the 8 lanes' `per_lane` elements cover the rows x cols matrix exactly once.
void expect_each_quad_pair_covers_its_matrix(Layout fragment, int rows, int cols, int per_lane) {
  for (int q = 0; q < 4; ++q) {
    std::vector<int> hits(static_cast<std::size_t>(rows * cols), 0);
    for (int l = 0; l < 32; ++l) {
      if (layout::quad_pair(l) != q) continue;
      for (int i = 0; i < per_lane; ++i) {
        const MatrixPos pos = fragment(l, i);
        ASSERT_TRUE(pos.row >= 0 && pos.row < rows && pos.col >= 0 && pos.col < cols) << "lane " << l << " i " << i;
        ++hits[static_cast<std::size_t>(pos.row * cols + pos.col)];
      }
    }
    for (int h : hits) EXPECT_EQ(h, 1) << "quad pair " << q;
  }
}

TEST(M8n8k4Layouts, EachQuadPairCoversItsMatricesExactlyOnce) {
  expect_each_quad_pair_covers_its_matrix(layout::mma_m8n8k4_a_row, 8, 4, 4);
  expect_each_quad_pair_covers_its_matrix(layout::mma_m8n8k4_a_col, 8, 4, 4);
  expect_each_quad_pair_covers_its_matrix(layout::mma_m8n8k4_b_row, 4, 8, 4);
  expect_each_quad_pair_covers_its_matrix(layout::mma_m8n8k4_b_col, 4, 8, 4);
  expect_each_quad_pair_covers_its_matrix(layout::mma_m8n8k4_c_f16, 8, 8, 8);
  expect_each_quad_pair_covers_its_matrix(layout::mma_m8n8k4_c_f32, 8, 8, 8);
}

TEST(M8n8k4Layouts, QuadPairsAreTheIsaTablesLaneGroups) {
  // "MMA computation 1: threads with %laneid 0-3 (low group) and 16-19 (high group)", ... 4: 12-15, 28-31.
  for (int q = 0; q < 4; ++q)
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(layout::quad_pair(4 * q + i), q);
      EXPECT_EQ(layout::quad_pair(16 + 4 * q + i), q);
    }
}

TEST(M8n8k4Layouts, MatchTheIsaFiguresAtSpotChecks) {
  // Figure 46: lane 18 (high group, %laneid % 4 = 2) holds row 6 of A, a3 at column 3.
  EXPECT_EQ(layout::mma_m8n8k4_a_row(18, 3).row, 6);
  EXPECT_EQ(layout::mma_m8n8k4_a_row(18, 3).col, 3);
  // Figure 47: column-major A, lane 18's a1 is row 5, column 2.
  EXPECT_EQ(layout::mma_m8n8k4_a_col(18, 1).row, 5);
  EXPECT_EQ(layout::mma_m8n8k4_a_col(18, 1).col, 2);
  // Figure 48: row-major B, lane 21 (high, %4 = 1) b2 is row 1, column 6.
  EXPECT_EQ(layout::mma_m8n8k4_b_row(21, 2).row, 1);
  EXPECT_EQ(layout::mma_m8n8k4_b_row(21, 2).col, 6);
  // Figure 49: column-major B, lane 21 b2 is row 2, column 5.
  EXPECT_EQ(layout::mma_m8n8k4_b_col(21, 2).row, 2);
  EXPECT_EQ(layout::mma_m8n8k4_b_col(21, 2).col, 5);
  // Figures 51/52: lane 19 holds (5,2) (5,3) (7,2) (7,3) (5,6) (5,7) (7,6) (7,7).
  const MatrixPos lane19[8] = {{5, 2}, {5, 3}, {7, 2}, {7, 3}, {5, 6}, {5, 7}, {7, 6}, {7, 7}};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(layout::mma_m8n8k4_c_f32(19, i).row, lane19[i].row) << "c" << i;
    EXPECT_EQ(layout::mma_m8n8k4_c_f32(19, i).col, lane19[i].col) << "c" << i;
  }
  // Lane 4 (quad pair 1, low) holds what lane 0 holds, in its own computation: (0,0) (0,1) (2,0) ...
  EXPECT_EQ(layout::mma_m8n8k4_c_f32(4, 2).row, 2);
  EXPECT_EQ(layout::mma_m8n8k4_c_f32(4, 2).col, 0);
  // Figure 50: f16 C is laid out like row-major A, 8 columns wide.
  EXPECT_EQ(layout::mma_m8n8k4_c_f16(23, 7).row, 7);
  EXPECT_EQ(layout::mma_m8n8k4_c_f16(23, 7).col, 7);
}

// ---- the instruction ------------------------------------------------------------------------------

// Odd integers, different in every quad pair: products and sums of four are exact in float (so
// every accumulation order gives the plain product), no element is zero (a dropped one shows), and
// a lane that reached another quad pair's matrices would change the result.
float a_value(int q, int m, int k) { return static_cast<float>(2 * ((3 * q + 5 * m + 7 * k) % 7) - 7); }
float b_value(int q, int k, int n) { return static_cast<float>(2 * ((5 * q + 3 * k + 2 * n) % 8) - 7); }
float c_value(int q, int m, int n) { return static_cast<float>(2 * ((7 * q + 3 * m + n) % 11) - 9); }

unsigned pack(float lo, float hi) {
  return static_cast<unsigned>(float_to_half_bits(lo)) | (static_cast<unsigned>(float_to_half_bits(hi)) << 16);
}

// The lane's two registers of a 4-element fragment of `matrix` (q, row, col) by `fragment`.
template <class Values>
void fragment_registers(Layout fragment, Values matrix, int l, unsigned (&regs)[2]) {
  const int q = layout::quad_pair(l);
  for (int r = 0; r < 2; ++r) {
    const MatrixPos lo = fragment(l, 2 * r), hi = fragment(l, 2 * r + 1);
    regs[r] = pack(matrix(q, lo.row, lo.col), matrix(q, hi.row, hi.col));
  }
}

enum class Form { row_col, row_row, col_col, col_row };

struct FormLayouts {
  Layout a;
  Layout b;
};

FormLayouts layouts_of(Form form) {
  switch (form) {
    case Form::row_col: return {layout::mma_m8n8k4_a_row, layout::mma_m8n8k4_b_col};
    case Form::row_row: return {layout::mma_m8n8k4_a_row, layout::mma_m8n8k4_b_row};
    case Form::col_col: return {layout::mma_m8n8k4_a_col, layout::mma_m8n8k4_b_col};
    case Form::col_row: return {layout::mma_m8n8k4_a_col, layout::mma_m8n8k4_b_row};
  }
  return {layout::mma_m8n8k4_a_row, layout::mma_m8n8k4_b_col};
}

// The kernel's two forms through their wrappers; the two column-major-A forms (which no kernel
// uses) through the hook.
void issue(Form form, float (&acc)[8], const unsigned (&a)[2], const unsigned (&b)[2]) {
  switch (form) {
    case Form::row_col: return dev::mma_m8n8k4_row_col(acc, a[0], a[1], b[0], b[1]);
    case Form::row_row: return dev::mma_m8n8k4_row_row(acc, a[0], a[1], b[0], b[1]);
    case Form::col_col: return emulation_hooks::mma_m8n8k4(acc, a, b, true, true);
    case Form::col_row: return emulation_hooks::mma_m8n8k4(acc, a, b, true, false);
  }
}

// Every lane's eight results against D = A B + C of its quad pair, computed plainly.
void expect_plain_product(Form form) {
  const FormLayouts forms = layouts_of(form);
  std::vector<float> d(32 * 8, -1.0f);
  run_warp([&] {
    const int l = lane();
    unsigned a[2], b[2];
    fragment_registers(forms.a, a_value, l, a);
    fragment_registers(forms.b, b_value, l, b);
    float acc[8];
    for (int i = 0; i < 8; ++i) {
      const MatrixPos pos = layout::mma_m8n8k4_c_f32(l, i);
      acc[i] = c_value(layout::quad_pair(l), pos.row, pos.col);
    }
    issue(form, acc, a, b);
    for (int i = 0; i < 8; ++i) d[static_cast<std::size_t>(8 * l + i)] = acc[i];
  });
  for (int l = 0; l < 32; ++l) {
    const int q = layout::quad_pair(l);
    for (int i = 0; i < 8; ++i) {
      const MatrixPos pos = layout::mma_m8n8k4_c_f32(l, i);
      float expected = c_value(q, pos.row, pos.col);
      for (int k = 0; k < 4; ++k) expected += a_value(q, pos.row, k) * b_value(q, k, pos.col);
      EXPECT_EQ(d[static_cast<std::size_t>(8 * l + i)], expected) << "lane " << l << " c" << i;
    }
  }
}

TEST(M8n8k4Emulation, RowColMatchesThePlainProductAtEveryLane) { expect_plain_product(Form::row_col); }
TEST(M8n8k4Emulation, RowRowMatchesThePlainProductAtEveryLane) { expect_plain_product(Form::row_row); }
TEST(M8n8k4Emulation, ColColMatchesThePlainProductAtEveryLane) { expect_plain_product(Form::col_col); }
TEST(M8n8k4Emulation, ColRowMatchesThePlainProductAtEveryLane) { expect_plain_product(Form::col_row); }

// ---- accumulator to A fragments (P of O += P V) ----------------------------------------------------

float s_value(int q, int m, int n) { return static_cast<float>(2 * ((5 * q + 3 * m + 7 * n) % 13) - 11) * 0.25f; }

// Every lane's A fragments (keys 0-3 and 4-7) hold, by the ISA's row-major A layout, the f16 of its
// quad pair's accumulator tile.
TEST(M8n8k4Emulation, AccumulatorBecomesTheRowMajorAFragmentsOfBothKeySteps) {
  std::vector<unsigned> regs(32 * 4);
  run_warp([&] {
    const int l = lane();
    float c[8];
    for (int i = 0; i < 8; ++i) {
      const MatrixPos pos = layout::mma_m8n8k4_c_f32(l, i);
      c[i] = s_value(layout::quad_pair(l), pos.row, pos.col);
    }
    unsigned a[2][2];
    dev::accumulator_to_a_fragments(c, a, l);
    for (int step = 0; step < 2; ++step)
      for (int r = 0; r < 2; ++r) regs[static_cast<std::size_t>(4 * l + 2 * step + r)] = a[step][r];
  });
  for (int l = 0; l < 32; ++l)
    for (int step = 0; step < 2; ++step)
      for (int i = 0; i < 4; ++i) {
        const MatrixPos pos = layout::mma_m8n8k4_a_row(l, i);
        const unsigned reg = regs[static_cast<std::size_t>(4 * l + 2 * step + i / 2)];
        const auto bits = static_cast<unsigned short>(reg >> (16 * (i % 2)));
        EXPECT_EQ(bits, float_to_half_bits(s_value(layout::quad_pair(l), pos.row, 4 * step + pos.col)))
            << "lane " << l << " key step " << step << " a" << i;
      }
}

// The two products of attention chained in registers, as the kernel does: S = A B1 (row.col), its
// A fragments by the exchange, then O = S B2 over S's 8 columns in two k4 steps (row.row).
TEST(M8n8k4Emulation, ChainedProductsThroughTheExchange) {
  auto b2_value = [](int q, int k, int n) { return static_cast<float>(((q + 2 * k + 3 * n) % 5) - 2); };
  std::vector<float> o(32 * 8, -1.0f);
  run_warp([&] {
    const int l = lane();
    unsigned a[2];
    fragment_registers(layout::mma_m8n8k4_a_row, a_value, l, a);
    float s[8] = {};
    unsigned b1[2];
    fragment_registers(layout::mma_m8n8k4_b_col, b_value, l, b1);
    dev::mma_m8n8k4_row_col(s, a[0], a[1], b1[0], b1[1]);
    unsigned p[2][2];
    dev::accumulator_to_a_fragments(s, p, l);
    float acc[8] = {};
    for (int step = 0; step < 2; ++step) {
      unsigned b2[2];
      fragment_registers(
          layout::mma_m8n8k4_b_row, [&](int q, int k, int n) { return b2_value(q, 4 * step + k, n); }, l, b2);
      dev::mma_m8n8k4_row_row(acc, p[step][0], p[step][1], b2[0], b2[1]);
    }
    for (int i = 0; i < 8; ++i) o[static_cast<std::size_t>(8 * l + i)] = acc[i];
  });
  for (int l = 0; l < 32; ++l) {
    const int q = layout::quad_pair(l);
    for (int i = 0; i < 8; ++i) {
      const MatrixPos pos = layout::mma_m8n8k4_c_f32(l, i);
      float expected = 0.0f;
      for (int j = 0; j < 8; ++j) {
        float s = 0.0f;
        for (int k = 0; k < 4; ++k) s += a_value(q, pos.row, k) * b_value(q, k, j);
        expected += s * b2_value(q, j, pos.col);
      }
      EXPECT_EQ(o[static_cast<std::size_t>(8 * l + i)], expected) << "lane " << l << " c" << i;
    }
  }
}

// ---- misuse -----------------------------------------------------------------------------------------

TEST(M8n8k4EmulationDeathTest, LanesThatDisagreeOnTheLayoutsDiverge) {
  EXPECT_DEATH(run_warp([] {
                 float acc[8] = {};
                 if (lane() < 16)
                   dev::mma_m8n8k4_row_col(acc, 0u, 0u, 0u, 0u);
                 else
                   dev::mma_m8n8k4_row_row(acc, 0u, 0u, 0u, 0u);
               }),
               "diverged: lane 16 called mma.m8n8k4.row.row while lanes before it called mma.m8n8k4.row.col");
}

TEST(M8n8k4EmulationDeathTest, SharedLoadsMustBeAlignedAndInside) {
  EXPECT_DEATH(run_warp([] {
                 unsigned r[2];
                 dev::load_shared_8(r, dev::to_smem_addr(reinterpret_cast<char*>(dev::smem) + 8 * lane() +
                                                         (lane() == 5 ? 4 : 0)));
               }),
               "ld.shared.v2.b32: address .* is not 8-byte aligned.*thread 5\\)");
  EXPECT_DEATH(run_warp([] {
                 unsigned r[4];
                 dev::load_shared_16(r, dev::to_smem_addr(reinterpret_cast<char*>(dev::smem) + kSharedBytes));
               }),
               "ld.shared.v4.b32: bytes .* are not inside the 4096 bytes of shared memory the launch reserved");
}

}  // namespace
}  // namespace flashjit
