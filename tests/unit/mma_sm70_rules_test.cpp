// The rules of mma_sm70, Volta's tensor-core variant (generator/mma_sm70_rules.cpp), as spec
// validation and the selector report them: the warp shapes templates/mma_sm70_forward.cuh builds,
// its register budget and shared memory, the architectures and dtypes it serves (f16 from sm_70,
// chosen by itself on Volta only), the default tile of every head dim on a V100 and the tuner's grid.
// The messages are pinned because `flashjit emit`, `doctor` and the tuner's pruned lines print them.
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

KernelSpec sm70(int head_dim, int block_m, int block_n, int warps, int stages, int arch = 70,
                DType dtype = DType::f16) {
  return tile_spec(Variant::mma_sm70, arch, head_dim, block_m, block_n, warps, stages, dtype);
}

// ---- tile shapes ---------------------------------------------------------------------------------

TEST(MmaSm70Tiles, AcceptTheShapesTheTemplateBuilds) {
  // 16 or 32 rows per warp with 1, 2, 4 or 8 warps, up to 128 query rows, key tiles of 16..128,
  // one or two slots.
  for (int warps : {1, 2, 4, 8})
    for (int rows : {16, 32})
      for (int block_n : {16, 32, 64, 128})
        for (int stages : {1, 2}) {
          if (rows * warps > 128) continue;
          const KernelSpec s = sm70(32, rows * warps, block_n, warps, stages);
          EXPECT_TRUE(problems_of(s).empty()) << canonical_key(s) << ": " << joined(problems_of(s));
        }
}

TEST(MmaSm70Tiles, ShapesItCannotBuildAreRefusedByName) {
  expect_only_problem(sm70(64, 96, 64, 3, 2), "mma_sm70 takes 1, 2, 4 or 8 warps, not 3");
  expect_only_problem(sm70(64, 256, 64, 8, 2),
                      "mma_sm70 block_m 256 is over 128: a query block that tall leaves too few blocks to fill the "
                      "GPU at common lengths");
  expect_only_problem(sm70(64, 64, 64, 1, 2),
                      "mma_sm70 block_m 64 must be 16 or 32 rows per warp (16 or 32 with 1 warp): a quad pair's "
                      "8-row slab per mma.m8n8k4");
  expect_only_problem(sm70(64, 32, 64, 4, 2),
                      "mma_sm70 block_m 32 must be 16 or 32 rows per warp (64 or 128 with 4 warps): a quad pair's "
                      "8-row slab per mma.m8n8k4");
  expect_only_problem(sm70(64, 128, 48, 4, 2), "mma_sm70 block_n 48 must be 16, 32, 64 or 128");
}

// Volta has no cp.async: a third slot would only cost shared memory.
TEST(MmaSm70Tiles, TakesOneOrTwoStages) {
  EXPECT_TRUE(problems_of(sm70(64, 128, 64, 4, 1)).empty());
  expect_only_problem(sm70(64, 128, 64, 4, 3), "mma_sm70 stages 3 must be 1 or 2");
}

// ---- register budget -----------------------------------------------------------------------------

// Per thread: block_n S accumulators, and O's head_dim (32 rows per warp) or half the padded head
// dim (16 rows: the quad pairs of a slab split it). 160 compile without spills with NVRTC 11.8 and
// 12.9 for sm_70 (tests/codegen/mma_sm70_no_spills.check).
TEST(MmaSm70Registers, AtMostOneHundredSixtyAccumulatorsPerThread) {
  EXPECT_TRUE(problems_of(sm70(96, 128, 64, 4, 2)).empty());   // 64 + 96
  EXPECT_TRUE(problems_of(sm70(128, 128, 32, 4, 2)).empty());  // 32 + 128
  EXPECT_TRUE(problems_of(sm70(256, 64, 32, 4, 2)).empty());   // 32 + 256 / 2
  expect_only_problem(sm70(104, 128, 64, 4, 2),
                      "mma_sm70 tile m128n64w4 at head_dim 104 keeps 168 fp32 accumulators with 32 rows per warp, "
                      "over the 160 that fit in registers without spills");
  // With 16 rows the head dim's padding to 16 columns counts: d=248 holds 256 columns, 128 per quad pair.
  expect_only_problem(sm70(248, 64, 64, 4, 1),
                      "mma_sm70 tile m64n64w4 at head_dim 248 keeps 192 fp32 accumulators with 16 rows per warp, "
                      "over the 160 that fit in registers without spills");
}

// ---- shared memory -------------------------------------------------------------------------------

// The tensor-core tile layout (templates/mma_tile_layout.cuh): (block_m + 2 * stages * block_n) rows,
// swizzled or padded by a chunk. Volta allows 96 KiB per block.
TEST(MmaSm70SharedMemory, FollowsTheTileLayoutWithinVoltas96KiB) {
  EXPECT_EQ(shared_memory_bytes(sm70(64, 128, 64, 4, 2)), (128 + 2 * 2 * 64) * 128);
  EXPECT_EQ(shared_memory_bytes(sm70(40, 128, 64, 4, 2)), (128 + 2 * 2 * 64) * 7 * 16);
  EXPECT_EQ(shared_memory_bytes(sm70(256, 64, 32, 4, 2)), 98304);  // exactly 96 KiB
  EXPECT_TRUE(problems_of(sm70(256, 64, 32, 4, 2)).empty());
  expect_only_problem(sm70(256, 128, 32, 8, 2),
                      "needs 131072 bytes of shared memory, more than the 98304 a block may use on sm_70");
  // Xavier (sm_72) is a Volta too.
  expect_only_problem(sm70(256, 128, 32, 8, 2, 72),
                      "needs 131072 bytes of shared memory, more than the 98304 a block may use on sm_72");
}

// ---- architectures and dtypes --------------------------------------------------------------------

TEST(MmaSm70Arch, NeedsVoltaAndComputesF16Only) {
  for (int cc : {70, 72, 75, 80, 90}) EXPECT_TRUE(problems_of(sm70(64, 64, 32, 2, 2, cc)).empty()) << cc;
  expect_only_problem(sm70(64, 64, 32, 2, 2, 61),
                      "mma_sm70 needs compute capability 7.0 (Volta) or newer, not sm_61 (mma.m8n8k4 starts at sm_70)");
  expect_only_problem(sm70(64, 64, 32, 2, 2, 70, DType::bf16),
                      "mma_sm70 computes f16 only, not bf16 (Volta's tensor cores have no bf16)");
  expect_only_problem(sm70(64, 64, 32, 2, 2, 70, DType::f32), "mma_sm70 computes f16 only, not f32");
}

// It runs anywhere from sm_70 (ptxas accepts m8n8k4 for every newer target), but the selector takes
// it by itself on Volta only: forcing is how a newer GPU runs it.
TEST(MmaSm70Arch, ChosenByItselfOnVoltaOnly) {
  const VariantRules& rules = rules_for(Variant::mma_sm70);
  ASSERT_NE(rules.unforced_problem, nullptr);
  EXPECT_EQ(rules.unforced_problem(70), "");
  EXPECT_EQ(rules.unforced_problem(72), "");
  EXPECT_EQ(rules.unforced_problem(75),
            "mma_sm70 is chosen on Volta only (sm_70, sm_72), not sm_75: mma.m8n8k4 is slower than Turing's m16n8k8; "
            "it runs there only when forced");
  for (int cc : {80, 86, 90, 100, 120})
    EXPECT_EQ(rules.unforced_problem(cc), "mma_sm70 is chosen on Volta only (sm_70, sm_72), not sm_" +
                                              std::to_string(cc) +
                                              ": mma.m8n8k4 is emulated on the CUDA cores from sm_80 on; it runs "
                                              "there only when forced");
  // No other variant holds back.
  for (Variant v : variants_by_preference()) {
    if (v == Variant::mma_sm70) continue;
    EXPECT_EQ(rules_for(v).unforced_problem, nullptr) << variant_name(v);
  }
}

TEST(MmaSm70Arch, IsBuiltFromItsTemplate) {
  const VariantRules& rules = rules_for(Variant::mma_sm70);
  EXPECT_STREQ(rules.name, "mma_sm70");
  EXPECT_STREQ(variant_name(Variant::mma_sm70), "mma_sm70");
  EXPECT_STREQ(rules.template_file, "mma_sm70_forward.cuh");
  EXPECT_STREQ(rules.kernel_template, "flashjit::dev::mma_sm70_forward");
  EXPECT_STREQ(rules.shared_bytes_of, "::flashjit::dev::M8n8k4Shape");
  EXPECT_EQ(rules.parameters, ParameterBlock::attention);
  EXPECT_EQ(rules.grid, GridKind::per_tile);
  EXPECT_FALSE(rules.arch_specific);
  EXPECT_EQ(rules.entry_registers, nullptr);
  // Appended to the public enum, so the other variants keep their numbers.
  EXPECT_EQ(static_cast<int>(Variant::mma_sm70), 4);
  EXPECT_EQ(static_cast<int>(Variant::wgmma_sm90), 3);
}

// ---- defaults on a V100 --------------------------------------------------------------------------

std::string volta_default(int head_dim, MaskKind mask = MaskKind::none) {
  auto spec = default_spec(Variant::mma_sm70, DeviceDescription::for_arch(70),
                           testing::problem_with(DType::f16, head_dim, mask));
  if (!spec) {
    ADD_FAILURE() << "d" << head_dim << ": " << llvm::toString(spec.takeError());
    return "";
  }
  return canonical_key(*spec);
}

// Every head dim has a default that fits: 4 warps of 32 rows with 64-key blocks to d 96, 32-key
// blocks to d 128; 8 warps of 16 rows to d 192; 64 rows (4 warps of 16) to d 256.
TEST(MmaSm70Defaults, EveryHeadDimHasATileThatFitsAV100) {
  for (int d = 8; d <= 256; d += 8) {
    const std::string m = d <= 96 ? "m128n64w4" : d <= 128 ? "m128n32w4" : d <= 192 ? "m128n32w8" : "m64n32w4";
    EXPECT_EQ(volta_default(d), "mma_sm70_sm70_f16_d" + std::to_string(d) + "_" + m + "s2_none");
  }
  EXPECT_EQ(volta_default(64, MaskKind::causal), "mma_sm70_sm70_f16_d64_m128n64w4s2_causal");
}

// ---- ragged batches and score modifiers (issue 14) ------------------------------------------------

// The template has a `_modified` entry (mma_forward.cuh's main loop with this layout's softmax), so
// Volta runs windows, softcap, ALiBi and ragged batches on its tensor cores rather than on generic.
// Its defaults keep the dense kernel's tiles: ptxas spilled none of them with every modifier at once
// (tests/codegen/mma_sm70_modified_no_spills.check).
TEST(MmaSm70Modifiers, ComputesEveryModifierAtTheDenseDefaults) {
  ProblemFeatures f{DType::f16, 128, MaskKind::causal};
  f.ragged = f.window = f.softcap = f.alibi = true;
  EXPECT_EQ(modifier_problem(rules_for(Variant::mma_sm70), f), "");
  auto spec = default_spec(Variant::mma_sm70, DeviceDescription::for_arch(70), testing::problem_with(f));
  ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
  EXPECT_EQ(canonical_key(*spec), "mma_sm70_sm70_f16_d128_m128n32w4s2_causal_window_softcap_alibi_varlen");
}

// ---- the tuner's grid ----------------------------------------------------------------------------

// Both warp shapes at 64 and 128 query rows, every key tile, one and two slots: 32 tiles of legal
// shapes. On a V100 the over-budget and over-96-KiB ones are pruned, and the default survives.
TEST(MmaSm70TileGrid, LegalShapesPrunedOnVoltaByRegistersAndSharedMemory) {
  const KernelSpec base = sm70(128, 0, 0, 0, 0);
  const std::vector<KernelSpec> grid = rules_for(Variant::mma_sm70).tile_grid(base);
  EXPECT_EQ(grid.size(), 32u);
  std::set<std::string> keys;
  int fit = 0;
  for (const KernelSpec& s : grid) {
    EXPECT_TRUE(keys.insert(canonical_key(s)).second) << canonical_key(s) << " twice";
    for (const std::string& p : problems_of(s))
      EXPECT_TRUE(p.find("fit in registers without spills") != std::string::npos ||
                  p.find("bytes of shared memory") != std::string::npos)
          << canonical_key(s) << ": " << p;
    fit += problems_of(s).empty() ? 1 : 0;
  }
  EXPECT_GT(fit, 8);
  EXPECT_TRUE(keys.count(volta_default(128))) << "the default tile is not in the grid";
}

}  // namespace
}  // namespace flashjit::gen
