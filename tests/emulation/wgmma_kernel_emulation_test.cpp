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

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

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
using test::capped;
using test::windowed;
using test::with_alibi;

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

// ---- issue 14: sliding windows, softcap and ALiBi (the `_modified` entry) ---------------------------

// The K rows TMA should load for `s` with query tiles of kBlockM rows and key blocks of kBlockN: for
// every (batch, head) tile, each block holding a key some row of the tile sees, and no other,
// written out from the window's definition (not the kernel's formula); (kv head, batch, first row)
// per block, sorted. A ragged batch's sequences are rows of its one packed entry (batch 0), from
// their first tokens.
std::vector<std::array<int, 3>> expected_key_blocks(const ProblemShape& s, int block_m, int block_n) {
  std::vector<std::array<int, 3>> blocks;
  int k_row0 = 0;
  for (int batch = 0; batch < s.batch; ++batch) {
    const int seqlen_q = s.ragged() ? s.q_lengths[batch] : s.seqlen_q;
    const int seqlen_k = s.ragged() ? s.k_lengths[batch] : s.seqlen_k;
    const int offset = seqlen_k - seqlen_q;
    for (int head = 0; head < s.num_heads; ++head)
      for (int m0 = 0; m0 < seqlen_q; m0 += block_m) {
        std::vector<bool> seen((seqlen_k + block_n - 1) / block_n, false);
        for (int row = m0; row < std::min(m0 + block_m, seqlen_q); ++row)
          for (int key = 0; key < seqlen_k; ++key) {
            const bool causal_ok = s.mask != kCausal || key <= row + offset;
            const bool left_ok = s.window_left < 0 || key >= row + offset - s.window_left;
            const bool right_ok = s.window_right < 0 || key <= row + offset + s.window_right;
            if (causal_ok && left_ok && right_ok) seen[key / block_n] = true;
          }
        const int kv_head = head / (s.num_heads / s.num_kv_heads);
        for (size_t b = 0; b < seen.size(); ++b)
          if (seen[b])
            blocks.push_back({kv_head, s.ragged() ? 0 : batch, k_row0 + static_cast<int>(b) * block_n});
      }
    if (s.ragged()) k_row0 += seqlen_k;
  }
  std::sort(blocks.begin(), blocks.end());
  return blocks;
}

// The blocks of `tensor` the launch loaded (its first 64-column tile's boxes), sorted like the above.
std::vector<std::array<int, 3>> loaded_blocks(const void* tensor) {
  std::vector<std::array<int, 3>> blocks;
  for (const emulation::TmaLoad& load : emulation::recorded_tma_loads())
    if (load.tensor == tensor && load.column == 0) blocks.push_back({load.head, load.batch, load.row});
  std::sort(blocks.begin(), blocks.end());
  return blocks;
}

// Runs `s` on the `_modified` entry specialized on the given modifiers (they must be the shape's),
// with tile TileT on `persistent_blocks` blocks, against the reference; then checks that the
// producer loaded exactly the K and V blocks the tiles' rows see.
template <class TileT, DType kDType, int kHeadDim, bool kMaskCausal, bool kWindow, bool kSoftcap, bool kAlibi,
          bool kRagged = false>
void run_modified(const ProblemShape& s, int persistent_blocks = 2, Lse lse = Lse::written) {
  using Traits = test::WithModifiers<test::EmulatedTraits<kDType, kHeadDim, TileT::kBlockM, TileT::kBlockN,
                                                          TileT::kWarps, TileT::kStages, kMaskCausal>,
                                     kWindow, kSoftcap, kAlibi, kRagged>;
  gen::KernelSpec spec = test::emulated_spec(Variant::wgmma_sm90, 90, s, TileT::kBlockM, TileT::kBlockN,
                                             TileT::kWarps, TileT::kStages);
  spec.arch_specific = true;
  ASSERT_EQ(spec.dtype, kDType) << s.name();
  ASSERT_EQ(spec.head_dim, kHeadDim) << s.name();
  ASSERT_EQ(spec.mask == kCausal, kMaskCausal) << s.name();
  ASSERT_EQ(spec.window, kWindow) << s.name();
  ASSERT_EQ(spec.softcap, kSoftcap) << s.name();
  ASSERT_EQ(spec.alibi, kAlibi) << s.name();
  ASSERT_EQ(spec.ragged, kRagged) << s.name();
  EXPECT_EQ(dev::WgmmaShape<Traits>::kSharedBytes, gen::shared_memory_bytes(spec)) << gen::canonical_key(spec);
  test::HostProblem problem = test::make_problem(s);
  emulation::record_tma_loads();
  test::expect_emulated_modified_wgmma_kernel_matches(&dev::wgmma_sm90_forward_modified<Traits>, spec, hopper(),
                                                      problem, lse, persistent_blocks);
  const std::vector<std::array<int, 3>> expected = expected_key_blocks(s, TileT::kBlockM, TileT::kBlockN);
  EXPECT_EQ(loaded_blocks(problem.args.k.data), expected) << s.name() << ": the K blocks loaded";
  EXPECT_EQ(loaded_blocks(problem.args.v.data), expected) << s.name() << ": the V blocks loaded";
}

// A window on both sides over a few hundred keys: each tile loads the two or three 64-key blocks its
// band crosses and skips the rest on both sides (the load check), with seqlen_q != seqlen_k shifting
// the band; one block walks several tiles, so the ring's phases carry over between tiles that load
// different numbers of blocks.
TEST(WgmmaSm90Modifiers, SlidingWindowSkipsBlocksOnBothSides) {
  run_modified<Tile<128, 64, 2>, DType::f16, 64, false, true, false, false>(
      windowed(test::shape(2, 2, 1, 330, 420, 64, DType::f16), 40, 25), 2);
  run_modified<Tile<64, 64, 3>, DType::bf16, 128, false, true, false, false>(
      windowed(test::shape(1, 2, 2, 200, 390, 128, DType::bf16), 20, 70), 3);
}

// Many more queries than keys, a window of 10 on each side: rows 0..339 have their band end before
// key 0, so the first two tiles have no block at all (the producer loads nothing for them, their
// consumers store zeros with lse -inf) and the third is partly empty; one block walks them all.
TEST(WgmmaSm90Modifiers, TilesWhoseRowsSeeNoKey) {
  run_modified<Tile<128, 64, 2>, DType::f16, 64, false, true, false, false>(
      windowed(test::shape(1, 2, 1, 450, 100, 64, DType::f16), 10, 10), 1);
}

// Causal with window_left, seqlen_q > seqlen_k: the first rows see nothing; the rest see the 31 keys
// up to their diagonal.
TEST(WgmmaSm90Modifiers, CausalWithALeftWindow) {
  run_modified<Tile<64, 64, 2>, DType::bf16, 64, true, true, false, false>(
      windowed(test::shape(2, 2, 1, 300, 170, 64, DType::bf16, kCausal), 30, -1), 3);
  run_modified<Tile<128, 128, 3>, DType::f16, 128, true, true, false, false>(
      windowed(test::shape(1, 3, 1, 140, 400, 128, DType::f16, kCausal), 150, -1), 2);
}

// A cap of 0.5 flattens every score; 30 (Gemma 2's) barely touches scores this small.
TEST(WgmmaSm90Modifiers, Softcap) {
  run_modified<Tile<128, 64, 2>, DType::f16, 64, false, false, true, false>(
      capped(test::shape(2, 2, 1, 100, 150, 64, DType::f16), 0.5f), 2);
  run_modified<Tile<128, 128, 3>, DType::bf16, 128, true, false, true, false>(
      capped(test::shape(1, 2, 2, 150, 300, 128, DType::bf16, kCausal), 30.0f), 2);
}

// ALiBi per head with GQA (4 heads on 2), and per batch entry (3 rows of slopes) with MQA, causal.
TEST(WgmmaSm90Modifiers, AlibiPerHeadAndPerBatchWithGqa) {
  run_modified<Tile<128, 64, 2>, DType::f16, 64, false, false, false, true>(
      with_alibi(test::shape(2, 4, 2, 90, 200, 64, DType::f16), false), 2);
  run_modified<Tile<64, 64, 2>, DType::bf16, 128, true, false, false, true>(
      with_alibi(test::shape(3, 2, 1, 130, 110, 128, DType::bf16, kCausal), true), 3);
}

// All three at once: d 64's default 192-key blocks (the tile that spilled before ALiBi's distances
// went to floats), d 128's 128 x 128 with three slots, d 256's 64-key blocks; causal with a left
// window, and a window on both sides; lse left out once.
TEST(WgmmaSm90Modifiers, WindowSoftcapAndAlibiTogether) {
  run_modified<Tile<128, 192, 2>, DType::f16, 64, false, true, true, true>(
      with_alibi(capped(windowed(test::shape(2, 4, 2, 260, 500, 64, DType::f16), 70, 30), 2.0f), true), 2);
  run_modified<Tile<128, 128, 3>, DType::bf16, 128, true, true, true, true>(
      with_alibi(capped(windowed(test::shape(1, 4, 1, 300, 270, 128, DType::bf16, kCausal), 45, -1), 30.0f), false),
      2);
  run_modified<Tile<128, 64, 2>, DType::bf16, 256, false, true, true, true>(
      with_alibi(capped(windowed(test::shape(1, 1, 1, 70, 260, 256, DType::bf16), 60, 0), 1.0f), false), 1,
      Lse::null);
}

// Ragged batches (the packed tensors one tensor-map entry of their token counts): lengths 0, 1, odd
// and long in one batch, seqlen_q above and below seqlen_k per sequence, causal bottom-right per
// sequence, GQA, tiles past a short sequence's end (nothing loaded or stored), key boxes running into
// the next sequence (masked) and past the last token (TMA's zeros), both consumer counts, every
// stage count, and the lse at [num_heads, total_q]; the load check proves each tile loads only its
// own sequence's blocks.
TEST(WgmmaSm90Modifiers, RaggedBatches) {
  run_modified<Tile<128, 64, 2>, DType::f16, 64, true, false, false, false, true>(
      test::ragged_shape({0, 1, 37, 300, 5}, {7, 0, 37, 200, 130}, 2, 1, 64, DType::f16, kCausal), 2);
  run_modified<Tile<64, 128, 3>, DType::bf16, 128, false, false, false, false, true>(
      test::ragged_shape({17, 0, 190, 3}, {17, 9, 130, 1}, 3, 3, 128, DType::bf16), 3);
  run_modified<Tile<128, 128, 3>, DType::bf16, 128, true, false, false, false, true>(
      test::ragged_shape({33, 1, 260, 0}, {270, 12, 145, 3}, 4, 2, 128, DType::bf16, kCausal), 1);
  run_modified<Tile<128, 64, 2>, DType::f16, 256, false, false, false, false, true>(
      test::ragged_shape({70, 2}, {65, 129}, 1, 1, 256, DType::f16), 2, Lse::null);
}

// A ragged batch with every modifier: a window on both sides, a softcap and per-batch ALiBi slopes
// (each sequence its own distances), and a causal one with a left window, at d 64's 192-key blocks.
TEST(WgmmaSm90Modifiers, RaggedBatchesWithWindowSoftcapAndAlibi) {
  run_modified<Tile<128, 64, 2>, DType::f16, 64, false, true, true, true, true>(
      with_alibi(capped(windowed(test::ragged_shape({150, 0, 41, 266}, {300, 5, 41, 90}, 4, 2, 64, DType::f16), 30,
                                 20),
                        5.0f),
                 true),
      2);
  run_modified<Tile<128, 192, 2>, DType::bf16, 64, true, true, true, true, true>(
      with_alibi(capped(windowed(test::ragged_shape({200, 1, 77}, {420, 64, 30}, 2, 1, 64, DType::bf16, kCausal),
                                 100, -1),
                        30.0f)),
      2);
}

// TMA copies landing at issue: with tiles loading different numbers of blocks, a producer that
// refilled a slot before both consumers released it would corrupt what they read.
TEST(WgmmaSm90Modifiers, EagerTmaCopiesWithAWindow) {
  EagerTma eager;
  run_modified<Tile<128, 64, 2>, DType::f16, 64, false, true, false, false>(
      windowed(test::shape(1, 2, 1, 300, 330, 64, DType::f16), 60, 5), 1);
}

}  // namespace
}  // namespace flashjit
