// The tensor-core variants forced on a real GPU against the CPU backend: wgmma_sm90 (f16 and bf16,
// compute capability 9.0 exactly: H100/H200; head dims 64, 96, 128, 192, 256), mma_sm80 (f16 and
// bf16, compute capability >= 8.0, Hopper included), mma_sm75 (f16, >= 7.5, and correct when
// forced on a newer GPU) and mma_sm70 (f16, >= 7.0: Volta's m8n8k4, which the selector takes on
// Volta only; forced on a newer GPU, ptxas runs it there too, on the CUDA cores from sm_80 on, so
// any GPU checks its fragment handling). The issue's head dims from 8 to 256, causal and not, odd lengths, q > k,
// GQA/MQA, padded and unaligned strides, a custom scale, no lse, seqlen 1, forced tiles; outputs
// poisoned (NaN) first, so an element the kernel never wrote fails. Also: repeated runs are
// bit-identical (a moving result is a race), an illegal forced tile is refused before launch, and
// on Hopper a layout TMA cannot address runs on mma_sm80, with plan() saying why.
// Skipped, with the reason, where no GPU is usable or the GPU is not one the variant runs on.
//
// Test names start with the variant, so one case per variant can be picked by a filter, e.g. for
// compute-sanitizer (scripts/gpu_check.sh):
//   --gtest_filter='Sanitizer/GpuTensorCore.MatchesTheCpuBackend/mma_sm80_*'
//   --gtest_filter='Sanitizer/GpuTensorCore.MatchesTheCpuBackend/wgmma_sm90_*'
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "cuda/device.h"
#include "helpers/compare.h"
#include "helpers/cpu_reference.h"
#include "helpers/device_problem.h"
#include "helpers/gpu_runtime.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

using test::HostProblem;
using test::ProblemShape;
using test::shape;

// A tile as canonical_key writes it: "m64n32w4s3".
std::string tile_text(const TileConfig& t) {
  return "m" + std::to_string(t.block_m) + "n" + std::to_string(t.block_n) + "w" + std::to_string(t.warps) + "s" +
         std::to_string(t.stages);
}

// The part of a spec key that names a forced tile: "_m64n32w4s3_".
std::string tile_key(const TileConfig& t) { return "_" + tile_text(t) + "_"; }

struct TensorCoreCase {
  Variant variant;
  ProblemShape shape;
  std::optional<TileConfig> tiles;  // none: the variant's default tile

  std::string name() const {
    return std::string(variant_name(variant)) + "_" + shape.name() + (tiles ? "_" + tile_text(*tiles) : "");
  }
};

void PrintTo(const TensorCoreCase& c, std::ostream* os) { *os << c.name(); }
std::string case_name(const testing::TestParamInfo<TensorCoreCase>& info) { return info.param.name(); }

// The shared runtime forcing the case's variant and tiles, or null with why the test must skip:
// no usable GPU, or one the variant does not run on.
Runtime* runtime_for(Variant variant, const std::optional<TileConfig>& tiles, std::string* skip_reason) {
  RuntimeOptions options;
  options.force_variant = variant;
  options.force_tiles = tiles;
  Runtime* runtime = test::shared_gpu_runtime(options, skip_reason);
  if (!runtime) {
    *skip_reason = "no CUDA runtime: " + *skip_reason;
    return nullptr;
  }
  const int cc = test::gpu_compute_capability(skip_reason);
  if (cc == 0) return nullptr;
  if (std::string why = test::architecture_skip(variant, cc); !why.empty()) {
    *skip_reason = why;
    return nullptr;
  }
  return runtime;
}

// After a successful forward: the runtime really ran the forced variant (and tile), so a passing
// test says something about the tensor-core kernel rather than a fallback.
void expect_kernel_is(Runtime& runtime, const HostProblem& p, const TensorCoreCase& c) {
  Result<KernelChoice> choice = runtime.plan(p.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_EQ(choice->kernel_key.rfind(std::string(variant_name(c.variant)) + "_", 0), 0u) << choice->kernel_key;
  EXPECT_EQ(choice->variant, std::optional<Variant>(c.variant));
  if (c.tiles) {
    EXPECT_NE(choice->kernel_key.find(tile_key(*c.tiles)), std::string::npos) << choice->kernel_key;
  }
}

// ---------------------------------------------------------------------------------------------
// Correctness against the CPU backend. Tolerance (tests/helpers/compare.h): every output element
// within 1e-6 + rel * max_d |reference row| with rel 2e-3 for f16 and 1e-2 for bf16 (the issue's
// relative error, measured against the row's scale); lse within kKernelLseTolerance.

class GpuTensorCore : public testing::TestWithParam<TensorCoreCase> {};

TEST_P(GpuTensorCore, MatchesTheCpuBackend) {
  const TensorCoreCase& c = GetParam();
  std::string skip_reason;
  Runtime* runtime = runtime_for(c.variant, c.tiles, &skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  HostProblem p = test::make_problem(c.shape);
  ASSERT_TRUE(test::device_matches_cpu(*runtime, p));
  expect_kernel_is(*runtime, p, c);
}

// The issue's bounds, so that loosening the shared tolerance for another backend shows up here.
TEST(GpuTensorCoreTolerance, IsWithinTheIssuesRelativeBounds) {
  EXPECT_LE(test::output_tolerance(DType::f16).rel, 2e-3);
  EXPECT_LE(test::output_tolerance(DType::bf16).rel, 1e-2);
  EXPECT_LE(test::output_tolerance(DType::f16).abs, 1e-6);
  EXPECT_LE(test::output_tolerance(DType::bf16).abs, 1e-6);
}

std::vector<DType> dtypes_of(Variant variant) {
  if (variant == Variant::mma_sm80 || variant == Variant::wgmma_sm90) return {DType::f16, DType::bf16};
  return {DType::f16};
}

// The head dims wgmma_sm90 is generated for (others run on mma_sm80).
constexpr int kWgmmaHeadDims[] = {64, 96, 128, 192, 256};

constexpr Variant kTensorCoreVariants[] = {Variant::mma_sm80, Variant::mma_sm75, Variant::mma_sm70};

// Every head dim from the issue, each dtype the variant computes, causal and not, on lengths that
// fill no tile (77 queries, 133 keys) with GQA 2:1.
std::vector<TensorCoreCase> every_head_dim() {
  std::vector<TensorCoreCase> cases;
  for (Variant v : kTensorCoreVariants)
    for (DType t : dtypes_of(v))
      for (int d : {8, 16, 24, 32, 40, 64, 72, 96, 128, 160, 192, 224, 256})
        for (MaskKind m : {MaskKind::none, MaskKind::causal})
          cases.push_back({v, shape(2, 4, 2, 77, 133, d, t, m), std::nullopt});
  // wgmma_sm90: each of its head dims, both dtypes, both masks, with its default tiles (two
  // consumer warpgroups; 192-, 128- or 64-key tiles).
  for (DType t : dtypes_of(Variant::wgmma_sm90))
    for (int d : kWgmmaHeadDims)
      for (MaskKind m : {MaskKind::none, MaskKind::causal})
        cases.push_back({Variant::wgmma_sm90, shape(2, 4, 2, 77, 133, d, t, m), std::nullopt});
  return cases;
}

// wgmma_sm90's edges at the head dims it is generated for, f16 and bf16 alternating: tails in both
// lengths, q > k causal, GQA/MQA, a ring of K/V slots that wraps, more 128-row tiles than an H100
// has SMs (the persistent scheduler hands each block several), then per dtype strided layouts TMA
// can still address (every stride a multiple of 16 bytes), scales and no lse. The layouts TMA
// cannot address are GpuHopperLayout's (they run on mma_sm80).
std::vector<TensorCoreCase> wgmma_odd_shapes() {
  const Variant v = Variant::wgmma_sm90;
  const std::vector<DType> types = dtypes_of(v);
  std::vector<TensorCoreCase> cases;
  size_t next = 0;
  auto add_alternating = [&](ProblemShape s) {
    s.dtype = types[next++ % types.size()];
    cases.push_back({v, s, std::nullopt});
  };
  const DType any = DType::f16;  // replaced by add_alternating
  add_alternating(shape(1, 1, 1, 1, 1, 64, any, MaskKind::none));          // seqlen 1
  add_alternating(shape(1, 1, 1, 1, 1, 256, any, MaskKind::causal));
  add_alternating(shape(1, 2, 2, 1, 333, 128, any, MaskKind::causal));     // decode-like
  add_alternating(shape(1, 2, 2, 133, 77, 64, any, MaskKind::causal));     // q > k: 56 rows see no key
  add_alternating(shape(1, 2, 2, 133, 77, 192, any, MaskKind::none));
  add_alternating(shape(2, 6, 2, 77, 133, 64, any, MaskKind::causal));     // GQA 3:1
  add_alternating(shape(2, 6, 2, 77, 133, 128, any, MaskKind::none));
  add_alternating(shape(1, 4, 1, 77, 133, 96, any, MaskKind::causal));     // MQA
  add_alternating(shape(1, 2, 2, 5, 7, 64, any, MaskKind::causal));        // fewer keys than any block_n
  add_alternating(shape(1, 2, 2, 300, 1000, 64, any, MaskKind::causal));   // many K/V tiles: the ring wraps
  add_alternating(shape(1, 2, 2, 1000, 1000, 256, any, MaskKind::causal));
  add_alternating(shape(4, 16, 4, 600, 600, 64, any, MaskKind::causal));   // 320 tiles: more than the SMs
  for (DType t : types) {
    // [batch, seq, head, dim] with padding between heads and rows: head stride 136 elements (272
    // bytes), seq strides 568 and 296 elements; all multiples of 16 bytes.
    ProblemShape padded = shape(2, 4, 2, 45, 77, 128, t, MaskKind::causal);
    padded.head_padding = 8;
    padded.seq_padding = 24;
    // d 96 (two 64-column TMA boxes, the second half out of bounds) with padded heads and rows.
    ProblemShape padded_d96 = shape(1, 4, 2, 77, 133, 96, t, MaskKind::none);
    padded_d96.head_padding = 8;
    padded_d96.seq_padding = 8;
    ProblemShape scaled = shape(1, 2, 2, 50, 50, 128, t, MaskKind::none);
    scaled.softmax_scale = 0.3f;
    ProblemShape sharp = shape(1, 2, 2, 77, 133, 64, t, MaskKind::causal);
    sharp.softmax_scale = 2.0f;  // scores in the tens: the running max must be subtracted right
    ProblemShape no_lse = shape(1, 2, 2, 77, 133, 192, t, MaskKind::causal);
    no_lse.with_lse = false;
    for (const ProblemShape& s : {padded, padded_d96, scaled, sharp, no_lse}) cases.push_back({v, s, std::nullopt});
  }
  return cases;
}

// Shapes that stress the edges: the first group once per variant (mma_sm80 alternating f16 and
// bf16 across it), the layouts, scales and lse once per dtype the variant computes.
std::vector<TensorCoreCase> odd_shapes() {
  std::vector<TensorCoreCase> cases;
  for (Variant v : kTensorCoreVariants) {
    const std::vector<DType> types = dtypes_of(v);
    size_t next = 0;
    auto add_alternating = [&](ProblemShape s) {
      s.dtype = types[next++ % types.size()];
      cases.push_back({v, s, std::nullopt});
    };
    const DType any = DType::f16;  // replaced by add_alternating
    add_alternating(shape(1, 1, 1, 1, 1, 64, any, MaskKind::none));         // seqlen 1
    add_alternating(shape(1, 1, 1, 1, 1, 128, any, MaskKind::causal));
    add_alternating(shape(1, 2, 2, 1, 333, 128, any, MaskKind::causal));    // decode-like
    add_alternating(shape(1, 2, 2, 133, 77, 64, any, MaskKind::causal));    // q > k: 56 rows see no key
    add_alternating(shape(1, 2, 2, 133, 77, 64, any, MaskKind::none));
    add_alternating(shape(2, 6, 2, 77, 133, 64, any, MaskKind::causal));    // GQA 3:1
    add_alternating(shape(2, 6, 2, 77, 133, 128, any, MaskKind::none));
    add_alternating(shape(1, 4, 1, 77, 133, 128, any, MaskKind::causal));   // MQA
    add_alternating(shape(1, 4, 1, 77, 133, 64, any, MaskKind::none));
    add_alternating(shape(1, 2, 2, 5, 7, 32, any, MaskKind::causal));       // fewer keys than any block_n
    add_alternating(shape(1, 2, 2, 300, 1000, 64, any, MaskKind::causal));  // many K/V tiles: the pipeline wraps
    add_alternating(shape(1, 2, 2, 1000, 1000, 128, any, MaskKind::causal));
    for (DType t : types) {
      // [batch, seq, head, dim] with padding between heads and rows, still 16-byte aligned.
      ProblemShape padded = shape(2, 4, 2, 45, 77, 64, t, MaskKind::causal);
      padded.head_padding = 8;
      padded.seq_padding = 24;
      // A seq stride of 2*64+3 elements: rows are not 16-byte aligned (the unaligned load path).
      ProblemShape unaligned_rows = shape(1, 2, 2, 77, 133, 64, t, MaskKind::none);
      unaligned_rows.seq_padding = 3;
      // A head stride of 40+1 elements: heads are not 16-byte aligned either.
      ProblemShape unaligned_heads = shape(1, 2, 1, 77, 133, 40, t, MaskKind::causal);
      unaligned_heads.head_padding = 1;
      ProblemShape scaled = shape(1, 2, 2, 50, 50, 128, t, MaskKind::none);
      scaled.softmax_scale = 0.3f;
      ProblemShape sharp = shape(1, 2, 2, 77, 133, 64, t, MaskKind::causal);
      sharp.softmax_scale = 2.0f;  // scores in the tens: the running max must be subtracted right
      ProblemShape no_lse = shape(1, 2, 2, 77, 133, 64, t, MaskKind::causal);
      no_lse.with_lse = false;
      for (const ProblemShape& s : {padded, unaligned_rows, unaligned_heads, scaled, sharp, no_lse})
        cases.push_back({v, s, std::nullopt});
    }
  }
  for (const TensorCoreCase& c : wgmma_odd_shapes()) cases.push_back(c);
  return cases;
}

// Legal forced tiles: block_m = (16 or 32 rows per warp) * warps, block_n 16..128, stages 2..4
// (mma_sm80) or 1..2 (mma_sm75); each on a causal d64 problem with ragged lengths and a d128 one.
// The mma_sm80 tiles fit Ampere's shared memory, the mma_sm75 ones Turing's 64 KB (they run on a
// T4 too), and all the register budget of generator/mma_rules.cpp at d128.
std::vector<TensorCoreCase> forced_tiles() {
  const TileConfig sm80_tiles[] = {{16, 16, 1, 2}, {32, 32, 1, 3}, {64, 32, 4, 3}, {64, 64, 4, 4},
                                   {128, 64, 8, 2}, {32, 128, 2, 2}, {64, 32, 2, 2}};
  const TileConfig sm75_tiles[] = {{16, 16, 1, 1}, {32, 32, 1, 2}, {64, 64, 4, 1}, {128, 32, 8, 1}, {32, 64, 2, 1}};
  // mma_sm70: 32 rows per warp (a quad pair per slab) and 16 (the head dim split), one and two
  // slots; all within Volta's 96 KiB and generator/mma_sm70_rules.cpp's registers at d128.
  const TileConfig sm70_tiles[] = {{32, 16, 1, 1}, {16, 32, 1, 2}, {64, 64, 4, 1}, {128, 32, 8, 2}, {64, 32, 2, 2}};
  std::vector<TensorCoreCase> cases;
  for (const TileConfig& t : sm80_tiles) {
    cases.push_back({Variant::mma_sm80, shape(2, 2, 1, 77, 93, 64, DType::f16, MaskKind::causal), t});
    cases.push_back({Variant::mma_sm80, shape(1, 2, 2, 31, 200, 128, DType::bf16, MaskKind::none), t});
  }
  for (const TileConfig& t : sm75_tiles) {
    cases.push_back({Variant::mma_sm75, shape(2, 2, 1, 77, 93, 64, DType::f16, MaskKind::causal), t});
    cases.push_back({Variant::mma_sm75, shape(1, 2, 2, 31, 200, 128, DType::f16, MaskKind::none), t});
  }
  for (const TileConfig& t : sm70_tiles) {
    cases.push_back({Variant::mma_sm70, shape(2, 2, 1, 77, 93, 64, DType::f16, MaskKind::causal), t});
    cases.push_back({Variant::mma_sm70, shape(1, 2, 2, 31, 200, 128, DType::f16, MaskKind::none), t});
  }
  // wgmma_sm90: block_m 64 (one consumer warpgroup, 8 warps) or 128 (two, 12 warps), each key-tile
  // width, 2 to 4 stages; each on the causal d64 problem and, where the tile fits there (227 KB of
  // shared memory, generator/wgmma_rules.cpp's register budget), a wider head dim.
  struct WgmmaTile {
    TileConfig tiles;
    int wide_head_dim;  // 0: the tile fits d64 only
  };
  const WgmmaTile wgmma_tiles[] = {{{64, 64, 8, 2}, 256},   {{64, 96, 8, 3}, 128},   {{64, 128, 8, 4}, 0},
                                   {{128, 64, 12, 4}, 128}, {{128, 96, 12, 2}, 192}, {{128, 128, 12, 3}, 96},
                                   {{128, 192, 12, 3}, 0}};
  for (const WgmmaTile& w : wgmma_tiles) {
    cases.push_back({Variant::wgmma_sm90, shape(2, 2, 1, 77, 93, 64, DType::f16, MaskKind::causal), w.tiles});
    if (w.wide_head_dim)
      cases.push_back(
          {Variant::wgmma_sm90, shape(1, 2, 2, 31, 200, w.wide_head_dim, DType::bf16, MaskKind::none), w.tiles});
  }
  return cases;
}

// One small case per variant for compute-sanitizer (memcheck, racecheck, synccheck): odd lengths,
// causal, GQA, a few blocks only, so the instrumented run stays short.
std::vector<TensorCoreCase> sanitizer_cases() {
  // wgmma_sm90's default d64 tile (two consumer warpgroups, 192-key tiles, 2 stages) over 520 keys:
  // three K/V blocks, so the ring of TMA slots and their mbarriers wrap once.
  return {{Variant::mma_sm80, shape(1, 2, 1, 77, 133, 64, DType::bf16, MaskKind::causal), std::nullopt},
          {Variant::mma_sm75, shape(1, 2, 1, 77, 133, 64, DType::f16, MaskKind::causal), std::nullopt},
          {Variant::mma_sm70, shape(1, 2, 1, 77, 133, 64, DType::f16, MaskKind::causal), std::nullopt},
          {Variant::wgmma_sm90, shape(1, 2, 1, 77, 520, 64, DType::bf16, MaskKind::causal), std::nullopt}};
}

INSTANTIATE_TEST_SUITE_P(HeadDims, GpuTensorCore, testing::ValuesIn(every_head_dim()), case_name);
INSTANTIATE_TEST_SUITE_P(OddShapes, GpuTensorCore, testing::ValuesIn(odd_shapes()), case_name);
INSTANTIATE_TEST_SUITE_P(ForcedTiles, GpuTensorCore, testing::ValuesIn(forced_tiles()), case_name);
INSTANTIATE_TEST_SUITE_P(Sanitizer, GpuTensorCore, testing::ValuesIn(sanitizer_cases()), case_name);

// ---------------------------------------------------------------------------------------------
// Stability: five runs of one problem give the same bits. Tensor-core kernels share K/V tiles
// through shared memory across warps and pipeline stages; a missing barrier shows up as a result
// that moves between runs even when it happens to stay within tolerance.

class GpuTensorCoreStability : public testing::TestWithParam<TensorCoreCase> {};

TEST_P(GpuTensorCoreStability, FiveRunsAreBitwiseIdentical) {
  const TensorCoreCase& c = GetParam();
  std::string skip_reason;
  Runtime* runtime = runtime_for(c.variant, c.tiles, &skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  HostProblem first = test::make_problem(c.shape);
  ASSERT_TRUE(test::device_matches_cpu(*runtime, first));
  expect_kernel_is(*runtime, first, c);
  for (int run = 2; run <= 5; ++run) {
    HostProblem again = test::make_problem(c.shape);
    const Status s = test::run_on_device(*runtime, again);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(std::memcmp(first.out.data(), again.out.data(), first.out.size()), 0) << "run " << run;
    EXPECT_EQ(std::memcmp(first.lse.data(), again.lse.data(), first.lse.size() * sizeof(float)), 0) << "run " << run;
  }
}

std::vector<TensorCoreCase> stability_cases() {
  const ProblemShape bf16 = shape(2, 4, 2, 301, 517, 128, DType::bf16, MaskKind::causal);
  const ProblemShape f16 = shape(2, 4, 2, 301, 517, 128, DType::f16, MaskKind::causal);
  // wgmma_sm90: the default tile (two consumer warpgroups ping-ponging), one consumer warpgroup,
  // and a four-stage ring.
  return {{Variant::mma_sm80, bf16, std::nullopt},
          {Variant::mma_sm80, f16, TileConfig{64, 64, 4, 3}},
          {Variant::mma_sm75, f16, std::nullopt},
          {Variant::mma_sm75, f16, TileConfig{64, 64, 4, 2}},
          {Variant::mma_sm70, f16, std::nullopt},
          {Variant::mma_sm70, f16, TileConfig{64, 64, 4, 2}},
          {Variant::wgmma_sm90, bf16, std::nullopt},
          {Variant::wgmma_sm90, f16, TileConfig{64, 64, 8, 2}},
          {Variant::wgmma_sm90, f16, TileConfig{128, 64, 12, 4}}};
}

INSTANTIATE_TEST_SUITE_P(Repeated, GpuTensorCoreStability, testing::ValuesIn(stability_cases()), case_name);

// ---------------------------------------------------------------------------------------------
// Refusals: an illegal forced tile, or a dtype the variant does not compute, is an error that
// names the spec and what is wrong, and nothing is launched (out and lse keep their poison).

struct IllegalTile {
  Variant variant;
  TileConfig tiles;
  const char* wrong_field;  // the one field the error must name
};

void PrintTo(const IllegalTile& c, std::ostream* os) {
  *os << variant_name(c.variant) << " " << tile_text(c.tiles) << " (wrong " << c.wrong_field << ")";
}

class GpuTensorCoreIllegalTile : public testing::TestWithParam<IllegalTile> {};

TEST_P(GpuTensorCoreIllegalTile, IsRefusedBeforeLaunch) {
  const IllegalTile& c = GetParam();
  std::string skip_reason;
  Runtime* runtime = runtime_for(c.variant, c.tiles, &skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  const DType dtype = c.variant == Variant::mma_sm80 ? DType::bf16 : DType::f16;
  HostProblem p = test::make_problem(shape(1, 2, 2, 77, 133, 64, dtype, MaskKind::causal));
  const Status s = test::run_on_device(*runtime, p);
  ASSERT_FALSE(s.ok()) << "forced tile " << tile_key(c.tiles) << " ran";
  // The caller's option is wrong, not the device: a forced tile it cannot run is invalid_argument.
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument) << s.to_string();
  // The runtime's "forced tiles give spec KEY, which cannot run on DEVICE: PROBLEMS"; matched by
  // the spec key's parts and the field, not by the validator's exact words.
  const std::string& message = s.message();
  EXPECT_NE(message.find(std::string("spec ") + variant_name(c.variant) + "_"), std::string::npos) << message;
  EXPECT_NE(message.find(std::string("_") + dtype_name(dtype) + "_d64" + tile_key(c.tiles) + "causal"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(c.wrong_field), std::string::npos) << message;
  EXPECT_TRUE(test::output_is_poisoned(p));
  EXPECT_TRUE(test::lse_is_poisoned(p));
}

std::string illegal_tile_name(const testing::TestParamInfo<IllegalTile>& info) {
  return std::string(variant_name(info.param.variant)) + "_" + tile_text(info.param.tiles);
}

// Each tile breaks exactly one rule, so the field the error must name is unambiguous.
const IllegalTile kIllegalTiles[] = {
    {Variant::mma_sm80, {32, 24, 2, 2}, "block_n"},   // block_n not 16, 32, 64 or 128
    {Variant::mma_sm80, {32, 256, 2, 2}, "block_n"},
    {Variant::mma_sm80, {48, 64, 2, 2}, "block_m"},   // 24 rows per warp
    {Variant::mma_sm80, {256, 64, 8, 2}, "block_m"},  // over 128
    {Variant::mma_sm80, {48, 64, 3, 2}, "warps"},     // 16 rows per warp, but 3 warps
    {Variant::mma_sm80, {32, 64, 2, 5}, "stages"},    // mma_sm80 pipelines at most 4 stages
    {Variant::mma_sm75, {32, 24, 2, 1}, "block_n"},
    {Variant::mma_sm75, {24, 32, 1, 1}, "block_m"},
    {Variant::mma_sm75, {32, 64, 2, 3}, "stages"},    // mma_sm75 takes 1..2 stages
    {Variant::mma_sm70, {32, 24, 2, 1}, "block_n"},
    {Variant::mma_sm70, {24, 32, 1, 1}, "block_m"},
    {Variant::mma_sm70, {32, 64, 2, 3}, "stages"},    // mma_sm70 takes 1..2 stages
    {Variant::wgmma_sm90, {128, 80, 12, 2}, "block_n"},   // no wgmma n80 for S = Q K^T
    {Variant::wgmma_sm90, {128, 256, 12, 2}, "block_n"},
    {Variant::wgmma_sm90, {96, 64, 12, 2}, "block_m"},    // one or two 64-row consumer warpgroups
    {Variant::wgmma_sm90, {128, 64, 8, 2}, "warps"},      // 128 rows take 12 warps
    {Variant::wgmma_sm90, {64, 64, 12, 2}, "warps"},      // 64 rows take 8
    {Variant::wgmma_sm90, {128, 64, 12, 1}, "stages"},    // the TMA ring has 2..4 slots
    {Variant::wgmma_sm90, {128, 64, 12, 5}, "stages"},
};

INSTANTIATE_TEST_SUITE_P(Tiles, GpuTensorCoreIllegalTile, testing::ValuesIn(kIllegalTiles), illegal_tile_name);

struct UncomputedDtype {
  Variant variant;
  DType dtype;
};
// GoogleTest prints parameters with this (instead of their bytes).
void PrintTo(const UncomputedDtype& c, std::ostream* os) { *os << variant_name(c.variant) << " " << dtype_name(c.dtype); }

class GpuTensorCoreDtype : public testing::TestWithParam<UncomputedDtype> {};

TEST_P(GpuTensorCoreDtype, IsRefusedBeforeLaunch) {
  const UncomputedDtype& c = GetParam();
  std::string skip_reason;
  Runtime* runtime = runtime_for(c.variant, std::nullopt, &skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  HostProblem p = test::make_problem(shape(1, 2, 2, 33, 65, 64, c.dtype, MaskKind::none));
  const Status s = test::run_on_device(*runtime, p);
  ASSERT_FALSE(s.ok()) << variant_name(c.variant) << " ran " << dtype_name(c.dtype);
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find(std::string("forced variant ") + variant_name(c.variant) + " cannot run"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(dtype_name(c.dtype)), std::string::npos) << s.message();
  EXPECT_TRUE(test::output_is_poisoned(p));
  EXPECT_TRUE(test::lse_is_poisoned(p));
}

std::string dtype_case_name(const testing::TestParamInfo<UncomputedDtype>& info) {
  return std::string(variant_name(info.param.variant)) + "_" + dtype_name(info.param.dtype);
}

INSTANTIATE_TEST_SUITE_P(Refused, GpuTensorCoreDtype,
                         testing::Values(UncomputedDtype{Variant::mma_sm75, DType::bf16},
                                         UncomputedDtype{Variant::mma_sm75, DType::f32},
                                         UncomputedDtype{Variant::mma_sm70, DType::bf16},
                                         UncomputedDtype{Variant::mma_sm70, DType::f32},
                                         UncomputedDtype{Variant::mma_sm80, DType::f32},
                                         UncomputedDtype{Variant::wgmma_sm90, DType::f32}),
                         dtype_case_name);

// ---------------------------------------------------------------------------------------------
// wgmma_sm90 and layouts TMA cannot address. TMA needs 16-byte aligned base addresses and strides
// that are multiples of 16 bytes; on Hopper the selector runs such a call on mma_sm80 (its problem
// key ends in "_unaligned", so it never shares a kernel with the aligned twin), and plan() says
// why. Forcing wgmma_sm90 on one is an error that says the same, and launches nothing.

// One layout TMA cannot address: a padding that breaks the 16-byte strides, or q's base moved by a
// few bytes (the other tensors keep their allocations' alignment).
struct UnalignedLayout {
  ProblemShape shape;
  int q_offset_bytes = 0;

  std::string name() const {
    return shape.name() + (q_offset_bytes ? "_qoffset" + std::to_string(q_offset_bytes) : "");
  }
};

void PrintTo(const UnalignedLayout& c, std::ostream* os) { *os << c.name(); }
std::string unaligned_case_name(const testing::TestParamInfo<UnalignedLayout>& info) { return info.param.name(); }

// The same problem with the layout TMA can address: no padding, q at its allocation's start.
ProblemShape aligned_twin(const ProblemShape& s) {
  ProblemShape twin = s;
  twin.head_padding = 0;
  twin.seq_padding = 0;
  return twin;
}

// A CUDA runtime of its own that picks the variant itself (no forcing, tuning or cache), so plan()
// before the first forward() of a problem reports the selector's reason, whatever ran earlier; null
// with the reason where no GPU is usable or it is not a Hopper GPU.
std::unique_ptr<Runtime> fresh_hopper_runtime(std::string* skip_reason) {
  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.tune = false;
  options.use_cache = false;
  auto created = Runtime::create(options);
  if (!created) {
    *skip_reason = "no CUDA runtime: " + created.status().message();
    return nullptr;
  }
  const int cc = test::gpu_compute_capability(skip_reason);
  if (cc == 0) return nullptr;
  if (std::string why = test::architecture_skip(Variant::wgmma_sm90, cc); !why.empty()) {
    *skip_reason = why;
    return nullptr;
  }
  return std::move(*created);
}

// What plan() said just before and just after the forward() of `p`, with the device pointers the
// call used.
struct PlannedRun {
  Status status = Status::success();
  std::optional<Result<KernelChoice>> before;
  std::optional<Result<KernelChoice>> after;
};

// Runs `p` on the device with q's base moved by `q_offset_bytes` (a copy of q staged that many bytes
// into a buffer of its own), planning before and after the forward().
PlannedRun run_planned(Runtime& runtime, HostProblem& p, int q_offset_bytes) {
  PlannedRun run;
  run.status = test::run_on_device(runtime, p, [&](Runtime& r, const AttentionArgs& device_args) {
    AttentionArgs args = device_args;
    cuda::DeviceBuffer moved_q;
    if (q_offset_bytes) {
      std::vector<uint8_t> staged(static_cast<size_t>(q_offset_bytes) + p.q.size(), 0);
      std::memcpy(staged.data() + q_offset_bytes, p.q.data(), p.q.size());
      auto buffer = cuda::DeviceBuffer::allocate(staged.size());
      if (!buffer) return Status(ErrorCode::driver_error, llvm::toString(buffer.takeError()));
      if (llvm::Error err = buffer->copy_from_host(staged.data(), staged.size()))
        return Status(ErrorCode::driver_error, llvm::toString(std::move(err)));
      moved_q = std::move(*buffer);
      args.q.data = static_cast<uint8_t*>(moved_q.pointer()) + q_offset_bytes;
    }
    run.before.emplace(r.plan(args));
    Status forwarded = r.forward(args);
    run.after.emplace(r.plan(args));
    // moved_q is freed when this returns: the kernel must be done with it.
    llvm::Error synced = cuda::synchronize_stream(nullptr);
    if (!forwarded.ok()) {
      llvm::consumeError(std::move(synced));
      return forwarded;
    }
    if (synced) return Status(ErrorCode::driver_error, llvm::toString(std::move(synced)));
    return forwarded;
  });
  return run;
}

// A plan() result run_planned recorded, or a failure that says why there is none.
testing::AssertionResult has_plan(const std::optional<Result<KernelChoice>>& plan) {
  if (!plan) return testing::AssertionFailure() << "plan() was not called (the device set-up failed first)";
  if (!plan->ok()) return testing::AssertionFailure() << "plan() failed: " << plan->status().to_string();
  return testing::AssertionSuccess();
}

class GpuHopperLayout : public testing::TestWithParam<UnalignedLayout> {};

// First the aligned twin (wgmma_sm90, planned and run), then the unaligned layout in the same
// runtime: the right answer from mma_sm80, and plan() saying why before and after.
TEST_P(GpuHopperLayout, UnalignedRunsOnMmaSm80AndPlanSaysWhy) {
  const UnalignedLayout& c = GetParam();
  std::string skip_reason;
  std::unique_ptr<Runtime> runtime = fresh_hopper_runtime(&skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;

  HostProblem twin = test::make_problem(aligned_twin(c.shape));
  const test::ReferenceOutput twin_reference = test::cpu_reference(twin);
  const PlannedRun aligned = run_planned(*runtime, twin, 0);
  ASSERT_TRUE(aligned.status.ok()) << aligned.status.to_string();
  EXPECT_TRUE(test::matches_reference(twin, twin_reference, twin.shape.with_lse, test::kKernelLseTolerance));
  ASSERT_TRUE(has_plan(aligned.before));
  const KernelChoice& twin_planned = aligned.before->value();
  EXPECT_EQ(twin_planned.variant, std::optional<Variant>(Variant::wgmma_sm90))
      << twin_planned.kernel_key << ": " << twin_planned.reason;
  ASSERT_TRUE(has_plan(aligned.after));
  const KernelChoice& twin_in_use = aligned.after->value();
  EXPECT_EQ(twin_in_use.variant, std::optional<Variant>(Variant::wgmma_sm90)) << twin_in_use.reason;
  EXPECT_EQ(twin_in_use.reason.find("_unaligned"), std::string::npos) << twin_in_use.reason;

  HostProblem p = test::make_problem(c.shape);
  const test::ReferenceOutput reference = test::cpu_reference(p);
  const PlannedRun unaligned = run_planned(*runtime, p, c.q_offset_bytes);
  ASSERT_TRUE(unaligned.status.ok()) << unaligned.status.to_string();
  EXPECT_TRUE(test::matches_reference(p, reference, p.shape.with_lse, test::kKernelLseTolerance));
  ASSERT_TRUE(has_plan(unaligned.before));
  const KernelChoice& planned = unaligned.before->value();
  EXPECT_EQ(planned.variant, std::optional<Variant>(Variant::mma_sm80)) << planned.kernel_key << ": " << planned.reason;
  EXPECT_EQ(planned.kernel_key.rfind("mma_sm80_", 0), 0u) << planned.kernel_key;
  EXPECT_NE(planned.reason.find("TMA cannot address"), std::string::npos) << planned.reason;
  // Once built, plan() names the kernel in use for the problem key, which is the unaligned one's.
  ASSERT_TRUE(has_plan(unaligned.after));
  const KernelChoice& in_use = unaligned.after->value();
  EXPECT_EQ(in_use.variant, std::optional<Variant>(Variant::mma_sm80)) << in_use.reason;
  EXPECT_NE(in_use.reason.find("_unaligned"), std::string::npos) << in_use.reason;
}

// TMA-unaddressable in each way: a seq stride of 4*128+4 elements (1032 bytes), a head stride of
// 64+4 elements (136 bytes), q's base 2 bytes past 16-byte alignment; tails, GQA, q > k causal.
std::vector<UnalignedLayout> unaligned_layouts() {
  ProblemShape seq_stride = shape(2, 4, 2, 77, 133, 128, DType::bf16, MaskKind::causal);
  seq_stride.seq_padding = 4;
  ProblemShape head_stride = shape(1, 4, 2, 133, 77, 64, DType::f16, MaskKind::causal);
  head_stride.head_padding = 4;
  return {{seq_stride, 0}, {head_stride, 0}, {shape(1, 2, 1, 77, 133, 256, DType::f16, MaskKind::none), 2}};
}

INSTANTIATE_TEST_SUITE_P(Unaligned, GpuHopperLayout, testing::ValuesIn(unaligned_layouts()), unaligned_case_name);

// wgmma_sm90 forced where it cannot run on Hopper: an error that says why (what must be in it), and
// nothing launched.
struct WgmmaRefusal {
  const char* name;
  ProblemShape shape;
  const char* must_say;
};

void PrintTo(const WgmmaRefusal& c, std::ostream* os) { *os << c.name << " (" << c.shape.name() << ")"; }

class GpuWgmmaRefusal : public testing::TestWithParam<WgmmaRefusal> {};

TEST_P(GpuWgmmaRefusal, IsRefusedBeforeLaunch) {
  const WgmmaRefusal& c = GetParam();
  std::string skip_reason;
  Runtime* runtime = runtime_for(Variant::wgmma_sm90, std::nullopt, &skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  HostProblem p = test::make_problem(c.shape);
  const Status s = test::run_on_device(*runtime, p);
  ASSERT_FALSE(s.ok()) << "wgmma_sm90 ran " << c.shape.name();
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("forced variant wgmma_sm90 cannot run"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(c.must_say), std::string::npos) << s.message();
  EXPECT_TRUE(test::output_is_poisoned(p));
  EXPECT_TRUE(test::lse_is_poisoned(p));
}

std::vector<WgmmaRefusal> wgmma_refusals() {
  ProblemShape unaligned = shape(1, 2, 2, 77, 133, 128, DType::bf16, MaskKind::causal);
  unaligned.seq_padding = 4;
  return {{"unaligned_seq_stride", unaligned, "TMA cannot address"},
          {"head_dim_80", shape(1, 2, 2, 77, 133, 80, DType::f16, MaskKind::none), "head dim"}};
}

std::string refusal_name(const testing::TestParamInfo<WgmmaRefusal>& info) {
  return std::string("wgmma_sm90_") + info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Refused, GpuWgmmaRefusal, testing::ValuesIn(wgmma_refusals()), refusal_name);

}  // namespace
}  // namespace flashjit
