// The Hopper kernel template (templates/wgmma_sm90_forward.cuh) executed on the CPU by the host
// emulation: a producer warpgroup and one or two consumer warpgroups as std::threads, mbarriers,
// TMA (tensor maps from the runtime's own requests, 128-byte swizzle, zero fill out of bounds) and
// wgmma (shared-memory descriptors, register fragments) by the emulation's reading of the PTX ISA
// (tma_emulation.cpp, wgmma_emulation.cpp); TMA copies land only when a thread waits on their mbarrier (a consumer
// that reads a tile without waiting reads the shared-memory poison), or at issue in the eager mode
// (a producer that overwrites a slot before its consumers released it corrupts their reads); wgmma
// complete at the wait that retires their group (waiting for the wrong group, or reading S before
// the wait, computes from stale registers).
// Checked against the double-precision reference: every head dim the variant serves, both dtypes,
// both masks, tails in both sequences, seqlen_q > seqlen_k (rows that see no key), GQA, strided
// layouts, lse, every stage count and both consumer counts, and persistent blocks walking several
// tiles. What it cannot check: real hardware semantics where the emulation and the kernel would
// share a misreading of the PTX ISA, timing, and the compiled code (tests/codegen and the GPU
// tests cover those).
#define FLASHJIT_HOST_EMULATION 1

#include <utility>

#include <gtest/gtest.h>

#include "flashjit/types.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "helpers/nan_scores.h"
#include "helpers/test_problem.h"

#include "emulation/cuda_emulation.h"
#include "emulation/emulated_attention.h"
#include "emulation/wgmma_emulation.h"
#include "wgmma_sm90_forward.cuh"

namespace flashjit {
namespace {

using test::Lse;
using test::ProblemShape;

constexpr MaskKind kNone = MaskKind::none;
constexpr MaskKind kCausal = MaskKind::causal;

template <int kBlockM_, int kBlockN_, int kStages_>
struct Tile {
  static constexpr int kBlockM = kBlockM_;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kWarps = 4 * (1 + kBlockM_ / 64);
  static constexpr int kStages = kStages_;
};

const gen::DeviceDescription& hopper() {
  static const gen::DeviceDescription device = gen::DeviceDescription::for_arch(90);
  return device;
}

// Runs `problem` with tile TileT on `persistent_blocks` blocks; the problem's dtype and head dim
// must be kDType and kHeadDim, its mask picks kCausal.
template <class TileT, DType kDType, int kHeadDim>
void expect_problem_matches(test::HostProblem& problem, int persistent_blocks, Lse lse = Lse::written) {
  const ProblemShape& s = problem.shape;
  ASSERT_EQ(s.dtype, kDType) << s.name();
  ASSERT_EQ(s.head_dim, kHeadDim) << s.name();
  gen::KernelSpec spec = test::emulated_spec(Variant::wgmma_sm90, 90, s, TileT::kBlockM, TileT::kBlockN,
                                             TileT::kWarps, TileT::kStages);
  spec.arch_specific = true;
  auto run = [&](auto causal) {
    using Traits = test::EmulatedTraits<kDType, kHeadDim, TileT::kBlockM, TileT::kBlockN, TileT::kWarps,
                                        TileT::kStages, decltype(causal)::value>;
    // The launch reserves what the rules compute; the template lays out what it computes.
    EXPECT_EQ(dev::WgmmaShape<Traits>::kSharedBytes, gen::shared_memory_bytes(spec)) << gen::canonical_key(spec);
    test::expect_emulated_wgmma_kernel_matches(&dev::wgmma_sm90_forward<Traits>, spec, hopper(), problem, lse,
                                               persistent_blocks);
  };
  if (s.mask == kCausal)
    run(std::true_type{});
  else
    run(std::false_type{});
}

template <class TileT, DType kDType, int kHeadDim>
void expect_matches(const ProblemShape& s, int persistent_blocks = 2, Lse lse = Lse::written) {
  test::HostProblem problem = test::make_problem(s);
  expect_problem_matches<TileT, kDType, kHeadDim>(problem, persistent_blocks, lse);
}

// Restores the default (deferred) TMA mode however a test ends.
struct EagerTma {
  EagerTma() { emulation::set_tma_mode(emulation::TmaMode::eager); }
  ~EagerTma() { emulation::set_tma_mode(emulation::TmaMode::deferred); }
};

// ---- the defaults and head dims ------------------------------------------------------------------

// d 64's default: 192-key blocks (S is m64n192), two consumers; GQA 4 on 2, tails in both lengths.
TEST(WgmmaSm90Emulation, F16HeadDim64Default) {
  for (MaskKind mask : {kNone, kCausal})
    expect_matches<Tile<128, 192, 2>, DType::f16, 64>(test::shape(1, 4, 2, 67, 211, 64, DType::f16, mask));
}

// d 96 pads to two 64-column swizzle tiles; the second is half zeros from TMA's out-of-bounds fill.
TEST(WgmmaSm90Emulation, Bf16HeadDim96PaddedSecondColumnTile) {
  for (MaskKind mask : {kNone, kCausal})
    expect_matches<Tile<128, 96, 2>, DType::bf16, 96>(test::shape(1, 2, 1, 130, 100, 96, DType::bf16, mask));
}

// d 128's default: 128 x 128 with a three-slot ring; more key blocks than slots.
TEST(WgmmaSm90Emulation, Bf16HeadDim128DefaultThreeStages) {
  for (MaskKind mask : {kNone, kCausal})
    expect_matches<Tile<128, 128, 3>, DType::bf16, 128>(test::shape(1, 2, 2, 150, 520, 128, DType::bf16, mask));
}

TEST(WgmmaSm90Emulation, F16HeadDim192) {
  expect_matches<Tile<128, 64, 3>, DType::f16, 192>(test::shape(1, 1, 1, 70, 150, 192, DType::f16, kCausal));
}

// d 256: O is m64n256 (128 accumulators per thread), four 64-column tiles per row.
TEST(WgmmaSm90Emulation, Bf16HeadDim256) {
  for (MaskKind mask : {kNone, kCausal})
    expect_matches<Tile<128, 64, 2>, DType::bf16, 256>(test::shape(1, 1, 1, 40, 90, 256, DType::bf16, mask));
}

// ---- tiles, rings and the persistent schedule ----------------------------------------------------

// One consumer warpgroup (64 rows), four slots, and a single block walking every tile: the ring's
// phases and the Q buffer's hand-back carry over from tile to tile.
TEST(WgmmaSm90Emulation, OneConsumerFourStagesOneBlockWalksAllTiles) {
  for (MaskKind mask : {kNone, kCausal})
    expect_matches<Tile<64, 64, 4>, DType::f16, 128>(test::shape(2, 2, 1, 150, 200, 128, DType::f16, mask), 1);
}

// Causal with seqlen_q > seqlen_k: the first rows see no key (zeros, lse -inf), and whole tiles
// have no key block at all (the producer skips them; the consumers store zeros).
TEST(WgmmaSm90Emulation, CausalRowsThatSeeNoKey) {
  expect_matches<Tile<64, 64, 2>, DType::bf16, 64>(test::shape(1, 2, 2, 300, 70, 64, DType::bf16, kCausal), 3);
}

// More blocks than tiles: the grid is the tile count.
TEST(WgmmaSm90Emulation, MoreBlocksThanTiles) {
  expect_matches<Tile<128, 128, 2>, DType::f16, 64>(test::shape(1, 1, 1, 33, 33, 64, DType::f16, kCausal), 8);
}

// Dimensions of extent 1: with one query the sequence is no longer the smallest stride, so the
// tensor map orders it last and the box's rows move to the last dimension; with everything 1 every
// outer dimension is.
TEST(WgmmaSm90Emulation, ExtentOneDimensions) {
  expect_matches<Tile<128, 64, 2>, DType::f16, 128>(test::shape(2, 4, 2, 1, 300, 128, DType::f16, kCausal), 2);
  expect_matches<Tile<128, 64, 2>, DType::f16, 128>(test::shape(1, 1, 1, 1, 1, 128, DType::f16, kNone), 1);
  expect_matches<Tile<128, 64, 2>, DType::f16, 128>(test::shape(1, 2, 1, 70, 1, 128, DType::f16, kCausal), 2);
}

// A NaN score makes its row's output and lse NaN (the lse was -inf, as for a row that sees no key),
// in the masked and the unmasked blocks alike; a NaN query row that sees no key stays zeros with
// lse -inf.
TEST(WgmmaSm90Emulation, NanScoresMakeTheRowAndItsLseNan) {
  test::NanScoreRows rows;
  test::HostProblem problem =
      test::make_nan_score_problem(test::shape(1, 2, 1, 200, 140, 64, DType::bf16, kCausal), &rows);
  expect_problem_matches<Tile<64, 64, 2>, DType::bf16, 64>(problem, 2);
}

TEST(WgmmaSm90Emulation, NoLse) {
  expect_matches<Tile<128, 64, 2>, DType::f16, 64>(test::shape(1, 1, 1, 65, 80, 64, DType::f16, kNone), 2,
                                                   Lse::null);
}

// ---- layouts -------------------------------------------------------------------------------------

// Padding between heads and rows (multiples of 8 elements: TMA-addressable): the tensor maps order
// their dimensions by stride and the kernel places its coordinates accordingly.
TEST(WgmmaSm90Emulation, StridedLayouts) {
  ProblemShape s = test::strided(test::shape(2, 2, 1, 70, 90, 64, DType::bf16, kCausal), 8, 16);
  expect_matches<Tile<128, 64, 2>, DType::bf16, 64>(s, 2);
}

// Head-major K and V ([batch, heads, seq, d]) beside a token-major Q: a different dimension order
// per tensor map.
TEST(WgmmaSm90Emulation, HeadMajorKeysAndValues) {
  test::HostProblem problem = test::make_problem(test::shape(2, 4, 2, 50, 130, 64, DType::f16, kNone));
  const int64_t head = 130 * 64;
  test::relayout(problem, test::Operand::k, Strides{2 * head, 64, head});
  test::relayout(problem, test::Operand::v, Strides{2 * head, 64, head});
  expect_problem_matches<Tile<128, 64, 2>, DType::f16, 64>(problem, 3);
}

// ---- the copy modes ------------------------------------------------------------------------------

// TMA copies landing at issue: a producer that refills a slot before both consumer warpgroups
// released it would corrupt what they read.
TEST(WgmmaSm90Emulation, EagerTmaCopies) {
  EagerTma eager;
  for (MaskKind mask : {kNone, kCausal})
    expect_matches<Tile<128, 64, 2>, DType::f16, 128>(test::shape(1, 2, 1, 140, 330, 128, DType::f16, mask), 2);
}

}  // namespace
}  // namespace flashjit
