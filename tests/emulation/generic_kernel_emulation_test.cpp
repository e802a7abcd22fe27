// The generic kernel template (templates/generic_forward.cuh), executed on the CPU by the host
// emulation in cuda_emulation.h, thread by thread, against the double-precision reference. The
// parameter block and launch shape come from the runtime's own make_params/launch_shape, and the
// Traits mirror the generator's shell (generator/emit.cpp), so this checks the kernel's indexing,
// tails, masking, GQA, strides, online softmax and lse without a GPU. What it cannot check: PTX
// itself (cvt/ex2 are stood in for on the host), real warp scheduling, and NVRTC compilation.
#define FLASHJIT_HOST_EMULATION 1

#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "flashjit/types.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "helpers/test_problem.h"

#include "emulation/cuda_emulation.h"
#include "emulation/emulated_attention.h"
#include "generic_forward.cuh"
#include "helpers/nan_scores.h"
#include "helpers/problems.h"

namespace flashjit {
namespace {

using test::Lse;
using test::Operand;
using test::ProblemShape;
using test::capped;
using test::windowed;
using test::with_alibi;
using test::relayout;
using test::strided;

template <int kBlockM_, int kBlockN_, int kWarps_>
struct Tile {
  static constexpr int kBlockM = kBlockM_;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_;
};
using m32n32w4 = Tile<32, 32, 4>;  // the default on every architecture with room for it
using m16n64w2 = Tile<16, 64, 2>;
using m8n32w1 = Tile<8, 32, 1>;
using m64n32w8 = Tile<64, 32, 8>;

template <DType kDType, int kHeadDim, class TileT, bool kCausal>
using KernelTraits =
    test::EmulatedTraits<kDType, kHeadDim, TileT::kBlockM, TileT::kBlockN, TileT::kWarps, 1, kCausal>;

const gen::DeviceDescription& hopper() {
  static const gen::DeviceDescription device = gen::DeviceDescription::for_arch(90);
  return device;
}

// Runs the problem through the emulated kernel of `spec` (which must match Traits) exactly as the
// CUDA backend would launch it, and checks it against the reference.
template <class Traits>
void run_and_check(const gen::KernelSpec& spec, test::HostProblem& problem, Lse lse) {
  ASSERT_EQ(spec.head_dim, Traits::kHeadDim);
  ASSERT_EQ(spec.block_m, Traits::kBlockM);
  ASSERT_EQ(spec.block_n, Traits::kBlockN);
  ASSERT_EQ(spec.warps, Traits::kWarps);
  ASSERT_EQ(spec.mask == MaskKind::causal, Traits::kCausal);
  test::expect_emulated_kernel_matches(&dev::generic_forward<Traits>, spec, hopper(), problem, lse);
}

// The instantiation for `spec`, whose tile is TileT; the mask picks kCausal.
template <class TileT, DType kDType, int kHeadDim>
void run_tile(const gen::KernelSpec& spec, test::HostProblem& problem, Lse lse) {
  if (spec.mask == MaskKind::causal)
    run_and_check<KernelTraits<kDType, kHeadDim, TileT, true>>(spec, problem, lse);
  else
    run_and_check<KernelTraits<kDType, kHeadDim, TileT, false>>(spec, problem, lse);
}

// The spec the runtime would build for this problem with the tile of `TileT`.
template <class TileT>
gen::KernelSpec spec_for(const ProblemShape& s) {
  return test::emulated_spec(Variant::generic, 90, s, TileT::kBlockM, TileT::kBlockN, TileT::kWarps, 1);
}

// One problem through the kernel of tile TileT, dtype kDType and head dim kHeadDim (the problem
// must have the same dtype and head dim; its mask picks kCausal).
template <class TileT, DType kDType, int kHeadDim>
void expect_problem_matches(test::HostProblem& problem, Lse lse = Lse::written) {
  const ProblemShape& s = problem.shape;
  ASSERT_EQ(s.dtype, kDType) << s.name();
  ASSERT_EQ(s.head_dim, kHeadDim) << s.name();
  run_tile<TileT, kDType, kHeadDim>(spec_for<TileT>(s), problem, lse);
}

template <class TileT, DType kDType, int kHeadDim>
void expect_kernel_matches(const ProblemShape& s, Lse lse = Lse::written) {
  test::HostProblem problem = test::make_problem(s);
  expect_problem_matches<TileT, kDType, kHeadDim>(problem, lse);
}

constexpr MaskKind kNone = MaskKind::none;
constexpr MaskKind kCausal = MaskKind::causal;

// ---- dtypes and head dims (default tile) ---------------------------------------------------------

TEST(GenericKernelEmulation, F16HeadDim64WithTailsInBothSequences) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m32n32w4, DType::f16, 64>(test::shape(2, 1, 1, 33, 47, 64, DType::f16, mask));
}

TEST(GenericKernelEmulation, Bf16HeadDim128) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m32n32w4, DType::bf16, 128>(test::shape(1, 2, 2, 40, 40, 128, DType::bf16, mask));
}

TEST(GenericKernelEmulation, F32HeadDim40LeavesLanesWithoutAHeadDimColumn) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m32n32w4, DType::f32, 40>(test::shape(1, 2, 2, 17, 70, 40, DType::f32, mask));
}

TEST(GenericKernelEmulation, F16HeadDim8) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m32n32w4, DType::f16, 8>(test::shape(1, 2, 2, 50, 33, 8, DType::f16, mask));
}

TEST(GenericKernelEmulation, F32HeadDim72) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m32n32w4, DType::f32, 72>(test::shape(1, 1, 1, 20, 65, 72, DType::f32, mask));
}

TEST(GenericKernelEmulation, Bf16HeadDim256) {
  expect_kernel_matches<m32n32w4, DType::bf16, 256>(test::shape(1, 1, 1, 24, 40, 256, DType::bf16, kCausal));
}

TEST(GenericKernelEmulation, ExplicitSoftmaxScale) {
  ProblemShape s = test::shape(1, 1, 1, 30, 50, 64, DType::f32, kNone);
  s.softmax_scale = 0.3f;
  expect_kernel_matches<m32n32w4, DType::f32, 64>(s);
}

// ---- tiles ---------------------------------------------------------------------------------------

// Causal with fewer, as many and more queries than keys (bottom-right alignment; with more queries
// the first rows see no key: zeros and lse -inf), plus an unmasked problem with tails.
template <class TileT>
void expect_tile_matches() {
  expect_kernel_matches<TileT, DType::f16, 64>(test::shape(1, 2, 2, 20, 70, 64, DType::f16, kCausal));
  expect_kernel_matches<TileT, DType::f16, 64>(test::shape(1, 2, 2, 45, 45, 64, DType::f16, kCausal));
  expect_kernel_matches<TileT, DType::f16, 64>(test::shape(1, 2, 2, 70, 20, 64, DType::f16, kCausal));
  expect_kernel_matches<TileT, DType::f16, 64>(test::shape(1, 2, 2, 33, 47, 64, DType::f16, kNone));
  // The last key the first block's bottom row sees is the first key of a K/V tile: the causal
  // early exit (n_end) must still load that tile.
  constexpr int kOffset = ((1 - TileT::kBlockM) % TileT::kBlockN + TileT::kBlockN) % TileT::kBlockN;
  constexpr int kSeqlenQ = TileT::kBlockM + 5;
  expect_kernel_matches<TileT, DType::f16, 64>(
      test::shape(1, 1, 1, kSeqlenQ, kSeqlenQ + kOffset, 64, DType::f16, kCausal));
}

TEST(GenericKernelEmulation, TileM32N32W4) { expect_tile_matches<m32n32w4>(); }
TEST(GenericKernelEmulation, TileM16N64W2) { expect_tile_matches<m16n64w2>(); }
TEST(GenericKernelEmulation, TileM8N32W1) { expect_tile_matches<m8n32w1>(); }
TEST(GenericKernelEmulation, TileM64N32W8) { expect_tile_matches<m64n32w8>(); }

TEST(GenericKernelEmulation, OtherTilesAtOtherHeadDims) {
  expect_kernel_matches<m16n64w2, DType::bf16, 128>(test::shape(1, 1, 1, 30, 100, 128, DType::bf16, kCausal));
  expect_kernel_matches<m8n32w1, DType::f32, 40>(test::shape(1, 1, 1, 19, 37, 40, DType::f32, kNone));
  expect_kernel_matches<m64n32w8, DType::f16, 256>(test::shape(1, 1, 1, 70, 33, 256, DType::f16, kCausal));
}

// ---- sequence lengths ----------------------------------------------------------------------------

TEST(GenericKernelEmulation, SeqlenOne) {
  for (MaskKind mask : {kNone, kCausal}) {
    expect_kernel_matches<m32n32w4, DType::f16, 64>(test::shape(1, 2, 2, 1, 1, 64, DType::f16, mask));
    // One query sees every key (bottom-right alignment); of many queries only the last sees the key.
    expect_kernel_matches<m32n32w4, DType::f16, 64>(test::shape(1, 2, 2, 1, 100, 64, DType::f16, mask));
    expect_kernel_matches<m32n32w4, DType::f16, 64>(test::shape(1, 2, 2, 100, 1, 64, DType::f16, mask));
  }
}

// ---- heads and layouts ---------------------------------------------------------------------------

TEST(GenericKernelEmulation, GroupedQueryAttention) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m32n32w4, DType::bf16, 64>(test::shape(1, 4, 2, 35, 50, 64, DType::bf16, mask));
}

TEST(GenericKernelEmulation, MultiQueryAttention) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m16n64w2, DType::f16, 64>(test::shape(2, 4, 1, 35, 50, 64, DType::f16, mask));
}

// Padding between heads and between sequence rows: the kernel must use every stride, and must not
// write the output's padding (matches_reference counts the non-NaN values of the whole buffer).
TEST(GenericKernelEmulation, NonContiguousStrides) {
  expect_kernel_matches<m32n32w4, DType::f16, 64>(
      strided(test::shape(2, 2, 1, 33, 47, 64, DType::f16, kCausal), 8, 24));
  expect_kernel_matches<m8n32w1, DType::f32, 40>(strided(test::shape(2, 2, 1, 20, 40, 40, DType::f32, kNone), 3, 5));
}

// Each tensor in a layout of its own (K and the output head-major, V padded differently, Q
// sequence-major): no stride of one tensor may stand in for another's.
TEST(GenericKernelEmulation, EveryTensorInItsOwnLayout) {
  for (MaskKind mask : {kNone, kCausal}) {
    const ProblemShape s = strided(test::shape(2, 2, 2, 33, 40, 40, DType::bf16, mask), 8, 24);
    test::HostProblem problem = test::make_problem(s);
    const int D = s.head_dim;
    relayout(problem, Operand::k, Strides{int64_t{s.num_kv_heads} * s.seqlen_k * D, D, int64_t{s.seqlen_k} * D});
    const int64_t v_head = int64_t{s.seqlen_k} * (D + 8) + 16;
    relayout(problem, Operand::v, Strides{s.num_kv_heads * v_head + 32, D + 8, v_head});
    const int64_t out_head = int64_t{s.seqlen_q} * D + 4;
    relayout(problem, Operand::out, Strides{s.num_heads * out_head, D, out_head});
    expect_problem_matches<m32n32w4, DType::bf16, 40>(problem);
  }
}

// A NaN score makes its row's output and lse NaN (the lse was -inf, as for a row that sees no key);
// a NaN query row that sees no key stays zeros with lse -inf.
TEST(GenericKernelEmulation, NanScoresMakeTheRowAndItsLseNan) {
  test::NanScoreRows rows;
  test::HostProblem problem =
      test::make_nan_score_problem(test::shape(1, 2, 1, 70, 40, 64, DType::f16, kCausal), &rows);
  expect_problem_matches<m32n32w4, DType::f16, 64>(problem);
}

TEST(GenericKernelEmulation, NullLseIsNotWritten) {
  for (MaskKind mask : {kNone, kCausal})
    expect_kernel_matches<m32n32w4, DType::f16, 64>(test::shape(1, 2, 2, 40, 40, 64, DType::f16, mask), Lse::null);
}

// ---- the tile the selector picks -----------------------------------------------------------------

// Runs `spec` if its tile is one of those instantiated here.
template <DType kDType, int kHeadDim>
void expect_default_tile_matches(const ProblemShape& s, const gen::KernelSpec& spec) {
  test::HostProblem problem = test::make_problem(s);
  auto run = [&](auto tile) {
    using T = decltype(tile);
    if (spec.block_m != T::kBlockM || spec.block_n != T::kBlockN || spec.warps != T::kWarps) return false;
    run_tile<T, kDType, kHeadDim>(spec, problem, Lse::written);
    return true;
  };
  if (!run(m32n32w4{}) && !run(Tile<16, 32, 4>{}) && !run(Tile<8, 32, 4>{}))
    FAIL() << "default tile " << gen::canonical_key(spec) << " is not instantiated in this test: add it";
}

TEST(GenericKernelEmulation, DefaultTilesOfHopper) {
  for (MaskKind mask : {kNone, kCausal}) {
    const ProblemShape s = test::shape(1, 2, 1, 37, 61, 128, DType::bf16, mask);
    auto spec = gen::default_spec(Variant::generic, hopper(), flashjit::testing::problem_with({s.dtype, s.head_dim, s.mask}));
    ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
    EXPECT_EQ(spec->dtype, s.dtype);
    EXPECT_EQ(spec->head_dim, s.head_dim);
    EXPECT_EQ(spec->mask, s.mask);
    expect_default_tile_matches<DType::bf16, 128>(s, *spec);
  }
}

// ---- Ragged batches and score modifiers (issue 14) -----------------------------------------------
// The `_modified` entry with the shell's modifier traits, launched as the runtime launches it, on
// odd shapes against the double-precision reference (which writes the semantics out separately).

template <DType kDType, int kHeadDim, class TileT, bool kCausal, bool kWindow, bool kSoftcap, bool kAlibi,
          bool kRagged>
void run_modified(const ProblemShape& s, Lse lse = Lse::written) {
  using Traits = test::WithModifiers<KernelTraits<kDType, kHeadDim, TileT, kCausal>, kWindow, kSoftcap, kAlibi, kRagged>;
  const gen::KernelSpec spec = spec_for<TileT>(s);
  ASSERT_EQ(spec.dtype, kDType);
  ASSERT_EQ(spec.head_dim, kHeadDim);
  ASSERT_EQ(spec.mask == MaskKind::causal, kCausal);
  ASSERT_EQ(spec.window, kWindow);
  ASSERT_EQ(spec.softcap, kSoftcap);
  ASSERT_EQ(spec.alibi, kAlibi);
  ASSERT_EQ(spec.ragged, kRagged);
  test::HostProblem p = test::make_problem(s);
  test::expect_emulated_modified_kernel_matches(&dev::generic_forward_modified<Traits>, spec, hopper(), p, lse);
}

TEST(GenericKernelModifiers, SlidingWindowBothSides) {
  // Window (5, 3) over 93 keys: each row sees at most 9; seqlen_q < seqlen_k shifts the band.
  run_modified<DType::f16, 64, m32n32w4, false, true, false, false, false>(
      windowed(test::shape(2, 3, 3, 77, 93, 64, DType::f16), 5, 3));
  // Left bound only, more queries than keys: the top rows' bands start before key 0.
  run_modified<DType::bf16, 128, m16n64w2, false, true, false, false, false>(
      windowed(test::shape(1, 2, 1, 130, 41, 128, DType::bf16), 20, -1));
}

TEST(GenericKernelModifiers, CausalWithALeftWindow) {
  // Causal with window_left 17: rows whose band lies before key 0 (seqlen_q > seqlen_k) see nothing.
  run_modified<DType::f16, 64, m32n32w4, true, true, false, false, false>(
      windowed(test::shape(2, 4, 2, 150, 70, 64, DType::f16, MaskKind::causal), 17, -1));
  run_modified<DType::f32, 32, m8n32w1, true, true, false, false, false>(
      windowed(test::shape(1, 2, 2, 45, 200, 32, DType::f32, MaskKind::causal), 0, -1));
}

TEST(GenericKernelModifiers, Softcap) {
  // A cap of 0.5 flattens every score; 30 (Gemma 2's) barely touches scores this small.
  run_modified<DType::f16, 64, m32n32w4, false, false, true, false, false>(
      capped(test::shape(2, 2, 1, 33, 70, 64, DType::f16), 0.5f));
  run_modified<DType::bf16, 128, m16n64w2, true, false, true, false, false>(
      capped(test::shape(1, 3, 3, 61, 61, 128, DType::bf16, MaskKind::causal), 30.0f));
}

TEST(GenericKernelModifiers, Alibi) {
  run_modified<DType::f16, 64, m32n32w4, false, false, false, true, false>(
      with_alibi(test::shape(2, 4, 2, 40, 97, 64, DType::f16), false));
  // Per-batch slopes, causal, lse left out.
  run_modified<DType::f32, 64, m64n32w8, true, false, false, true, false>(
      with_alibi(test::shape(3, 2, 1, 70, 50, 64, DType::f32, MaskKind::causal), true), Lse::null);
}

TEST(GenericKernelModifiers, RaggedBatches) {
  // Lengths 0, 1, odd and long in one batch, seqlen_q != seqlen_k per sequence; an empty query
  // sequence writes nothing, an empty key sequence gives zero rows with lse -inf.
  run_modified<DType::f16, 64, m32n32w4, false, false, false, false, true>(
      test::ragged_shape({0, 1, 37, 100, 5}, {7, 0, 37, 64, 130}, 2, 1, 64, DType::f16));
  run_modified<DType::bf16, 128, m16n64w2, true, false, false, false, true>(
      test::ragged_shape({17, 0, 64, 3}, {17, 9, 130, 1}, 3, 3, 128, DType::bf16, MaskKind::causal));
}

TEST(GenericKernelModifiers, EverythingAtOnce) {
  ProblemShape s = test::ragged_shape({33, 1, 90}, {70, 12, 45}, 4, 2, 64, DType::f16, MaskKind::causal);
  s = with_alibi(capped(windowed(s, 9, -1), 2.0f), true);
  run_modified<DType::f16, 64, m32n32w4, true, true, true, true, true>(s);
  // Non-causal, a window on both sides, over padded strides.
  ProblemShape t = strided(test::ragged_shape({20, 57}, {64, 31}, 2, 2, 64, DType::bf16), 8, 3);
  t = with_alibi(capped(windowed(t, 4, 11), 1.0f), false);
  run_modified<DType::bf16, 64, m16n64w2, false, true, true, true, true>(t);
}

}  // namespace
}  // namespace flashjit
