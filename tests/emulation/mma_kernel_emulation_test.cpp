// The tensor-core kernel templates (templates/mma_sm80_forward.cuh and mma_sm75_forward.cuh, both
// over mma_forward.cuh) executed on the CPU by the host emulation: every CUDA thread a std::thread,
// ldmatrix, mma.sync and cp.async by the emulation's own reading of the PTX ISA
// (tensor_core_emulation.cpp), shared memory poisoned. Checked against the double-precision
// reference: fragment layouts, swizzled and padded shared-memory rows, the cp.async ring at every
// stage count (in both the deferred and the eager copy mode), masking, tails, GQA, strides (the
// 16-byte and the element-by-element paths), the online softmax and lse. What it cannot check:
// real PTX semantics where the emulation and the kernel would share a misreading, timing, and the
// compiled code (tests/codegen and the GPU tests cover those).
#define FLASHJIT_HOST_EMULATION 1

#include <algorithm>
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
#include "mma_sm75_forward.cuh"
#include "mma_sm80_forward.cuh"
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

constexpr MaskKind kNone = MaskKind::none;
constexpr MaskKind kCausal = MaskKind::causal;

template <int kBlockM_, int kBlockN_, int kWarps_, int kStages_>
struct Tile {
  static constexpr int kBlockM = kBlockM_;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kStages = kStages_;
};

const gen::DeviceDescription& device_for(Variant variant) {
  static const gen::DeviceDescription ampere = gen::DeviceDescription::for_arch(80);
  static const gen::DeviceDescription turing = gen::DeviceDescription::for_arch(75);
  return variant == Variant::mma_sm80 ? ampere : turing;
}

template <Variant kVariant, class TileT>
gen::KernelSpec spec_for(const ProblemShape& s) {
  return test::emulated_spec(kVariant, device_for(kVariant).compute_capability(), s, TileT::kBlockM,
                             TileT::kBlockN, TileT::kWarps, TileT::kStages);
}

template <Variant kVariant, class Traits>
test::EmulatedKernel kernel_of() {
  if constexpr (kVariant == Variant::mma_sm80)
    return &dev::mma_sm80_forward<Traits>;
  else
    return &dev::mma_sm75_forward<Traits>;
}

// Runs `problem` through variant kVariant with tile TileT; the problem's dtype and head dim must be
// kDType and kHeadDim, its mask picks kCausal.
template <Variant kVariant, class TileT, DType kDType, int kHeadDim>
void expect_problem_matches(test::HostProblem& problem, Lse lse = Lse::written) {
  const ProblemShape& s = problem.shape;
  ASSERT_EQ(s.dtype, kDType) << s.name();
  ASSERT_EQ(s.head_dim, kHeadDim) << s.name();
  const gen::KernelSpec spec = spec_for<kVariant, TileT>(s);
  auto run = [&](auto causal) {
    using Traits = test::EmulatedTraits<kDType, kHeadDim, TileT::kBlockM, TileT::kBlockN, TileT::kWarps,
                                        TileT::kStages, decltype(causal)::value>;
    test::expect_emulated_kernel_matches(kernel_of<kVariant, Traits>(), spec, device_for(kVariant), problem, lse);
  };
  if (s.mask == kCausal)
    run(std::true_type{});
  else
    run(std::false_type{});
}

template <Variant kVariant, class TileT, DType kDType, int kHeadDim>
void expect_matches(const ProblemShape& s, Lse lse = Lse::written) {
  test::HostProblem problem = test::make_problem(s);
  expect_problem_matches<kVariant, TileT, kDType, kHeadDim>(problem, lse);
}

template <class TileT, DType kDType, int kHeadDim>
void expect_sm80_matches(const ProblemShape& s, Lse lse = Lse::written) {
  expect_matches<Variant::mma_sm80, TileT, kDType, kHeadDim>(s, lse);
}
template <class TileT, int kHeadDim>
void expect_sm75_matches(const ProblemShape& s, Lse lse = Lse::written) {
  expect_matches<Variant::mma_sm75, TileT, DType::f16, kHeadDim>(s, lse);
}

// Restores the default copy mode however a test ends.
struct EagerCopies {
  EagerCopies() { emulation::set_cp_async_mode(emulation::CpAsyncMode::eager); }
  ~EagerCopies() { emulation::set_cp_async_mode(emulation::CpAsyncMode::deferred); }
};

// ---- mma_sm80: head dims (swizzled and padded rows), dtypes, tiles and stages ---------------------

TEST(MmaSm80Emulation, F16HeadDim64TwoTilesPerWarpAndTailsInBothSequences) {
  for (MaskKind mask : {kNone, kCausal})
    expect_sm80_matches<Tile<64, 32, 2, 2>, DType::f16, 64>(test::shape(1, 2, 2, 77, 133, 64, DType::f16, mask));
}

TEST(MmaSm80Emulation, Bf16HeadDim128ThreeStages) {
  for (MaskKind mask : {kNone, kCausal})
    expect_sm80_matches<Tile<32, 16, 2, 3>, DType::bf16, 128>(test::shape(1, 1, 1, 40, 70, 128, DType::bf16, mask));
}

// 40 pads to 48 columns: 6 chunks per row, stored with a padding chunk instead of the swizzle.
TEST(MmaSm80Emulation, F16HeadDim40PaddedRows) {
  for (MaskKind mask : {kNone, kCausal})
    expect_sm80_matches<Tile<64, 32, 2, 2>, DType::f16, 40>(test::shape(1, 2, 1, 50, 45, 40, DType::f16, mask));
}

TEST(MmaSm80Emulation, Bf16HeadDim8OneStage) {
  for (MaskKind mask : {kNone, kCausal})
    expect_sm80_matches<Tile<32, 16, 1, 1>, DType::bf16, 8>(test::shape(1, 1, 1, 37, 29, 8, DType::bf16, mask));
}

TEST(MmaSm80Emulation, F16HeadDim96FourStages) {
  expect_sm80_matches<Tile<32, 32, 2, 4>, DType::f16, 96>(test::shape(1, 1, 1, 33, 150, 96, DType::f16, kNone));
}

TEST(MmaSm80Emulation, Bf16HeadDim256) {
  expect_sm80_matches<Tile<16, 16, 1, 2>, DType::bf16, 256>(test::shape(1, 1, 1, 20, 40, 256, DType::bf16, kCausal));
}

TEST(MmaSm80Emulation, F16HeadDim72) {
  expect_sm80_matches<Tile<16, 32, 1, 2>, DType::f16, 72>(test::shape(1, 1, 1, 21, 50, 72, DType::f16, kCausal));
}

// Causal with more queries than keys (the first rows see no key: zeros and lse -inf), as many, and
// fewer; and one query or one key.
TEST(MmaSm80Emulation, CausalLengthRelationsAndSeqlenOne) {
  using T = Tile<32, 16, 2, 2>;
  expect_sm80_matches<T, DType::f16, 32>(test::shape(1, 1, 1, 70, 20, 32, DType::f16, kCausal));
  expect_sm80_matches<T, DType::f16, 32>(test::shape(1, 1, 1, 45, 45, 32, DType::f16, kCausal));
  expect_sm80_matches<T, DType::f16, 32>(test::shape(1, 1, 1, 20, 70, 32, DType::f16, kCausal));
  for (MaskKind mask : {kNone, kCausal}) {
    expect_sm80_matches<T, DType::f16, 32>(test::shape(1, 2, 2, 1, 1, 32, DType::f16, mask));
    expect_sm80_matches<T, DType::f16, 32>(test::shape(1, 1, 1, 1, 40, 32, DType::f16, mask));
    expect_sm80_matches<T, DType::f16, 32>(test::shape(1, 1, 1, 40, 1, 32, DType::f16, mask));
  }
}

TEST(MmaSm80Emulation, GroupedAndMultiQueryAttention) {
  using T = Tile<32, 32, 2, 2>;
  expect_sm80_matches<T, DType::bf16, 32>(test::shape(1, 4, 2, 35, 50, 32, DType::bf16, kCausal));
  expect_sm80_matches<T, DType::f16, 32>(test::shape(2, 3, 1, 35, 50, 32, DType::f16, kNone));
}

TEST(MmaSm80Emulation, ExplicitSoftmaxScaleAndNullLse) {
  using T = Tile<32, 32, 2, 2>;
  ProblemShape s = test::shape(1, 1, 1, 30, 50, 32, DType::f16, kNone);
  s.softmax_scale = 0.3f;
  expect_sm80_matches<T, DType::f16, 32>(s);
  expect_sm80_matches<T, DType::f16, 32>(test::shape(1, 2, 2, 40, 40, 32, DType::f16, kCausal), Lse::null);
}

// Padding of 8 elements keeps rows 16-byte aligned (cp.async path); 3 does not (element copies
// into shared memory and element stores of O).
TEST(MmaSm80Emulation, NonContiguousStridesAlignedAndNot) {
  using T = Tile<32, 16, 2, 2>;
  expect_sm80_matches<T, DType::f16, 32>(test::strided(test::shape(2, 2, 1, 33, 47, 32, DType::f16, kCausal), 8, 8));
  expect_sm80_matches<T, DType::bf16, 40>(test::strided(test::shape(1, 2, 1, 20, 40, 40, DType::bf16, kNone), 3, 5));
}

// A one-batch, one-head view of a larger tensor: the batch and head strides are never stepped, so
// odd ones must not send the kernel to the element-by-element path.
TEST(MmaSm80Emulation, StridesOfDimensionsOfExtentOneKeepTheAsyncPath) {
  const long long before = emulation::cp_async_copies_issued();
  ProblemShape s = test::shape(1, 1, 1, 33, 47, 32, DType::f16, kCausal);
  test::HostProblem problem = test::make_problem(s);
  for (Strides* strides : {&problem.args.q.strides, &problem.args.k.strides, &problem.args.v.strides}) {
    strides->batch = 12345;
    strides->head = 777;
    strides->seq = 32;
  }
  expect_problem_matches<Variant::mma_sm80, Tile<32, 16, 2, 2>, DType::f16, 32>(problem);
  EXPECT_GT(emulation::cp_async_copies_issued(), before) << "the kernel took the element-by-element path";
}

// K and the output head-major, V padded differently, Q sequence-major; the output's rows are not
// 16-byte aligned while the inputs' are.
TEST(MmaSm80Emulation, EveryTensorInItsOwnLayout) {
  const ProblemShape s = test::strided(test::shape(2, 2, 2, 33, 40, 40, DType::bf16, kCausal), 8, 8);
  test::HostProblem problem = test::make_problem(s);
  const int D = s.head_dim;
  test::relayout(problem, Operand::k, Strides{int64_t{s.num_kv_heads} * s.seqlen_k * D, D, int64_t{s.seqlen_k} * D});
  const int64_t v_head = int64_t{s.seqlen_k} * (D + 8) + 16;
  test::relayout(problem, Operand::v, Strides{s.num_kv_heads * v_head + 32, D + 8, v_head});
  const int64_t out_head = int64_t{s.seqlen_q} * (D + 4) + 4;
  test::relayout(problem, Operand::out, Strides{s.num_heads * out_head, D + 4, out_head});
  expect_problem_matches<Variant::mma_sm80, Tile<32, 16, 2, 2>, DType::bf16, 40>(problem);
}

// Copies land the moment they are issued: a slot reloaded while another warp still reads it would
// show here (the deferred default shows reads before the wait instead).
TEST(MmaSm80Emulation, EagerCopiesAtEveryStageCount) {
  EagerCopies eager;
  const ProblemShape s = test::shape(1, 1, 1, 40, 100, 32, DType::f16, kCausal);
  expect_sm80_matches<Tile<32, 16, 2, 1>, DType::f16, 32>(s);
  expect_sm80_matches<Tile<32, 16, 2, 2>, DType::f16, 32>(s);
  expect_sm80_matches<Tile<32, 16, 2, 3>, DType::f16, 32>(s);
}

// The tile the selector picks on an A100 for head dim 64, on two query blocks.
TEST(MmaSm80Emulation, DefaultTileOfAmpere) {
  const ProblemShape s = test::shape(1, 1, 1, 130, 80, 64, DType::f16, kCausal);
  auto spec = gen::default_spec(Variant::mma_sm80, device_for(Variant::mma_sm80),
                                flashjit::testing::problem_with({s.dtype, s.head_dim, s.mask}));
  ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
  using T = Tile<128, 64, 4, 2>;
  ASSERT_EQ(gen::canonical_key(*spec), gen::canonical_key(spec_for<Variant::mma_sm80, T>(s)))
      << "the default tile changed: instantiate the new one here";
  expect_sm80_matches<T, DType::f16, 64>(s);
}

// The d=128 default everywhere (two 16-row tiles per warp, 32-key blocks), past a query-block edge.
TEST(MmaSm80Emulation, DefaultTileAtHeadDim128) {
  for (MaskKind mask : {kNone, kCausal}) {
    const ProblemShape s = test::shape(1, 1, 1, 133, 100, 128, DType::bf16, mask);
    auto spec = gen::default_spec(Variant::mma_sm80, device_for(Variant::mma_sm80),
                                  flashjit::testing::problem_with({s.dtype, s.head_dim, s.mask}));
    ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
    using T = Tile<128, 32, 4, 2>;
    ASSERT_EQ(gen::canonical_key(*spec), gen::canonical_key(spec_for<Variant::mma_sm80, T>(s)))
        << "the default tile changed: instantiate the new one here";
    expect_sm80_matches<T, DType::bf16, 128>(s);
  }
}

// Every head dim the variants accept (multiples of 8 up to 256): each pads to its own multiple of 16
// and chunk count, swizzled (8, 16, 24, 32 chunks) or padded (every other count), with a one-warp
// tile so the sweep stays fast. bf16 on mma_sm80, f16 on mma_sm75; causal with a tail in both.
template <int kHeadDim>
void expect_head_dim_matches() {
  const ProblemShape bf16 = test::shape(1, 1, 1, 19, 37, kHeadDim, DType::bf16, kCausal);
  expect_sm80_matches<Tile<16, 16, 1, 2>, DType::bf16, kHeadDim>(bf16);
  const ProblemShape f16 = test::shape(1, 1, 1, 19, 37, kHeadDim, DType::f16, kCausal);
  expect_sm75_matches<Tile<16, 16, 1, 2>, kHeadDim>(f16);
}

template <int... kHeadDims>
void expect_head_dims_match(std::integer_sequence<int, kHeadDims...>) {
  (expect_head_dim_matches<8 * (kHeadDims + 1)>(), ...);
}

TEST(MmaEmulation, EveryHeadDimFrom8To256) { expect_head_dims_match(std::make_integer_sequence<int, 32>{}); }

// ---- mma_sm75 ------------------------------------------------------------------------------------

TEST(MmaSm75Emulation, HeadDim64TwoStagesAndOne) {
  for (MaskKind mask : {kNone, kCausal}) {
    expect_sm75_matches<Tile<64, 32, 2, 2>, 64>(test::shape(1, 2, 1, 77, 100, 64, DType::f16, mask));
    expect_sm75_matches<Tile<32, 16, 2, 1>, 64>(test::shape(1, 1, 1, 40, 45, 64, DType::f16, mask));
  }
}

TEST(MmaSm75Emulation, HeadDim72PaddedRowsAndUnalignedStrides) {
  expect_sm75_matches<Tile<32, 16, 2, 2>, 72>(test::shape(1, 1, 1, 30, 33, 72, DType::f16, kCausal));
  expect_sm75_matches<Tile<32, 16, 2, 2>, 72>(test::strided(test::shape(1, 2, 2, 30, 33, 72, DType::f16, kNone), 3, 3));
}

TEST(MmaSm75Emulation, HeadDim128) {
  expect_sm75_matches<Tile<16, 32, 1, 2>, 128>(test::shape(1, 1, 1, 20, 70, 128, DType::f16, kCausal));
}

// ---- Ragged batches and score modifiers (issue 14) -----------------------------------------------
// The `_modified` entries with the shell's modifier traits, launched as the runtime launches them, on
// odd shapes against the double-precision reference: several key blocks per row so that windows skip
// blocks on both sides, masked and unmasked blocks, rows that see no key, GQA, ragged lengths 0, 1,
// odd and long.

template <Variant kVariant, class Traits>
test::EmulatedModifiedKernel modified_kernel_of() {
  if constexpr (kVariant == Variant::mma_sm80)
    return &dev::mma_sm80_forward_modified<Traits>;
  else
    return &dev::mma_sm75_forward_modified<Traits>;
}

// The problem's features must be the kernel's: the mask and each modifier (the runtime derives them
// from the arguments, as emulated_spec does).
template <Variant kVariant, class TileT, DType kDType, int kHeadDim, bool kCausal, bool kWindow, bool kSoftcap,
          bool kAlibi, bool kRagged>
void expect_modified_problem_matches(test::HostProblem& p, Lse lse = Lse::written) {
  using Base = test::EmulatedTraits<kDType, kHeadDim, TileT::kBlockM, TileT::kBlockN, TileT::kWarps, TileT::kStages,
                                    kCausal>;
  using Traits = test::WithModifiers<Base, kWindow, kSoftcap, kAlibi, kRagged>;
  const gen::KernelSpec spec = spec_for<kVariant, TileT>(p.shape);
  ASSERT_EQ(spec.dtype, kDType);
  ASSERT_EQ(spec.head_dim, kHeadDim);
  ASSERT_EQ(spec.mask == MaskKind::causal, kCausal);
  ASSERT_EQ(spec.window, kWindow);
  ASSERT_EQ(spec.softcap, kSoftcap);
  ASSERT_EQ(spec.alibi, kAlibi);
  ASSERT_EQ(spec.ragged, kRagged);
  test::expect_emulated_modified_kernel_matches(modified_kernel_of<kVariant, Traits>(), spec, device_for(kVariant), p,
                                                lse);
}

template <Variant kVariant, class TileT, DType kDType, int kHeadDim, bool kCausal, bool kWindow, bool kSoftcap,
          bool kAlibi, bool kRagged>
void expect_modified_matches(const ProblemShape& s, Lse lse = Lse::written) {
  test::HostProblem p = test::make_problem(s);
  expect_modified_problem_matches<kVariant, TileT, kDType, kHeadDim, kCausal, kWindow, kSoftcap, kAlibi, kRagged>(p,
                                                                                                                 lse);
}

constexpr Variant kSm80 = Variant::mma_sm80;
constexpr Variant kSm75 = Variant::mma_sm75;

TEST(MmaModifiers, Sm80SlidingWindowBothSides) {
  // Window (20, 5) over 310 keys: each row sees at most 26 keys, ten 32-key blocks per sequence.
  expect_modified_matches<kSm80, Tile<64, 32, 2, 2>, DType::f16, 64, false, true, false, false, false>(
      windowed(test::shape(2, 2, 1, 300, 310, 64, DType::f16), 20, 5));
  // Right bound only, three stages, more keys than queries; and left only, fewer.
  expect_modified_matches<kSm80, Tile<32, 32, 2, 3>, DType::bf16, 128, false, true, false, false, false>(
      windowed(test::shape(1, 2, 2, 130, 257, 128, DType::bf16), -1, 30));
  expect_modified_matches<kSm80, Tile<32, 32, 2, 3>, DType::bf16, 128, false, true, false, false, false>(
      windowed(test::shape(1, 1, 1, 200, 97, 128, DType::bf16), 19, -1));
}

TEST(MmaModifiers, Sm80CausalWithALeftWindowAndRowsThatSeeNothing) {
  // seqlen_q > seqlen_k: the top 130 rows' bands lie before key 0 (zeros, lse -inf).
  expect_modified_matches<kSm80, Tile<64, 32, 2, 2>, DType::f16, 64, true, true, false, false, false>(
      windowed(test::shape(1, 2, 2, 200, 70, 64, DType::f16, kCausal), 17, -1));
  // window_left 0: every row sees its diagonal key alone.
  expect_modified_matches<kSm80, Tile<32, 16, 2, 1>, DType::bf16, 96, true, true, false, false, false>(
      windowed(test::shape(1, 1, 1, 150, 90, 96, DType::bf16, kCausal), 0, -1));
}

TEST(MmaModifiers, Sm80Softcap) {
  // A cap of 0.5 flattens every score; 30 (Gemma 2's) barely touches scores this small.
  expect_modified_matches<kSm80, Tile<32, 32, 2, 2>, DType::bf16, 128, false, false, true, false, false>(
      capped(test::shape(2, 2, 1, 77, 150, 128, DType::bf16), 0.5f));
  expect_modified_matches<kSm80, Tile<64, 32, 2, 2>, DType::f16, 64, true, false, true, false, false>(
      capped(test::shape(1, 3, 3, 97, 97, 64, DType::f16, kCausal), 30.0f));
}

TEST(MmaModifiers, Sm80AlibiPerHeadAndPerBatchWithGqa) {
  expect_modified_matches<kSm80, Tile<64, 32, 2, 2>, DType::f16, 64, false, false, false, true, false>(
      with_alibi(test::shape(2, 4, 2, 90, 130, 64, DType::f16), false));
  // Per-batch slopes, causal, four query heads on one key/value head, lse left out.
  expect_modified_matches<kSm80, Tile<32, 32, 2, 2>, DType::bf16, 128, true, false, false, true, false>(
      with_alibi(test::shape(3, 4, 1, 70, 50, 128, DType::bf16, kCausal), true), Lse::null);
}

TEST(MmaModifiers, Sm80RaggedBatches) {
  // Lengths 0, 1, odd and long in one batch, seqlen_q != seqlen_k per sequence; an empty query
  // sequence writes nothing, an empty key sequence gives zero rows with lse -inf.
  expect_modified_matches<kSm80, Tile<64, 32, 2, 2>, DType::f16, 64, true, false, false, false, true>(
      test::ragged_shape({0, 1, 37, 300, 5}, {7, 0, 37, 200, 130}, 2, 1, 64, DType::f16, kCausal));
  expect_modified_matches<kSm80, Tile<32, 16, 2, 2>, DType::bf16, 128, false, false, false, false, true>(
      test::ragged_shape({17, 0, 64, 3}, {17, 9, 130, 1}, 3, 3, 128, DType::bf16));
}

TEST(MmaModifiers, Sm80EverythingAtOnce) {
  ProblemShape s = test::ragged_shape({33, 1, 190, 0}, {270, 12, 145, 3}, 4, 2, 64, DType::f16, kCausal);
  s = with_alibi(capped(windowed(s, 21, -1), 2.0f), true);
  expect_modified_matches<kSm80, Tile<64, 32, 2, 2>, DType::f16, 64, true, true, true, true, true>(s);
  // Non-causal, a window on both sides, head dim 40 (padded rows), over strides that are not 16-byte
  // aligned (the element-by-element copies).
  ProblemShape t = test::strided(test::ragged_shape({20, 157}, {64, 131}, 2, 2, 40, DType::bf16), 8, 3);
  t = with_alibi(capped(windowed(t, 4, 11), 1.0f), false);
  expect_modified_matches<kSm80, Tile<32, 16, 2, 2>, DType::bf16, 40, false, true, true, true, true>(t);
}

// The 16-byte copies mma_sm80 issues for a problem with tile (block_m, block_n): per query block with
// rows, its Q tile, and the K and V tiles of each key block from the one holding the first key its
// top row sees to the one holding the last key its bottom row sees (FlashAttention-2's window,
// written out here from the semantics); nothing for a block past its sequence's end.
long long expected_copies(const test::HostProblem& p, int block_m, int block_n) {
  const ProblemShape& s = p.shape;
  const long long chunks = (s.head_dim + 15) / 16 * 2;  // 16-byte chunks of a row padded to 16 elements
  long long copies = 0;
  for (int b = 0; b < s.batch; ++b) {
    const int sq = p.seqlen_q_of(b);
    const int sk = p.seqlen_k_of(b);
    for (int m0 = 0; m0 < sq; m0 += block_m) {
      const int top = m0;
      const int bottom = std::min(m0 + block_m, sq) - 1;
      const int first = s.window_left < 0 ? 0 : std::max(0, top + sk - sq - s.window_left);
      int last = sk - 1;
      if (s.mask == kCausal) last = std::min(last, bottom + sk - sq);
      else if (s.window_right >= 0) last = std::min(last, bottom + sk - sq + s.window_right);
      const int blocks = last < 0 ? 0 : (last + block_n) / block_n - first / block_n;
      copies += s.num_heads * (block_m * chunks + 2LL * blocks * block_n * chunks);
    }
  }
  return copies;
}

// A window's work follows the window: the kernel loads no key block before the one its block's top
// row starts in, nor after the one its bottom row ends in (both sides), and a ragged batch's blocks
// past their sequence's end load nothing. The packed tensors (batch stride 0) keep the 16-byte
// cp.async path: the element-by-element one would issue no copies at all.
TEST(MmaModifiers, Sm80WindowsLoadOnlyTheKeyBlocksTheirRowsSee) {
  using T = Tile<64, 32, 2, 2>;
  test::HostProblem one = test::make_problem(windowed(test::shape(1, 2, 1, 300, 310, 64, DType::f16), 20, 5));
  const long long before_one = emulation::cp_async_copies_issued();
  expect_modified_problem_matches<kSm80, T, DType::f16, 64, false, true, false, false, false>(one);
  const long long windowed_copies = emulation::cp_async_copies_issued() - before_one;
  EXPECT_EQ(windowed_copies, expected_copies(one, 64, 32));
  // Without the window, each of the 5 query blocks of the 2 heads loads its 64 Q rows and all 10 key
  // blocks (8 chunks a row); with it, 3 or 4 key blocks.
  const long long unwindowed_copies = 2 * 5 * (64 + 2 * 10 * 32) * 8;
  EXPECT_LT(windowed_copies, unwindowed_copies / 2);

  ProblemShape s = test::ragged_shape({300, 0, 45, 130}, {310, 20, 300, 1}, 2, 1, 64, DType::f16, kCausal);
  test::HostProblem ragged = test::make_problem(windowed(s, 20, -1));
  const long long before_ragged = emulation::cp_async_copies_issued();
  expect_modified_problem_matches<kSm80, T, DType::f16, 64, true, true, false, false, true>(ragged);
  EXPECT_EQ(emulation::cp_async_copies_issued() - before_ragged, expected_copies(ragged, 64, 32));
}

// The tile the selector picks on an A100 for a kernel with modifiers at head dim 128: eight warps of
// one 16-row tile (generator/mma_rules.cpp keeps 16 accumulators for the modifiers' state).
TEST(MmaModifiers, Sm80DefaultTileAtHeadDim128) {
  const ProblemShape s = capped(windowed(test::shape(1, 1, 1, 150, 300, 128, DType::bf16, kCausal), 40, -1), 5.0f);
  const gen::KernelSpec expected = spec_for<kSm80, Tile<128, 64, 8, 2>>(s);
  auto spec = gen::default_spec(kSm80, device_for(kSm80), flashjit::testing::problem_with(expected.features()));
  ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
  ASSERT_EQ(gen::canonical_key(*spec), gen::canonical_key(expected))
      << "the default tile changed: instantiate the new one here";
  expect_modified_matches<kSm80, Tile<128, 64, 8, 2>, DType::bf16, 128, true, true, true, false, false>(s);
}

TEST(MmaModifiers, Sm75EveryModifier) {
  using T = Tile<64, 32, 2, 2>;
  expect_modified_matches<kSm75, T, DType::f16, 64, false, true, false, false, false>(
      windowed(test::shape(2, 2, 1, 300, 310, 64, DType::f16), 20, 5));
  expect_modified_matches<kSm75, Tile<32, 16, 2, 1>, DType::f16, 128, true, true, false, false, false>(
      windowed(test::shape(1, 2, 2, 200, 70, 128, DType::f16, kCausal), 17, -1));
  expect_modified_matches<kSm75, Tile<32, 16, 2, 2>, DType::f16, 128, false, false, true, false, false>(
      capped(test::shape(2, 2, 1, 77, 150, 128, DType::f16), 0.5f));
  expect_modified_matches<kSm75, T, DType::f16, 64, false, false, false, true, false>(
      with_alibi(test::shape(2, 4, 2, 90, 130, 64, DType::f16), false));
  expect_modified_matches<kSm75, Tile<32, 16, 2, 2>, DType::f16, 128, true, false, false, true, false>(
      with_alibi(test::shape(3, 4, 1, 70, 50, 128, DType::f16, kCausal), true));
  expect_modified_matches<kSm75, T, DType::f16, 64, true, false, false, false, true>(
      test::ragged_shape({0, 1, 37, 300, 5}, {7, 0, 37, 200, 130}, 2, 1, 64, DType::f16, kCausal));
}

TEST(MmaModifiers, Sm75EverythingAtOnce) {
  ProblemShape s = test::ragged_shape({33, 1, 190, 0}, {270, 12, 145, 3}, 4, 2, 64, DType::f16, kCausal);
  s = with_alibi(capped(windowed(s, 21, -1), 2.0f), true);
  expect_modified_matches<kSm75, Tile<64, 32, 2, 2>, DType::f16, 64, true, true, true, true, true>(s);
  ProblemShape t = test::ragged_shape({20, 157}, {64, 131}, 2, 2, 96, DType::f16);
  t = with_alibi(capped(windowed(t, 4, 11), 1.0f), false);
  expect_modified_matches<kSm75, Tile<32, 16, 2, 1>, DType::f16, 96, false, true, true, true, true>(t);
}

// ---- NaN scores ----------------------------------------------------------------------------------

// A NaN score makes its row's output and lse NaN (the lse was -inf, as for a row that sees no key),
// in the masked and the unmasked blocks alike; a NaN query row that sees no key stays zeros with
// lse -inf.
TEST(MmaEmulation, NanScoresMakeTheRowAndItsLseNan) {
  test::NanScoreRows rows;
  test::HostProblem sm80 = test::make_nan_score_problem(test::shape(1, 2, 1, 150, 70, 64, DType::bf16, kCausal), &rows);
  expect_problem_matches<Variant::mma_sm80, Tile<64, 32, 2, 2>, DType::bf16, 64>(sm80);
  test::HostProblem sm75 = test::make_nan_score_problem(test::shape(1, 2, 1, 77, 40, 64, DType::f16, kCausal), &rows);
  expect_problem_matches<Variant::mma_sm75, Tile<64, 32, 2, 2>, DType::f16, 64>(sm75);
}

}  // namespace
}  // namespace flashjit
