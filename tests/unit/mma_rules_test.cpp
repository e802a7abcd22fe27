// The rules of the tensor-core variants (generator/mma_rules.cpp) as spec validation reports them:
// the tile shapes templates/mma_forward.cuh can build, the stage limits, the register budget, the
// shared-memory formula of templates/mma_tile_layout.cuh, which architectures and dtypes each
// variant serves, and the tuner's grid. The messages are pinned because `flashjit emit` and the
// tuner's pruned lines print them as they are.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "generator/variant_rules.h"
#include "helpers/problems.h"
#include "unit/rules_test_support.h"

namespace flashjit::gen {
namespace {

KernelSpec mma(Variant variant, int arch, int head_dim, int block_m, int block_n, int warps, int stages,
               DType dtype = DType::f16) {
  return tile_spec(variant, arch, head_dim, block_m, block_n, warps, stages, dtype);
}

KernelSpec sm80(int head_dim, int block_m, int block_n, int warps, int stages, int arch = 80) {
  return mma(Variant::mma_sm80, arch, head_dim, block_m, block_n, warps, stages);
}
KernelSpec sm75(int head_dim, int block_m, int block_n, int warps, int stages, int arch = 75) {
  return mma(Variant::mma_sm75, arch, head_dim, block_m, block_n, warps, stages);
}

// ---- tile shapes ---------------------------------------------------------------------------------

TEST(MmaTiles, AcceptTheShapesTheTemplateBuilds) {
  // 16 or 32 rows per warp with 1, 2, 4 or 8 warps, up to 128 query rows, any key tile of 16..128.
  for (int warps : {1, 2, 4, 8})
    for (int rows : {16, 32})
      for (int block_n : {16, 32, 64, 128}) {
        if (rows * warps > 128) continue;  // MmaTiles.BlockMIsAtMost128
        // d=32 keeps even m128n128w4 within the register budget (2 * (64 + 16) = 160).
        const KernelSpec s80 = sm80(32, rows * warps, block_n, warps, 2, 90);
        EXPECT_TRUE(problems_of(s80).empty()) << canonical_key(s80) << ": " << joined(problems_of(s80));
        const KernelSpec s75 = sm75(32, rows * warps, block_n, warps, 1, 90);
        EXPECT_TRUE(problems_of(s75).empty()) << canonical_key(s75) << ": " << joined(problems_of(s75));
      }
}

// 8 warps of 32 rows is a shape the template could build, but a 256-row query block leaves too few
// blocks to fill the GPU; the message says that rather than blaming the rows per warp.
TEST(MmaTiles, BlockMIsAtMost128) {
  expect_only_problem(sm80(32, 256, 64, 8, 2, 90),
                      "mma_sm80 block_m 256 is over 128: a query block that tall leaves too few blocks to fill the "
                      "GPU at common lengths");
  expect_only_problem(sm75(32, 256, 32, 8, 1),
                      "mma_sm75 block_m 256 is over 128: a query block that tall leaves too few blocks to fill the "
                      "GPU at common lengths");
}

TEST(MmaTiles, WarpsMustBeOneTwoFourOrEight) {
  // The warp count is said alone: rows per warp mean nothing with a warp count the kernel lacks.
  expect_only_problem(sm80(128, 48, 64, 3, 2), "mma_sm80 takes 1, 2, 4 or 8 warps, not 3");
  expect_only_problem(sm75(128, 96, 64, 6, 1), "mma_sm75 takes 1, 2, 4 or 8 warps, not 6");
}

TEST(MmaTiles, BlockMIsSixteenOrThirtyTwoRowsPerWarp) {
  expect_only_problem(sm80(128, 48, 64, 2, 2),
                      "mma_sm80 block_m 48 must be 16 or 32 rows per warp: 32 or 64 with 2 warps");
  expect_only_problem(sm80(64, 96, 64, 4, 2),
                      "mma_sm80 block_m 96 must be 16 or 32 rows per warp: 64 or 128 with 4 warps");
  expect_only_problem(sm75(64, 24, 32, 1, 1),
                      "mma_sm75 block_m 24 must be 16 or 32 rows per warp: 16 or 32 with 1 warp");
  // 8 rows per warp would be half an mma tile.
  expect_only_problem(sm75(64, 64, 32, 8, 1),
                      "mma_sm75 block_m 64 must be 16 or 32 rows per warp: 128 with 8 warps");
}

TEST(MmaTiles, BlockNIsSixteenThirtyTwoSixtyFourOrOneTwentyEight) {
  // The P V product steps k by 16 keys, and the S accumulators of more than 128 keys do not fit.
  expect_only_problem(sm80(128, 64, 24, 4, 2), "mma_sm80 block_n 24 must be 16, 32, 64 or 128");
  expect_only_problem(sm80(128, 64, 48, 4, 2), "mma_sm80 block_n 48 must be 16, 32, 64 or 128");
  expect_only_problem(sm80(64, 64, 256, 4, 2), "mma_sm80 block_n 256 must be 16, 32, 64 or 128");
  expect_only_problem(sm75(128, 64, 96, 4, 1), "mma_sm75 block_n 96 must be 16, 32, 64 or 128");
}

TEST(MmaTiles, Mma80TakesUpToFourStages) {
  // cp.async keeps up to 4 K/V tiles in flight.
  for (int stages : {1, 2, 3, 4})
    EXPECT_TRUE(problems_of(sm80(64, 64, 32, 4, stages)).empty()) << stages;
  expect_only_problem(sm80(64, 64, 32, 4, 5), "mma_sm80 stages 5 must be 1..4");
}

TEST(MmaTiles, Mma75TakesUpToTwoStages) {
  // Turing has no cp.async: its copies are synchronous, so a deeper ring would only cost shared
  // memory.
  for (int stages : {1, 2}) EXPECT_TRUE(problems_of(sm75(64, 64, 32, 4, stages)).empty()) << stages;
  expect_only_problem(sm75(64, 64, 32, 4, 3), "mma_sm75 stages 3 must be 1..2");
  expect_only_problem(sm75(64, 64, 32, 4, 4), "mma_sm75 stages 4 must be 1..2");
}

TEST(MmaTiles, NonPositiveSizesAreSaidOnce) {
  const std::vector<std::string> problems = problems_of(sm80(64, 64, 32, 4, 0));
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "block_m, block_n, warps and stages must be positive");
}

// ---- register budget -----------------------------------------------------------------------------

// Per thread, each 16-row tile of a warp keeps block_n / 2 S and padded_head_dim / 2 O accumulators;
// 160 of them fit in 255 registers beside the fragments and addresses, with one tile per warp or two.
TEST(MmaRegisters, AtMostOneHundredSixtyAccumulatorsPerThread) {
  // m64n64w4 at d=256: one tile per warp, 32 + 128 = 160: the limit itself is fine.
  EXPECT_TRUE(problems_of(sm80(256, 64, 64, 4, 2)).empty()) << joined(problems_of(sm80(256, 64, 64, 4, 2)));
  // m128n32w4 at d=128: two tiles per warp, 2 * (16 + 64) = 160.
  EXPECT_TRUE(problems_of(sm75(128, 128, 32, 4, 2)).empty()) << joined(problems_of(sm75(128, 128, 32, 4, 2)));

  expect_only_problem(sm75(64, 128, 128, 4, 2),
                      "mma_sm75 tile m128n128w4 at head_dim 64 keeps 192 fp32 accumulators in 2 16-row tiles per "
                      "warp, over the 160 that fit in registers without spills");
  expect_only_problem(sm80(256, 64, 128, 4, 2, 90),
                      "mma_sm80 tile m64n128w4 at head_dim 256 keeps 192 fp32 accumulators in 1 16-row tile per "
                      "warp, over the 160 that fit in registers without spills");
  // An odd head dim counts its padding to 16 columns: d=136 holds 144 columns.
  expect_only_problem(sm80(136, 128, 32, 4, 2, 90),
                      "mma_sm80 tile m128n32w4 at head_dim 136 keeps 176 fp32 accumulators in 2 16-row tiles per "
                      "warp, over the 160 that fit in registers without spills");
}

TEST(MmaRegisters, AreOnlyCountedForALegalShape) {
  // A tile with a wrong block_n is not also blamed for registers it would never use.
  const std::vector<std::string> problems = problems_of(sm80(256, 128, 256, 4, 2, 90));
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "mma_sm80 block_n 256 must be 16, 32, 64 or 128");
}

// ---- shared memory -------------------------------------------------------------------------------

// (block_m + 2 * stages * block_n) rows of Q, K and V, each row padded_head_dim b16 values in
// 16-byte chunks: swizzled when the chunk count is a multiple of 8, else one chunk of padding.
TEST(MmaSharedMemory, FollowsTheTileLayout) {
  // Swizzled rows: d=64 (8 chunks, 128 bytes), d=128 (256 bytes), d=256 (512 bytes).
  EXPECT_EQ(shared_memory_bytes(sm80(64, 128, 64, 4, 2)), (128 + 2 * 2 * 64) * 128);
  EXPECT_EQ(shared_memory_bytes(sm80(128, 128, 64, 8, 2)), (128 + 2 * 2 * 64) * 256);
  EXPECT_EQ(shared_memory_bytes(sm80(256, 64, 64, 4, 2)), (64 + 2 * 2 * 64) * 512);
  // Padded rows: d=40 pads to 48 columns (6 chunks + 1), d=8 to 16 (2 + 1), d=96 is 12 + 1 chunks,
  // d=136 pads to 144 (18 + 1).
  EXPECT_EQ(shared_memory_bytes(sm80(40, 128, 64, 4, 2)), (128 + 2 * 2 * 64) * 7 * 16);
  EXPECT_EQ(shared_memory_bytes(sm80(8, 64, 32, 4, 1)), (64 + 2 * 1 * 32) * 3 * 16);
  EXPECT_EQ(shared_memory_bytes(sm80(96, 64, 32, 4, 3)), (64 + 2 * 3 * 32) * 13 * 16);
  EXPECT_EQ(shared_memory_bytes(sm80(136, 64, 64, 4, 2)), (64 + 2 * 2 * 64) * 19 * 16);
  // mma_sm75 uses the same layout.
  EXPECT_EQ(shared_memory_bytes(sm75(256, 64, 16, 4, 2)), (64 + 2 * 2 * 16) * 512);
  EXPECT_EQ(shared_memory_bytes(sm75(40, 128, 64, 4, 2)), shared_memory_bytes(sm80(40, 128, 64, 4, 2)));
}

TEST(MmaSharedMemory, OverTheDevicesOptInIsRefusedWithItsNumbers) {
  // 99 KB parts: m128n64w8s2 at d=256 needs 192 KB.
  expect_only_problem(sm80(256, 128, 64, 8, 2, 86),
                      "needs 196608 bytes of shared memory, more than the 101376 a block may use on sm_86");
  // The same tile fits Hopper's 227 KB.
  EXPECT_TRUE(problems_of(sm80(256, 128, 64, 8, 2, 90)).empty());
  // Turing's 64 KB: exactly 65536 bytes fit, one more K/V tile pair does not.
  EXPECT_TRUE(problems_of(sm75(256, 64, 16, 4, 2)).empty());
  expect_only_problem(sm75(64, 64, 128, 4, 2),
                      "needs 73728 bytes of shared memory, more than the 65536 a block may use on sm_75");
}

// ---- architectures and dtypes --------------------------------------------------------------------

TEST(MmaArch, Mma80NeedsAmpereAndComputesF16AndBf16) {
  for (int cc : {80, 86, 89, 90, 100, 120})
    for (DType dtype : {DType::f16, DType::bf16}) {
      const KernelSpec s = mma(Variant::mma_sm80, cc, 64, 64, 32, 4, 2, dtype);
      EXPECT_TRUE(problems_of(s).empty()) << canonical_key(s) << ": " << joined(problems_of(s));
    }
  expect_only_problem(sm80(64, 64, 32, 4, 2, 75), "mma_sm80 needs compute capability 8.0 (Ampere) or newer, not sm_75");
  expect_only_problem(mma(Variant::mma_sm80, 80, 64, 64, 32, 4, 2, DType::f32),
                      "mma_sm80 computes f16 and bf16, not f32");
}

TEST(MmaArch, Mma75NeedsTuringAndComputesF16Only) {
  // m16n8k8 runs on every GPU from Turing on.
  for (int cc : {75, 80, 86, 89, 90, 100, 120}) {
    const KernelSpec s = sm75(64, 64, 32, 4, 2, cc);
    EXPECT_TRUE(problems_of(s).empty()) << canonical_key(s) << ": " << joined(problems_of(s));
  }
  expect_only_problem(sm75(64, 64, 32, 4, 2, 70),
                      "mma_sm75 needs compute capability 7.5 (Turing) or newer, not sm_70 (mma.m16n8k8 and ldmatrix "
                      "start at sm_75; Volta's m8n8k4 tensor cores are mma_sm70's)");
  expect_only_problem(mma(Variant::mma_sm75, 80, 64, 64, 32, 4, 2, DType::bf16), "mma_sm75 computes f16 only, not bf16");
  expect_only_problem(mma(Variant::mma_sm75, 75, 64, 64, 32, 4, 2, DType::f32), "mma_sm75 computes f16 only, not f32");
}

TEST(MmaArch, BothAreBuiltAndNameTheirTemplates) {
  EXPECT_STREQ(rules_for(Variant::mma_sm80).template_file, "mma_sm80_forward.cuh");
  EXPECT_STREQ(rules_for(Variant::mma_sm80).kernel_template, "flashjit::dev::mma_sm80_forward");
  EXPECT_STREQ(rules_for(Variant::mma_sm75).template_file, "mma_sm75_forward.cuh");
  EXPECT_STREQ(rules_for(Variant::mma_sm75).kernel_template, "flashjit::dev::mma_sm75_forward");
  // Both take the plain parameter block (wgmma_sm90 takes tensor maps: tests/unit/wgmma_rules_test.cpp)
  // and one block per tile, and share the template's shared-memory count.
  for (Variant v : {Variant::mma_sm80, Variant::mma_sm75}) {
    const VariantRules& rules = rules_for(v);
    EXPECT_EQ(rules.parameters, ParameterBlock::attention);
    ProblemFeatures dense, windowed, cached;
    windowed.window = true;
    cached.kv_cache = true;
    EXPECT_EQ(kernel_parameter_declaration(rules.parameters, dense), "const ::flashjit::AttentionParams");
    EXPECT_EQ(kernel_parameter_declaration(rules.parameters, windowed),
              "const ::flashjit::AttentionParams, const ::flashjit::ScoreModParams");
    EXPECT_EQ(kernel_parameter_declaration(rules.parameters, cached),
              "const ::flashjit::AttentionParams, const ::flashjit::ScoreModParams, const ::flashjit::KvCacheParams");
    EXPECT_EQ(kernel_entry(rules, dense), std::string(rules.kernel_template));
    EXPECT_EQ(kernel_entry(rules, windowed), std::string(rules.kernel_template) + "_modified");
    EXPECT_EQ(kernel_entry(rules, cached), std::string(rules.kernel_template) + "_kvcache");
    EXPECT_EQ(rules.grid, GridKind::per_tile);
    EXPECT_FALSE(rules.arch_specific);
    EXPECT_STREQ(rules.shared_bytes_of, "::flashjit::dev::MmaShape");
    EXPECT_STREQ(rules.name, variant_name(v));
  }
}

// ---- ragged batches and score modifiers (issue 14) ------------------------------------------------

ProblemFeatures every_modifier(int head_dim) {
  ProblemFeatures f{DType::f16, head_dim, MaskKind::causal};
  f.ragged = f.window = f.softcap = f.alibi = true;
  return f;
}

// Both templates have `_modified` entries (templates/mma_forward.cuh), so neither refuses a feature:
// the selector runs them for windows, softcap, ALiBi and ragged batches instead of generic.
TEST(MmaModifiers, BothComputeEveryModifier) {
  for (Variant v : {Variant::mma_sm80, Variant::mma_sm75}) {
    EXPECT_EQ(modifier_problem(rules_for(v), every_modifier(64)), "") << variant_name(v);
    KernelSpec s = mma(v, v == Variant::mma_sm80 ? 80 : 75, 64, 128, 64, 4, 2);
    s.set_features(every_modifier(64));
    EXPECT_TRUE(problems_of(s).empty()) << canonical_key(s) << ": " << joined(problems_of(s));
  }
  auto choice = default_spec(Variant::mma_sm80, DeviceDescription::for_arch(80),
                             flashjit::testing::problem_with(every_modifier(64)));
  ASSERT_TRUE(static_cast<bool>(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(canonical_key(*choice), "mma_sm80_sm80_f16_d64_m128n64w4s2_causal_window_softcap_alibi_varlen");
}

// A kernel with modifiers keeps the sequence, the window's bounds, the slope and the softcap in
// registers too: 16 fewer accumulators fit (ptxas spilled at 160 with two or more modifiers).
TEST(MmaModifiers, KeepSixteenFewerAccumulators) {
  KernelSpec d128 = sm80(128, 128, 32, 4, 2);  // 2 * (16 + 64) = 160
  EXPECT_TRUE(problems_of(d128).empty()) << joined(problems_of(d128));
  d128.window = true;
  expect_only_problem(d128,
                      "mma_sm80 tile m128n32w4 at head_dim 128 keeps 160 fp32 accumulators in 2 16-row tiles per "
                      "warp, over the 144 that fit in registers without spills beside a ragged batch's or score "
                      "modifiers' state");
  KernelSpec d112 = sm75(112, 128, 32, 4, 2);  // 2 * (16 + 56) = 144
  d112.set_features(every_modifier(112));
  EXPECT_TRUE(problems_of(d112).empty()) << joined(problems_of(d112));
}

// So at d 128 a kernel with modifiers takes eight warps of one 16-row tile (64-key blocks; 32 on
// Turing, whose 64 KB hold no more), where the dense one keeps two tiles per warp.
TEST(MmaModifiers, DefaultTilesWithModifiers) {
  auto key = [](Variant v, int arch, const ProblemFeatures& f) {
    auto spec = default_spec(v, DeviceDescription::for_arch(arch), flashjit::testing::problem_with(f));
    if (!spec) return "error: " + llvm::toString(spec.takeError());
    return canonical_key(*spec);
  };
  ProblemFeatures window{DType::bf16, 128, MaskKind::none};
  window.window = true;
  EXPECT_EQ(key(Variant::mma_sm80, 80, window), "mma_sm80_sm80_bf16_d128_m128n64w8s2_none_window");
  EXPECT_EQ(key(Variant::mma_sm80, 80, ProblemFeatures{DType::bf16, 128, MaskKind::none}),
            "mma_sm80_sm80_bf16_d128_m128n32w4s2_none");
  EXPECT_EQ(key(Variant::mma_sm75, 75, every_modifier(128)),
            "mma_sm75_sm75_f16_d128_m128n32w8s2_causal_window_softcap_alibi_varlen");
}

// ---- the tuner's grid ----------------------------------------------------------------------------

// 64 or 128 query rows (m64w4, m128w4, m128w8) x block_n 32/64/128 x two stage counts: 18 tiles,
// each a legal shape. Some exceed a device's shared memory or the register budget on purpose (the
// tuner prunes those and says why), but none has a shape the template cannot build.
void expect_grid(Variant variant, const std::set<int>& stage_counts) {
  const KernelSpec base = mma(variant, 90, 128, 0, 0, 0, 0, DType::f16);
  const std::vector<KernelSpec> grid = rules_for(variant).tile_grid(base);
  EXPECT_EQ(grid.size(), 18u) << variant_name(variant);
  std::set<std::string> keys;
  std::set<int> stages;
  for (const KernelSpec& s : grid) {
    EXPECT_TRUE(keys.insert(canonical_key(s)).second) << canonical_key(s) << " twice";
    stages.insert(s.stages);
    EXPECT_EQ(s.head_dim, 128);
    EXPECT_EQ(s.arch, 90);
    for (const std::string& p : rules_for(variant).tile_problems(s))
      EXPECT_NE(p.find("fit in registers without spills"), std::string::npos) << canonical_key(s) << ": " << p;
  }
  EXPECT_EQ(stages, stage_counts) << variant_name(variant);
}

TEST(MmaTileGrid, Mma80TriesTwoAndThreeStages) { expect_grid(Variant::mma_sm80, {2, 3}); }
TEST(MmaTileGrid, Mma75TriesOneAndTwoStages) { expect_grid(Variant::mma_sm75, {1, 2}); }

}  // namespace
}  // namespace flashjit::gen
