// The Volta kernel template (templates/mma_sm70_forward.cuh) executed on the CPU by the host
// emulation, mma.m8n8k4 by the emulation's own reading of the PTX ISA's quad-pair layouts
// (tensor_core_emulation.cpp), against the double-precision reference, with the output poisoned
// first. Both warp shapes (32 rows: a quad pair per 8-row slab; 16 rows: two quad pairs per slab,
// the head dim split between them), every head dim the rules allow, both masks, tails on both
// sequences, GQA, strides on the 16-byte and the element-by-element paths, lse written and not,
// NaN scores, the default tiles. What it cannot check: the real instruction's rounding, timing and
// the compiled code (tests/codegen and tests/gpu).
#define FLASHJIT_HOST_EMULATION 1

#include <type_traits>
#include <utility>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "flashjit/types.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "helpers/test_problem.h"

#include "emulation/cuda_emulation.h"
#include "emulation/emulated_attention.h"
#include "mma_sm70_forward.cuh"
#include "helpers/nan_scores.h"
#include "helpers/problems.h"

namespace flashjit {
namespace {

using test::Lse;
using test::ProblemShape;
using test::capped;
using test::windowed;
using test::with_alibi;

constexpr MaskKind kNone = MaskKind::none;
constexpr MaskKind kCausal = MaskKind::causal;

template <int kBlockM_, int kBlockN_, int kWarps_, int kStages_>
struct Tile {
  static constexpr int kBlockM = kBlockM_;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kStages = kStages_;
};

const gen::DeviceDescription& volta() {
  static const gen::DeviceDescription device = gen::DeviceDescription::for_arch(70);
  return device;
}

template <class TileT>
gen::KernelSpec spec_for(const ProblemShape& s) {
  return test::emulated_spec(Variant::mma_sm70, 70, s, TileT::kBlockM, TileT::kBlockN, TileT::kWarps,
                             TileT::kStages);
}

// Runs `problem` (f16, head dim kHeadDim, its mask) through mma_sm70 with tile TileT.
template <class TileT, int kHeadDim>
void expect_problem_matches(test::HostProblem& problem, Lse lse = Lse::written) {
  const ProblemShape& s = problem.shape;
  ASSERT_EQ(s.dtype, DType::f16) << s.name();
  ASSERT_EQ(s.head_dim, kHeadDim) << s.name();
  const gen::KernelSpec spec = spec_for<TileT>(s);
  auto run = [&](auto causal) {
    using Traits = test::EmulatedTraits<DType::f16, kHeadDim, TileT::kBlockM, TileT::kBlockN, TileT::kWarps,
                                        TileT::kStages, decltype(causal)::value>;
    test::expect_emulated_kernel_matches(&dev::mma_sm70_forward<Traits>, spec, volta(), problem, lse);
  };
  if (s.mask == kCausal)
    run(std::true_type{});
  else
    run(std::false_type{});
}

template <class TileT, int kHeadDim>
void expect_matches(const ProblemShape& s, Lse lse = Lse::written) {
  test::HostProblem problem = test::make_problem(s);
  expect_problem_matches<TileT, kHeadDim>(problem, lse);
}

ProblemShape f16(int batch, int heads, int kv_heads, int seqlen_q, int seqlen_k, int head_dim, MaskKind mask) {
  return test::shape(batch, heads, kv_heads, seqlen_q, seqlen_k, head_dim, DType::f16, mask);
}

// ---- the default tiles ------------------------------------------------------------------------------

// The tile the selector picks on a V100 for `head_dim`, which the test instantiates as TileT.
template <class TileT, int kHeadDim>
void expect_default_tile_matches(const ProblemShape& s) {
  auto spec = gen::default_spec(Variant::mma_sm70, volta(), testing::problem_with({DType::f16, kHeadDim, s.mask}));
  ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
  ASSERT_EQ(gen::canonical_key(*spec), gen::canonical_key(spec_for<TileT>(s)))
      << "the default tile changed: instantiate the new one here";
  expect_matches<TileT, kHeadDim>(s);
}

// 4 warps of 32 rows, 64-key blocks; two query blocks and a key tail.
TEST(MmaSm70Emulation, DefaultTileAtHeadDim64) {
  for (MaskKind mask : {kNone, kCausal})
    expect_default_tile_matches<Tile<128, 64, 4, 2>, 64>(f16(1, 1, 1, 133, 150, 64, mask));
}

// 32-key blocks, 4 warps of 32 rows: the 160 accumulators the register budget allows.
TEST(MmaSm70Emulation, DefaultTileAtHeadDim128) {
  expect_default_tile_matches<Tile<128, 32, 4, 2>, 128>(f16(1, 1, 1, 130, 75, 128, kCausal));
}

// 8 warps of 16 rows: the head dim split between the two quad pairs of a slab.
TEST(MmaSm70Emulation, DefaultTileAtHeadDim192SplitsTheHeadDim) {
  expect_default_tile_matches<Tile<128, 32, 8, 2>, 192>(f16(1, 1, 1, 140, 70, 192, kNone));
}

// 64 rows where Volta's 96 KiB run short; padded rows (d 248: 31 chunks plus a padding chunk).
TEST(MmaSm70Emulation, DefaultTilesAtHeadDims248And256) {
  expect_default_tile_matches<Tile<64, 32, 4, 2>, 256>(f16(1, 1, 1, 70, 45, 256, kCausal));
  expect_default_tile_matches<Tile<64, 32, 4, 2>, 248>(f16(1, 1, 1, 66, 40, 248, kNone));
}

// ---- every head dim ------------------------------------------------------------------------------------

// Every multiple of 8 up to 256 with one-warp tiles, so the sweep stays fast: both warp shapes where
// the rules allow 32 rows (O's d accumulators fit up to 144), 16 rows beyond; the masks alternate,
// and so do the stage counts. Each head dim pads to its own multiple of 16 and chunk count, swizzled
// (8, 16, 24, 32 chunks) or padded (every other count).
template <int kHeadDim>
void expect_head_dim_matches() {
  constexpr MaskKind mask = (kHeadDim / 8) % 2 == 0 ? kCausal : kNone;
  const ProblemShape s = f16(1, 1, 1, 37, 29, kHeadDim, mask);
  if constexpr (kHeadDim <= 144) expect_matches<Tile<32, 16, 1, (kHeadDim / 8) % 3 == 0 ? 1 : 2>, kHeadDim>(s);
  expect_matches<Tile<16, 16, 1, 2>, kHeadDim>(s);
}

template <int... kHeadDims>
void expect_head_dims_match(std::integer_sequence<int, kHeadDims...>) {
  (expect_head_dim_matches<8 * (kHeadDims + 1)>(), ...);
}

TEST(MmaSm70Emulation, EveryHeadDimFrom8To256BothWarpShapes) {
  expect_head_dims_match(std::make_integer_sequence<int, 32>{});
}

// ---- masks, lengths, heads, layouts ---------------------------------------------------------------------

// Causal with more queries than keys (the first rows see no key: zeros and lse -inf), as many, and
// fewer; one query or one key; several key blocks with both slot counts.
TEST(MmaSm70Emulation, CausalLengthRelationsAndSeqlenOne) {
  using T = Tile<64, 16, 2, 2>;
  expect_matches<T, 32>(f16(1, 1, 1, 70, 20, 32, kCausal));
  expect_matches<T, 32>(f16(1, 1, 1, 45, 45, 32, kCausal));
  expect_matches<T, 32>(f16(1, 1, 1, 20, 70, 32, kCausal));
  expect_matches<Tile<64, 16, 2, 1>, 32>(f16(1, 1, 1, 20, 70, 32, kCausal));
  for (MaskKind mask : {kNone, kCausal}) {
    expect_matches<T, 32>(f16(1, 2, 2, 1, 1, 32, mask));
    expect_matches<T, 32>(f16(1, 1, 1, 1, 40, 32, mask));
    expect_matches<T, 32>(f16(1, 1, 1, 40, 1, 32, mask));
  }
}

TEST(MmaSm70Emulation, GroupedAndMultiQueryAttention) {
  expect_matches<Tile<64, 32, 2, 2>, 40>(f16(1, 4, 2, 35, 50, 40, kCausal));
  expect_matches<Tile<32, 32, 2, 2>, 48>(f16(2, 3, 1, 35, 50, 48, kNone));
}

TEST(MmaSm70Emulation, ExplicitSoftmaxScaleAndNullLse) {
  ProblemShape s = f16(1, 1, 1, 30, 50, 32, kNone);
  s.softmax_scale = 0.3f;
  expect_matches<Tile<64, 32, 2, 2>, 32>(s);
  expect_matches<Tile<64, 32, 2, 2>, 32>(f16(1, 2, 2, 40, 40, 32, kCausal), Lse::null);
}

// Padding of 8 elements keeps rows 16-byte aligned (vector copies); 3 does not (element copies into
// shared memory and element stores of O).
TEST(MmaSm70Emulation, NonContiguousStridesAlignedAndNot) {
  expect_matches<Tile<64, 16, 2, 2>, 32>(test::strided(f16(2, 2, 1, 33, 47, 32, kCausal), 8, 8));
  expect_matches<Tile<32, 16, 2, 2>, 40>(test::strided(f16(1, 2, 1, 20, 40, 40, kNone), 3, 5));
}

// ---- Ragged batches and score modifiers (issue 14) ---------------------------------------------
// The `_modified` entry with the shell's modifier traits, launched as the runtime launches it, on odd
// shapes against the double-precision reference, with both warp shapes (32 rows per warp: a quad
// pair per slab; 16 rows: the head dim split between two quad pairs, which run the same softmax).

template <class TileT, int kHeadDim, bool kCausal, bool kWindow, bool kSoftcap, bool kAlibi, bool kRagged>
void expect_modified_matches(const ProblemShape& s, Lse lse = Lse::written) {
  using Base = test::EmulatedTraits<DType::f16, kHeadDim, TileT::kBlockM, TileT::kBlockN, TileT::kWarps,
                                    TileT::kStages, kCausal>;
  using Traits = test::WithModifiers<Base, kWindow, kSoftcap, kAlibi, kRagged>;
  const gen::KernelSpec spec = spec_for<TileT>(s);
  ASSERT_EQ(spec.dtype, DType::f16);
  ASSERT_EQ(spec.head_dim, kHeadDim);
  ASSERT_EQ(spec.mask == MaskKind::causal, kCausal);
  ASSERT_EQ(spec.window, kWindow);
  ASSERT_EQ(spec.softcap, kSoftcap);
  ASSERT_EQ(spec.alibi, kAlibi);
  ASSERT_EQ(spec.ragged, kRagged);
  test::HostProblem p = test::make_problem(s);
  test::expect_emulated_modified_kernel_matches(&dev::mma_sm70_forward_modified<Traits>, spec, volta(), p, lse);
}

using ThirtyTwoRows = Tile<64, 32, 2, 2>;  // 32 rows per warp
using SixteenRows = Tile<64, 16, 4, 2>;    // 16 rows per warp, the head dim split

TEST(MmaSm70Modifiers, SlidingWindowBothSides) {
  // Window (20, 5) over 310 keys: each row sees at most 26 keys, ten 32-key blocks per sequence.
  expect_modified_matches<ThirtyTwoRows, 64, false, true, false, false, false>(
      windowed(f16(2, 2, 1, 300, 310, 64, kNone), 20, 5));
  expect_modified_matches<SixteenRows, 128, false, true, false, false, false>(
      windowed(f16(1, 2, 2, 130, 257, 128, kNone), 7, 30));
}

TEST(MmaSm70Modifiers, CausalWithALeftWindowAndRowsThatSeeNothing) {
  // seqlen_q > seqlen_k: the top 130 rows' bands lie before key 0 (zeros, lse -inf).
  expect_modified_matches<ThirtyTwoRows, 64, true, true, false, false, false>(
      windowed(f16(1, 2, 2, 200, 70, 64, kCausal), 17, -1));
  expect_modified_matches<Tile<64, 16, 4, 1>, 96, true, true, false, false, false>(
      windowed(f16(1, 1, 1, 150, 90, 96, kCausal), 0, -1));
}

TEST(MmaSm70Modifiers, Softcap) {
  expect_modified_matches<SixteenRows, 128, false, false, true, false, false>(
      capped(f16(2, 2, 1, 77, 150, 128, kNone), 0.5f));
  expect_modified_matches<ThirtyTwoRows, 64, true, false, true, false, false>(
      capped(f16(1, 3, 3, 97, 97, 64, kCausal), 30.0f));
}

TEST(MmaSm70Modifiers, AlibiPerHeadAndPerBatchWithGqa) {
  expect_modified_matches<ThirtyTwoRows, 64, false, false, false, true, false>(
      with_alibi(f16(2, 4, 2, 90, 130, 64, kNone), false));
  expect_modified_matches<SixteenRows, 128, true, false, false, true, false>(
      with_alibi(f16(3, 4, 1, 70, 50, 128, kCausal), true), Lse::null);
}

TEST(MmaSm70Modifiers, RaggedBatches) {
  expect_modified_matches<ThirtyTwoRows, 64, true, false, false, false, true>(
      test::ragged_shape({0, 1, 37, 300, 5}, {7, 0, 37, 200, 130}, 2, 1, 64, DType::f16, kCausal));
  expect_modified_matches<SixteenRows, 128, false, false, false, false, true>(
      test::ragged_shape({17, 0, 64, 3}, {17, 9, 130, 1}, 3, 3, 128, DType::f16));
}

TEST(MmaSm70Modifiers, EverythingAtOnce) {
  ProblemShape s = test::ragged_shape({33, 1, 190, 0}, {270, 12, 145, 3}, 4, 2, 64, DType::f16, kCausal);
  s = with_alibi(capped(windowed(s, 21, -1), 2.0f), true);
  expect_modified_matches<ThirtyTwoRows, 64, true, true, true, true, true>(s);
  // Non-causal, a window on both sides, head dim 40, over strides that are not 16-byte aligned.
  ProblemShape t = test::strided(test::ragged_shape({20, 157}, {64, 131}, 2, 2, 40, DType::f16), 8, 3);
  t = with_alibi(capped(windowed(t, 4, 11), 1.0f), false);
  expect_modified_matches<SixteenRows, 40, false, true, true, true, true>(t);
}

// ---- NaN scores ------------------------------------------------------------------------------------------

// A NaN score makes its row's output and lse NaN (not the -inf of a row that sees no key), in the
// masked and the unmasked blocks alike, with both warp shapes; a NaN query row that sees no key stays
// zeros with lse -inf.
TEST(MmaSm70Emulation, NanScoresMakeTheRowAndItsLseNan) {
  test::NanScoreRows rows;
  test::HostProblem thirty_two_rows = test::make_nan_score_problem(f16(1, 2, 1, 150, 70, 64, kCausal), &rows);
  expect_problem_matches<Tile<64, 32, 2, 2>, 64>(thirty_two_rows);
  test::HostProblem sixteen_rows = test::make_nan_score_problem(f16(1, 2, 1, 77, 40, 64, kCausal), &rows);
  expect_problem_matches<Tile<32, 16, 2, 2>, 64>(sixteen_rows);
}

}  // namespace
}  // namespace flashjit
