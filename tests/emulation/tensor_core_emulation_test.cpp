// The emulated tensor-core instructions (tensor_core_emulation.cpp, cp_async_emulation.cpp), driven
// through templates/mma_primitives.cuh by small one-warp kernels, against naive math and the PTX ISA
// fragment layouts of mma_fragment_layouts.h. The emulation is checked against itself plus those
// layouts, so a kernel that passes under emulation agrees with the ISA as written down there; what
// that cannot catch is a misreading of the ISA shared by the layouts and a kernel (hence the layouts
// are taken from the ISA text, not from the kernels).
#define FLASHJIT_HOST_EMULATION 1

#include <cstddef>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"

#include "emulation/cuda_emulation.h"
#include "emulation/mma_fragment_layouts.h"
#include "mma_primitives.cuh"

namespace flashjit {
namespace {

namespace layout = emulation::ptx_layout;
using layout::MatrixPos;

constexpr std::size_t kSharedBytes = 8192;

// One block of one warp.
void run_warp(const std::function<void()>& kernel) {
  emulation::run_grid(dim3{1, 1, 1}, dim3{32, 1, 1}, kSharedBytes, kernel);
}

unsigned lane() { return threadIdx.x % 32; }
unsigned short* shared_b16() { return reinterpret_cast<unsigned short*>(dev::smem); }

// ---- the layouts themselves --------------------------------------------------------------------------

void expect_covers_each_element_once(MatrixPos (*fragment)(int, int), int rows, int cols, int per_lane) {
  std::vector<int> hits(static_cast<std::size_t>(rows * cols), 0);
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < per_lane; ++i) {
      const MatrixPos pos = fragment(l, i);
      ASSERT_TRUE(pos.row >= 0 && pos.row < rows && pos.col >= 0 && pos.col < cols) << "lane " << l << " i " << i;
      ++hits[static_cast<std::size_t>(pos.row * cols + pos.col)];
    }
  for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(PtxFragmentLayouts, EachCoversItsMatrixExactlyOnce) {
  expect_covers_each_element_once(layout::ldmatrix_m8n8_b16, 8, 8, 2);
  expect_covers_each_element_once(layout::mma_m16n8k16_a, 16, 16, 8);
  expect_covers_each_element_once(layout::mma_m16n8k16_b, 16, 8, 4);
  expect_covers_each_element_once(layout::mma_m16n8k8_a, 16, 8, 4);
  expect_covers_each_element_once(layout::mma_m16n8k8_b, 8, 8, 2);
  expect_covers_each_element_once(layout::mma_m16n8_c, 16, 8, 4);
}

TEST(PtxFragmentLayouts, MatchTheIsaFiguresAtSpotChecks) {
  // Lane 5: groupID 1, threadID_in_group 1.
  EXPECT_EQ(layout::mma_m16n8k16_a(5, 0).row, 1);
  EXPECT_EQ(layout::mma_m16n8k16_a(5, 0).col, 2);
  EXPECT_EQ(layout::mma_m16n8k16_a(5, 3).row, 9);  // a2, a3: groupID + 8
  EXPECT_EQ(layout::mma_m16n8k16_a(5, 3).col, 3);
  EXPECT_EQ(layout::mma_m16n8k16_a(5, 5).row, 1);  // a4, a5: columns + 8
  EXPECT_EQ(layout::mma_m16n8k16_a(5, 5).col, 11);
  EXPECT_EQ(layout::mma_m16n8k16_b(5, 3).row, 11);  // b2, b3: rows + 8
  EXPECT_EQ(layout::mma_m16n8k16_b(5, 3).col, 1);
  EXPECT_EQ(layout::mma_m16n8_c(31, 3).row, 15);
  EXPECT_EQ(layout::mma_m16n8_c(31, 3).col, 7);
  EXPECT_EQ(layout::ldmatrix_m8n8_b16(31, 1).row, 7);
  EXPECT_EQ(layout::ldmatrix_m8n8_b16(31, 1).col, 7);
}

// ---- ldmatrix ------------------------------------------------------------------------------------------

// Element (row, col) of matrix m, as arbitrary distinct bits (ldmatrix moves bits, not numbers).
unsigned short ldmatrix_test_bits(int m, int row, int col) {
  return static_cast<unsigned short>(0xa000 | (m << 8) | (row << 4) | col);
}

// Rows in a scrambled order, 32 bytes apart with 16 bytes of poison after each: ldmatrix must take
// each row from its own address and read 16 bytes of it.
int ldmatrix_test_row_slot(int m, int row) { return (7 * (8 * m + row) + 3) % 32; }

std::vector<unsigned> run_ldmatrix_x4(bool transpose) {
  std::vector<unsigned> regs(32 * 4);
  run_warp([&] {
    const int l = static_cast<int>(lane());
    // Lane l writes row l % 8 of matrix l / 8.
    for (int c = 0; c < 8; ++c)
      shared_b16()[16 * ldmatrix_test_row_slot(l / 8, l % 8) + c] = ldmatrix_test_bits(l / 8, l % 8, c);
    __syncthreads();
    // Lanes 8m..8m+7 give rows 0..7 of matrix m.
    const unsigned short* row = shared_b16() + 16 * ldmatrix_test_row_slot(l / 8, l % 8);
    unsigned r[4];
    if (transpose)
      dev::ldmatrix_x4_trans(r, dev::to_smem_addr(row));
    else
      dev::ldmatrix_x4(r, dev::to_smem_addr(row));
    for (int i = 0; i < 4; ++i) regs[4 * lane() + static_cast<unsigned>(i)] = r[i];
  });
  return regs;
}

void expect_ldmatrix_layout(const std::vector<unsigned>& regs, bool transpose) {
  for (int l = 0; l < 32; ++l)
    for (int m = 0; m < 4; ++m)
      for (int e = 0; e < 2; ++e) {
        const MatrixPos pos = layout::ldmatrix_m8n8_b16(l, e);
        // .trans delivers the transposed matrix: its (row, col) is the stored (col, row).
        const unsigned short expected =
            transpose ? ldmatrix_test_bits(m, pos.col, pos.row) : ldmatrix_test_bits(m, pos.row, pos.col);
        const unsigned got = (regs[static_cast<std::size_t>(4 * l + m)] >> (16 * e)) & 0xffffu;
        EXPECT_EQ(got, expected) << "lane " << l << " matrix " << m << " element " << e;
      }
}

TEST(TensorCoreEmulation, LdmatrixX4DeliversTheIsaFragmentLayout) {
  expect_ldmatrix_layout(run_ldmatrix_x4(false), false);
}

TEST(TensorCoreEmulation, LdmatrixX4TransDeliversTheTransposedMatrices) {
  expect_ldmatrix_layout(run_ldmatrix_x4(true), true);
}

// ---- mma.sync ------------------------------------------------------------------------------------------

// Values exact in f16 and bf16 whose products and sums of 16 are exact in float, so every
// accumulation order gives the naive result exactly.
float a_value(int m, int k) { return static_cast<float>((m * 5 + k * 3) % 9 - 4) * 0.25f; }
float b_value(int k, int n) { return static_cast<float>((k * 7 + n * 2) % 7 - 3) * 0.5f; }
float c_value(int m, int n) { return static_cast<float>((m * 3 + n) % 11 - 5); }

unsigned short encode(float value, bool bf16) { return bf16 ? float_to_bf16_bits(value) : float_to_half_bits(value); }

// C (16 x 16) = A (16 x 16) * B (16 x 16) + C0, in double.
std::vector<float> naive_product(bool with_c) {
  std::vector<float> c(16 * 16);
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      double sum = with_c ? c_value(m, n) : 0.0;
      for (int k = 0; k < 16; ++k) sum += static_cast<double>(a_value(m, k)) * b_value(k, n);
      c[static_cast<std::size_t>(m * 16 + n)] = static_cast<float>(sum);
    }
  return c;
}

enum class BStorage { n_major, k_major };  // B^T stored row-major as [n][k], or B as [k][n]
enum class Shape { m16n8k16, two_m16n8k8 };

constexpr int kPitch = 24;  // halves per shared-memory row: 48 bytes, rows 16-byte aligned, not packed

// One warp: A (16 x 16) and B (16 x 16, two n tiles of 8) into shared memory, A's fragments with
// ldmatrix.x4, B's with ldmatrix.x4 (.trans when stored [k][n]), the product of each n tile with
// mma.sync, accumulators written out by the PTX C layout.
std::vector<float> run_ldmatrix_mma(bool bf16, BStorage storage, Shape shape) {
  std::vector<float> c(16 * 16, -1.0f);
  run_warp([&] {
    unsigned short* a_smem = shared_b16();
    unsigned short* b_smem = a_smem + 16 * kPitch;
    const int l = static_cast<int>(lane());
    for (int idx = l; idx < 256; idx += 32) {
      const int r = idx / 16, col = idx % 16;
      a_smem[r * kPitch + col] = encode(a_value(r, col), bf16);
      // B(k = r, n = col)
      if (storage == BStorage::k_major)
        b_smem[r * kPitch + col] = encode(b_value(r, col), bf16);
      else
        b_smem[col * kPitch + r] = encode(b_value(r, col), bf16);
    }
    __syncthreads();
    // A: matrix i covers rows 8(i%2).., columns 8(i/2)..: registers 0..3 are a0a1, a2a3, a4a5, a6a7.
    unsigned a[4];
    dev::ldmatrix_x4(a, dev::to_smem_addr(a_smem + (l % 16) * kPitch + 8 * (l / 16)));
    // B: matrix i covers k 8(i%2).., n 8(i/2)..: registers 2t, 2t+1 are b0b1, b2b3 of n tile t.
    unsigned b[4];
    if (storage == BStorage::k_major)
      dev::ldmatrix_x4_trans(b, dev::to_smem_addr(b_smem + (l % 16) * kPitch + 8 * (l / 16)));
    else
      dev::ldmatrix_x4(b, dev::to_smem_addr(b_smem + (l % 8 + 8 * (l / 16)) * kPitch + 8 * ((l / 8) % 2)));
    for (int tile = 0; tile < 2; ++tile) {
      float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      const unsigned b0 = b[2 * tile], b1 = b[2 * tile + 1];
      if (shape == Shape::two_m16n8k8) {
        dev::mma_m16n8k8(acc, a[0], a[1], b0);  // k 0..7
        dev::mma_m16n8k8(acc, a[2], a[3], b1);  // k 8..15
      } else if (bf16) {
        dev::mma_m16n8k16(acc, a, b0, b1, dev::bf16_bits{});
      } else {
        dev::mma_m16n8k16(acc, a, b0, b1, dev::half_bits{});
      }
      for (int i = 0; i < 4; ++i) {
        const MatrixPos pos = layout::mma_m16n8_c(l, i);
        c[static_cast<std::size_t>(pos.row * 16 + 8 * tile + pos.col)] = acc[i];
      }
    }
  });
  return c;
}

void expect_matrix_eq(const std::vector<float>& got, const std::vector<float>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], expected[i]) << "row " << i / 16 << " column " << i % 16;
}

TEST(TensorCoreEmulation, LdmatrixThenMmaM16n8k16F16MatchesTheNaiveProduct) {
  expect_matrix_eq(run_ldmatrix_mma(false, BStorage::n_major, Shape::m16n8k16), naive_product(false));
}

TEST(TensorCoreEmulation, LdmatrixTransForBStoredKMajorThenMmaM16n8k16F16) {
  expect_matrix_eq(run_ldmatrix_mma(false, BStorage::k_major, Shape::m16n8k16), naive_product(false));
}

TEST(TensorCoreEmulation, LdmatrixThenMmaM16n8k16Bf16MatchesTheNaiveProduct) {
  expect_matrix_eq(run_ldmatrix_mma(true, BStorage::n_major, Shape::m16n8k16), naive_product(false));
  expect_matrix_eq(run_ldmatrix_mma(true, BStorage::k_major, Shape::m16n8k16), naive_product(false));
}

TEST(TensorCoreEmulation, TwoMmaM16n8k8MatchTheNaiveProduct) {
  expect_matrix_eq(run_ldmatrix_mma(false, BStorage::n_major, Shape::two_m16n8k8), naive_product(false));
  expect_matrix_eq(run_ldmatrix_mma(false, BStorage::k_major, Shape::two_m16n8k8), naive_product(false));
}

// The fragments built straight from the ISA layouts (no ldmatrix), with a nonzero accumulator: D = A B + C.
TEST(TensorCoreEmulation, MmaFromIsaFragmentsAccumulatesIntoC) {
  for (bool bf16 : {false, true}) {
    std::vector<float> c(16 * 16, -1.0f);
    run_warp([&] {
      const int l = static_cast<int>(lane());
      auto pack = [&](float lo, float hi) {
        return static_cast<unsigned>(encode(lo, bf16)) | (static_cast<unsigned>(encode(hi, bf16)) << 16);
      };
      unsigned a[4];
      for (int r = 0; r < 4; ++r) {
        const MatrixPos lo = layout::mma_m16n8k16_a(l, 2 * r), hi = layout::mma_m16n8k16_a(l, 2 * r + 1);
        a[r] = pack(a_value(lo.row, lo.col), a_value(hi.row, hi.col));
      }
      for (int tile = 0; tile < 2; ++tile) {
        unsigned b[2];
        for (int r = 0; r < 2; ++r) {
          const MatrixPos lo = layout::mma_m16n8k16_b(l, 2 * r), hi = layout::mma_m16n8k16_b(l, 2 * r + 1);
          b[r] = pack(b_value(lo.row, 8 * tile + lo.col), b_value(hi.row, 8 * tile + hi.col));
        }
        float acc[4];
        for (int i = 0; i < 4; ++i) {
          const MatrixPos pos = layout::mma_m16n8_c(l, i);
          acc[i] = c_value(pos.row, 8 * tile + pos.col);
        }
        if (bf16)
          dev::mma_m16n8k16(acc, a, b[0], b[1], dev::bf16_bits{});
        else
          dev::mma_m16n8k16(acc, a, b[0], b[1], dev::half_bits{});
        for (int i = 0; i < 4; ++i) {
          const MatrixPos pos = layout::mma_m16n8_c(l, i);
          c[static_cast<std::size_t>(pos.row * 16 + 8 * tile + pos.col)] = acc[i];
        }
      }
    });
    SCOPED_TRACE(bf16 ? "bf16" : "f16");
    expect_matrix_eq(c, naive_product(true));
  }
}

// ---- cp.async ------------------------------------------------------------------------------------------

// Sets the cp.async mode for one test and restores the default.
class CpAsyncModeScope {
 public:
  explicit CpAsyncModeScope(emulation::CpAsyncMode mode) { emulation::set_cp_async_mode(mode); }
  ~CpAsyncModeScope() { emulation::set_cp_async_mode(emulation::CpAsyncMode::deferred); }
  CpAsyncModeScope(const CpAsyncModeScope&) = delete;
  CpAsyncModeScope& operator=(const CpAsyncModeScope&) = delete;
};

// 64 source chunks in "global memory", chunk i holding words 0x1000 i + 1 .. + 4.
std::vector<dev::Chunk16> source_chunks() {
  std::vector<dev::Chunk16> chunks(64);
  for (unsigned i = 0; i < 64; ++i)
    for (unsigned w = 0; w < 4; ++w) chunks[i].w[w] = 0x1000u * i + w + 1;
  return chunks;
}

dev::Chunk16* shared_chunk(unsigned index) { return reinterpret_cast<dev::Chunk16*>(dev::smem) + index; }

constexpr unsigned kPoison = emulation::kSharedMemoryPoison;

TEST(TensorCoreEmulation, DeferredCpAsyncLandsOnlyAtWaitGroup) {
  const std::vector<dev::Chunk16> src = source_chunks();
  std::vector<dev::Chunk16> seen(32 * 3);
  run_warp([&] {
    const unsigned t = lane();
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(t)), &src[t], true);
    seen[3 * t + 0] = *shared_chunk(t);  // issued
    dev::cp_async_commit();
    seen[3 * t + 1] = *shared_chunk(t);  // committed
    dev::cp_async_wait<0>();
    seen[3 * t + 2] = *shared_chunk(t);  // waited for
  });
  for (unsigned t = 0; t < 32; ++t)
    for (unsigned w = 0; w < 4; ++w) {
      EXPECT_EQ(seen[3 * t + 0].w[w], kPoison) << "thread " << t;
      EXPECT_EQ(seen[3 * t + 1].w[w], kPoison) << "thread " << t;
      EXPECT_EQ(seen[3 * t + 2].w[w], src[t].w[w]) << "thread " << t;
    }
}

TEST(TensorCoreEmulation, CpAsyncWithoutSourceBytesZeroFills) {
  std::vector<dev::Chunk16> seen(32);
  run_warp([&] {
    const unsigned t = lane();
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(t)), nullptr, false);
    dev::cp_async_commit();
    dev::cp_async_wait<0>();
    seen[t] = *shared_chunk(t);
  });
  for (unsigned t = 0; t < 32; ++t)
    for (unsigned w = 0; w < 4; ++w) EXPECT_EQ(seen[t].w[w], 0u) << "thread " << t;
}

TEST(TensorCoreEmulation, WaitGroupOneLeavesTheNewestGroupPending) {
  const std::vector<dev::Chunk16> src = source_chunks();
  std::vector<dev::Chunk16> seen(32 * 3);
  run_warp([&] {
    const unsigned t = lane();
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(t)), &src[t], true);
    dev::cp_async_commit();
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(32 + t)), &src[32 + t], true);
    dev::cp_async_commit();
    dev::cp_async_wait<1>();
    seen[3 * t + 0] = *shared_chunk(t);
    seen[3 * t + 1] = *shared_chunk(32 + t);
    dev::cp_async_wait<0>();
    seen[3 * t + 2] = *shared_chunk(32 + t);
  });
  for (unsigned t = 0; t < 32; ++t)
    for (unsigned w = 0; w < 4; ++w) {
      EXPECT_EQ(seen[3 * t + 0].w[w], src[t].w[w]) << "thread " << t;
      EXPECT_EQ(seen[3 * t + 1].w[w], kPoison) << "thread " << t;
      EXPECT_EQ(seen[3 * t + 2].w[w], src[32 + t].w[w]) << "thread " << t;
    }
}

// An empty commit is a group (so wait<1> behind it retires the real one); copies not committed to
// any group are not waited for.
TEST(TensorCoreEmulation, EmptyGroupsCountAndUncommittedCopiesStayPending) {
  const std::vector<dev::Chunk16> src = source_chunks();
  std::vector<dev::Chunk16> seen(32 * 2);
  run_warp([&] {
    const unsigned t = lane();
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(t)), &src[t], true);
    dev::cp_async_commit();
    dev::cp_async_commit();  // empty
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(32 + t)), &src[32 + t], true);  // never committed
    dev::cp_async_wait<1>();
    seen[2 * t + 0] = *shared_chunk(t);
    dev::cp_async_wait<0>();
    seen[2 * t + 1] = *shared_chunk(32 + t);
  });
  for (unsigned t = 0; t < 32; ++t)
    for (unsigned w = 0; w < 4; ++w) {
      EXPECT_EQ(seen[2 * t + 0].w[w], src[t].w[w]) << "thread " << t;
      EXPECT_EQ(seen[2 * t + 1].w[w], kPoison) << "thread " << t;
    }
}

TEST(TensorCoreEmulation, EagerCpAsyncLandsAtIssue) {
  const CpAsyncModeScope eager(emulation::CpAsyncMode::eager);
  const std::vector<dev::Chunk16> src = source_chunks();
  std::vector<dev::Chunk16> seen(32);
  run_warp([&] {
    const unsigned t = lane();
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(t)), &src[t], true);
    seen[t] = *shared_chunk(t);
    dev::cp_async_commit();
    dev::cp_async_wait<0>();
  });
  for (unsigned t = 0; t < 32; ++t)
    for (unsigned w = 0; w < 4; ++w) EXPECT_EQ(seen[t].w[w], src[t].w[w]) << "thread " << t;
}

// The queues are per emulated thread and start empty: a copy a thread of one launch left pending
// never lands in a later launch.
TEST(TensorCoreEmulation, PendingCopiesDoNotOutliveTheirThread) {
  const std::vector<dev::Chunk16> src = source_chunks();
  run_warp([&] {
    dev::cp_async_16(dev::to_smem_addr(shared_chunk(lane())), &src[lane()], true);
    dev::cp_async_commit();
  });
  std::vector<dev::Chunk16> seen(32);
  run_warp([&] {
    dev::cp_async_wait<0>();
    seen[lane()] = *shared_chunk(lane());
  });
  for (unsigned t = 0; t < 32; ++t)
    for (unsigned w = 0; w < 4; ++w) EXPECT_EQ(seen[t].w[w], kPoison) << "thread " << t;
}

// ---- __syncwarp and misuse -------------------------------------------------------------------------------

TEST(TensorCoreEmulation, SyncwarpOrdersSharedMemoryWithinTheWarp) {
  std::vector<unsigned> seen(32);
  run_warp([&] {
    reinterpret_cast<unsigned*>(dev::smem)[lane()] = 100 + lane();
    __syncwarp();
    seen[lane()] = reinterpret_cast<unsigned*>(dev::smem)[31 - lane()];  // written by a later lane
  });
  for (unsigned t = 0; t < 32; ++t) EXPECT_EQ(seen[t], 100 + 31 - t);
}

// Death tests fork before any emulated thread exists (gtest runs *DeathTest suites first), and the
// child starts its own threads, so the thread-per-lane model does not get in the way.
TEST(TensorCoreEmulationDeathTest, DivergentCollectivesAbort) {
  EXPECT_DEATH(run_warp([] {
                 if (lane() < 16) {
                   unsigned r[4];
                   dev::ldmatrix_x4(r, dev::to_smem_addr(dev::smem));
                 } else {
                   __syncwarp();
                 }
               }),
               "diverged: lane 16 called __syncwarp while lanes before it called ldmatrix.x4");
  EXPECT_DEATH(run_warp([] {
                 if (lane() != 0) __syncwarp();
               }),
               "diverged: only 31 of 32 reached __syncwarp");
}

TEST(TensorCoreEmulationDeathTest, LdmatrixAddressesMustBeAlignedSharedRows) {
  EXPECT_DEATH(run_warp([] {
                 unsigned r[4];
                 dev::ldmatrix_x4(r, dev::to_smem_addr(shared_b16() + 8 * lane() + (lane() == 3 ? 1 : 0)));
               }),
               "ldmatrix.x4: address .* is not 16-byte aligned.*thread 3\\)");
  EXPECT_DEATH(run_warp([] {
                 alignas(16) unsigned short not_shared[8] = {};
                 unsigned r[4];
                 dev::ldmatrix_x4_trans(r, dev::to_smem_addr(not_shared));
               }),
               "ldmatrix.x4.trans: bytes .* are not inside the 8192 bytes of shared memory the launch reserved");
  EXPECT_DEATH(run_warp([] {
                 unsigned r[4];
                 dev::ldmatrix_x4(r, dev::to_smem_addr(shared_b16() + kSharedBytes / 2 - 8 + (lane() == 31 ? 8 : 0)));
               }),
               "ldmatrix.x4: bytes .* are not inside the 8192 bytes.*thread 31\\)");
}

TEST(TensorCoreEmulationDeathTest, CpAsyncDestinationMustBeAlignedShared) {
  EXPECT_DEATH(run_warp([] {
                 alignas(16) static const dev::Chunk16 src = {{1u, 2u, 3u, 4u}};
                 dev::cp_async_16(dev::to_smem_addr(shared_b16() + 1), &src, true);
               }),
               "cp.async \\(destination\\): address .* is not 16-byte aligned");
  EXPECT_DEATH(run_warp([] { dev::cp_async_16(dev::to_smem_addr(shared_b16() + kSharedBytes / 2), nullptr, false); }),
               "cp.async \\(destination\\): bytes .* are not inside the 8192 bytes");
}

}  // namespace
}  // namespace flashjit
