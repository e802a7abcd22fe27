// The rules of the Hopper variant wgmma_sm90 (generator/wgmma_rules.cpp) as spec validation reports
// them: the head dims and tile shapes templates/wgmma_sm90_forward.cuh is generated for, the warps
// a block_m takes (a producer warpgroup and one consumer warpgroup per 64 rows), the consumer
// register rule, the shared-memory formula of its WgmmaShape, the one architecture it serves, its
// defaults and the tuner's grid. The messages are pinned because `flashjit emit` and the tuner's
// pruned lines print them as they are.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "helpers/problems.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "generator/variant_rules.h"
#include "unit/rules_test_support.h"

namespace flashjit::gen {
namespace {

KernelSpec wgmma(int head_dim, int block_m, int block_n, int warps, int stages, int arch = 90,
                 DType dtype = DType::f16) {
  return tile_spec(Variant::wgmma_sm90, arch, head_dim, block_m, block_n, warps, stages, dtype);
}

const int kHeadDims[] = {64, 96, 128, 192, 256};

// ---- the variant's table entry ---------------------------------------------------------------------

TEST(WgmmaRules, AreBuiltAndNameTheirTemplateAndParameters) {
  const VariantRules& rules = rules_for(Variant::wgmma_sm90);
  EXPECT_EQ(rules.variant, Variant::wgmma_sm90);
  EXPECT_STREQ(rules.template_file, "wgmma_sm90_forward.cuh");
  EXPECT_STREQ(rules.kernel_template, "flashjit::dev::wgmma_sm90_forward");
  EXPECT_STREQ(rules.name, "wgmma_sm90");
  EXPECT_TRUE(rules.arch_specific);  // sm_90a
  // TMA reads the tensor maps from the parameter space: the block must be __grid_constant__.
  EXPECT_EQ(rules.parameters, ParameterBlock::tma);
  EXPECT_EQ(kernel_parameter_declaration(rules.parameters, ProblemFeatures{}), "const __grid_constant__ ::flashjit::WgmmaParams");
  EXPECT_EQ(rules.grid, GridKind::persistent);
  EXPECT_NE(rules.problem_rule, nullptr);
  EXPECT_STREQ(rules.shared_bytes_of, "::flashjit::dev::WgmmaShape");
  EXPECT_NE(rules.tile_grid, nullptr);
  EXPECT_NE(rules.preferred_tiles, nullptr);
}

// ---- tile shapes ---------------------------------------------------------------------------------

TEST(WgmmaTiles, AcceptTheShapesTheTemplateBuilds) {
  // One or two consumer warpgroups, every key tile with a wgmma shape, two to four stages, at d 64
  // (where every key tile fits the registers and the smallest shared memory).
  for (int block_m : {64, 128})
    for (int block_n : {64, 96, 128, 192})
      for (int stages : {2, 3}) {
        const KernelSpec s = wgmma(64, block_m, block_n, 4 * (1 + block_m / 64), stages);
        EXPECT_TRUE(problems_of(s).empty()) << canonical_key(s) << ": " << joined(problems_of(s));
      }
  const KernelSpec four_stages = wgmma(64, 64, 64, 8, 4);
  EXPECT_TRUE(problems_of(four_stages).empty()) << joined(problems_of(four_stages));
  for (int head_dim : kHeadDims) {
    const KernelSpec s = wgmma(head_dim, 64, 64, 8, 2);
    EXPECT_TRUE(problems_of(s).empty()) << canonical_key(s) << ": " << joined(problems_of(s));
  }
}

// Q.K^T steps k16 inside 64-column swizzle tiles and P.V's N is the head dim: other head dims run
// on mma_sm80.
TEST(WgmmaTiles, HeadDimsAreTheFiveItIsGeneratedFor) {
  for (int head_dim : {8, 32, 72, 80, 136, 160, 248})
    expect_only_problem(wgmma(head_dim, 64, 64, 8, 2),
                        "wgmma_sm90 is generated for head dims 64, 96, 128, 192 and 256, not " +
                            std::to_string(head_dim));
}

TEST(WgmmaTiles, BlockMIsOneOrTwoConsumerWarpgroups) {
  expect_only_problem(wgmma(128, 32, 64, 4, 2),
                      "wgmma_sm90 block_m 32 must be 64 or 128 (one or two 64-row consumer warpgroups)");
  expect_only_problem(wgmma(128, 192, 64, 16, 2),
                      "wgmma_sm90 block_m 192 must be 64 or 128 (one or two 64-row consumer warpgroups)");
}

TEST(WgmmaTiles, WarpsFollowBlockM) {
  expect_only_problem(wgmma(128, 64, 64, 4, 2),
                      "wgmma_sm90 block_m 64 takes 8 warps (a producer warpgroup and 1 consumer warpgroup), not 4");
  expect_only_problem(wgmma(128, 128, 64, 8, 2),
                      "wgmma_sm90 block_m 128 takes 12 warps (a producer warpgroup and 2 consumer warpgroups), "
                      "not 8");
  expect_only_problem(wgmma(128, 64, 64, 12, 2),
                      "wgmma_sm90 block_m 64 takes 8 warps (a producer warpgroup and 1 consumer warpgroup), not 12");
}

TEST(WgmmaTiles, BlockNHasAWgmmaShape) {
  for (int block_n : {16, 32, 80, 256})
    expect_only_problem(wgmma(64, 64, block_n, 8, 2),
                        "wgmma_sm90 block_n " + std::to_string(block_n) + " must be 64, 96, 128 or 192");
}

TEST(WgmmaTiles, StagesAreTwoToFour) {
  expect_only_problem(wgmma(64, 64, 64, 8, 1), "wgmma_sm90 stages 1 must be 2..4");
  expect_only_problem(wgmma(64, 64, 64, 8, 5), "wgmma_sm90 stages 5 must be 2..4");
}

// A consumer thread holds O (head_dim / 2), S (block_n / 2) and P (block_n / 4) registers; 200 fit.
TEST(WgmmaTiles, ConsumerRegistersBoundTheKeyTile) {
  // 64 + 96 + 48 = 208.
  expect_only_problem(wgmma(128, 128, 192, 12, 2),
                      "wgmma_sm90 tile n192 at head_dim 128 keeps 208 accumulator registers per consumer thread, "
                      "over the 200 that fit beside the rest");
  // 128 + 64 + 32 = 224.
  expect_only_problem(wgmma(256, 64, 128, 8, 2),
                      "wgmma_sm90 tile n128 at head_dim 256 keeps 224 accumulator registers per consumer thread, "
                      "over the 200 that fit beside the rest");
  // 128 + 48 + 24 = 200 exactly: allowed (one consumer warpgroup keeps shared memory within 227 KB).
  const KernelSpec at_budget = wgmma(256, 64, 96, 8, 2);
  EXPECT_TRUE(problems_of(at_budget).empty()) << joined(problems_of(at_budget));
}

// The register rule is only judged for an otherwise legal tile, so a bad shape is not blamed twice.
TEST(WgmmaTiles, ShapeProblemsAreReportedTogether) {
  const std::vector<std::string> problems = problems_of(wgmma(80, 32, 32, 4, 1));
  ASSERT_EQ(problems.size(), 4u) << joined(problems);
  EXPECT_EQ(problems[0], "wgmma_sm90 is generated for head dims 64, 96, 128, 192 and 256, not 80");
  EXPECT_EQ(problems[1], "wgmma_sm90 block_m 32 must be 64 or 128 (one or two 64-row consumer warpgroups)");
  EXPECT_EQ(problems[2], "wgmma_sm90 block_n 32 must be 64, 96, 128 or 192");
  EXPECT_EQ(problems[3], "wgmma_sm90 stages 1 must be 2..4");
}

// ---- shared memory -------------------------------------------------------------------------------

// 1024 bytes of alignment slack + (block_m Q rows + 2 * stages * block_n K and V rows) of the head
// dim rounded up to 64 two-byte elements + 8 bytes per mbarrier (2 + 3 * stages).
TEST(WgmmaSharedMemory, MatchesTheTemplatesLayout) {
  // d128: 1024 + (128 + 2*3*128) * 128*2 + 8*(2 + 3*3) = 1024 + 896*256 + 88.
  EXPECT_EQ(shared_memory_bytes(wgmma(128, 128, 128, 12, 3)), 230488);
  // d96 pads to 128 columns: 1024 + (64 + 2*2*96) * 128*2 + 8*(2 + 3*2) = 1024 + 448*256 + 64.
  EXPECT_EQ(shared_memory_bytes(wgmma(96, 64, 96, 8, 2)), 115776);
  // d192 (no padding), four stages: 1024 + (64 + 2*4*64) * 192*2 + 8*(2 + 3*4) = 1024 + 576*384 + 112.
  EXPECT_EQ(shared_memory_bytes(wgmma(192, 64, 64, 8, 4)), 222320);
  // The dtype does not matter: f16 and bf16 are both two bytes.
  EXPECT_EQ(shared_memory_bytes(wgmma(128, 128, 128, 12, 3, 90, DType::bf16)), 230488);
}

TEST(WgmmaSharedMemory, OverTheOptInLimitIsAProblem) {
  // 1024 + (128 + 2*4*64) * 256*2 + 8*(2 + 3*4) = 328816 bytes; Hopper allows 227 KB.
  expect_only_problem(wgmma(256, 128, 64, 12, 4),
                      "needs 328816 bytes of shared memory, more than the 232448 a block may use on sm_90a");
}

// The default tile at each head dim and dtype fits the opt-in shared memory of an H100 or H200
// (both 227 KB: DeviceDescription::for_arch(90)), with 384 threads.
TEST(WgmmaSharedMemory, DefaultsFitHopper) {
  const DeviceDescription hopper = DeviceDescription::for_arch(90);
  ASSERT_EQ(hopper.smem_per_block_optin, 227 * 1024);
  for (int head_dim : kHeadDims)
    for (DType dtype : {DType::f16, DType::bf16}) {
      auto s = default_spec(Variant::wgmma_sm90, hopper, flashjit::testing::problem_with(dtype, head_dim));
      ASSERT_TRUE(static_cast<bool>(s)) << "d" << head_dim << ": " << llvm::toString(s.takeError());
      const std::string key = canonical_key(*s);
      EXPECT_EQ(s->variant, Variant::wgmma_sm90) << key;
      EXPECT_TRUE(s->arch_specific) << key;
      EXPECT_EQ(s->head_dim, head_dim) << key;
      EXPECT_EQ(s->dtype, dtype) << key;
      EXPECT_LE(shared_memory_bytes(*s), hopper.smem_per_block_optin) << key;
      EXPECT_EQ(threads_per_block(*s), 384) << key;
      EXPECT_TRUE(spec_problems(*s, hopper).empty()) << key << ": " << joined(spec_problems(*s, hopper));
    }
}

// ---- architecture and dtype ----------------------------------------------------------------------

TEST(WgmmaArch, OnlySm90ExactlyAndF16OrBf16) {
  EXPECT_TRUE(problems_of(wgmma(128, 128, 128, 12, 2, 90, DType::f16)).empty());
  EXPECT_TRUE(problems_of(wgmma(128, 128, 128, 12, 2, 90, DType::bf16)).empty());
  // Ada has mma.sync but no wgmma; Blackwell's sm_100 has no sm_90a features either.
  for (int cc : {80, 89, 100})
    expect_only_problem(wgmma(128, 128, 128, 12, 2, cc),
                        "wgmma_sm90 needs compute capability 9.0 exactly (wgmma and setmaxnreg exist only in "
                        "sm_90a), not sm_" +
                            std::to_string(cc));
  expect_only_problem(wgmma(128, 128, 128, 12, 2, 90, DType::f32), "wgmma_sm90 computes f16 and bf16, not f32");
  // The rule itself, as the selector asks it.
  EXPECT_EQ(rules_for(Variant::wgmma_sm90).arch_problem(90, DType::bf16), "");
  EXPECT_EQ(rules_for(Variant::wgmma_sm90).arch_problem(89, DType::f16),
            "wgmma_sm90 needs compute capability 9.0 exactly (wgmma and setmaxnreg exist only in sm_90a), not "
            "sm_89");
}

// ---- the tuner's grid ----------------------------------------------------------------------------

// 128 or 64 query rows x block_n 128/64/192/96 x two or three stages: 16 tiles of the variant, each
// keeping the base's fields and the warps its block_m takes. Some exceed the register budget or
// shared memory on purpose (the tuner prunes those and says why), but none has a shape the template
// cannot build.
TEST(WgmmaTileGrid, HoldsOnlyWgmmaTilesWithTheirWarps) {
  for (int head_dim : kHeadDims) {
    const KernelSpec base = wgmma(head_dim, 0, 0, 0, 0, 90, DType::bf16);
    const std::vector<KernelSpec> grid = rules_for(Variant::wgmma_sm90).tile_grid(base);
    EXPECT_EQ(grid.size(), 16u);
    std::set<std::string> keys;
    std::set<int> block_ms, block_ns, stages;
    for (const KernelSpec& s : grid) {
      const std::string key = canonical_key(s);
      EXPECT_TRUE(keys.insert(key).second) << key << " twice";
      EXPECT_EQ(s.variant, Variant::wgmma_sm90) << key;
      EXPECT_EQ(s.arch, 90) << key;
      EXPECT_TRUE(s.arch_specific) << key;
      EXPECT_EQ(s.dtype, DType::bf16) << key;
      EXPECT_EQ(s.head_dim, head_dim) << key;
      EXPECT_EQ(s.warps, 4 * (1 + s.block_m / 64)) << key;
      block_ms.insert(s.block_m);
      block_ns.insert(s.block_n);
      stages.insert(s.stages);
      for (const std::string& p : rules_for(Variant::wgmma_sm90).tile_problems(s))
        EXPECT_NE(p.find("accumulator registers per consumer thread"), std::string::npos) << key << ": " << p;
    }
    EXPECT_EQ(block_ms, (std::set<int>{64, 128}));
    EXPECT_EQ(block_ns, (std::set<int>{64, 96, 128, 192}));
    EXPECT_EQ(stages, (std::set<int>{2, 3}));
    // Most promising first: two consumer warpgroups with 128-key tiles.
    EXPECT_EQ(grid.front().block_m, 128);
    EXPECT_EQ(grid.front().block_n, 128);
  }
}

// ---- issue 14: ragged batches, sliding windows, softcap and ALiBi -----------------------------------

ProblemFeatures with_modifiers(int head_dim, bool ragged, bool window, bool softcap, bool alibi) {
  ProblemFeatures f{DType::bf16, head_dim, MaskKind::causal};
  f.ragged = ragged;
  f.window = window;
  f.softcap = softcap;
  f.alibi = alibi;
  return f;
}

// Like NVRTC 13.0: it targets sm_90a.
CompilerTargets nvrtc13() { return {13, 0, {75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121}}; }

// templates/wgmma_score_modifiers.cuh: a ragged batch and each modifier alone, and all four at every
// head dim, through the spec check, the default tile and the selector's verdict on Hopper.
TEST(WgmmaModifiers, ComputesRaggedBatchesWindowsSoftcapAndAlibi) {
  const VariantRules& rules = rules_for(Variant::wgmma_sm90);
  EXPECT_TRUE(rules.modifiers.ragged);
  EXPECT_TRUE(rules.modifiers.window);
  EXPECT_TRUE(rules.modifiers.softcap);
  EXPECT_TRUE(rules.modifiers.alibi);
  const DeviceDescription hopper = DeviceDescription::for_arch(90);
  for (int head_dim : kHeadDims)
    for (const ProblemFeatures& f :
         {with_modifiers(head_dim, true, false, false, false), with_modifiers(head_dim, false, true, false, false),
          with_modifiers(head_dim, false, false, true, false), with_modifiers(head_dim, false, false, false, true),
          with_modifiers(head_dim, true, true, true, true)}) {
      EXPECT_EQ(modifier_problem(rules, f), "");
      const Problem problem = flashjit::testing::problem_with(f);
      auto spec = default_spec(Variant::wgmma_sm90, hopper, problem);
      ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
      EXPECT_EQ(spec->features(), f) << canonical_key(*spec);
      EXPECT_TRUE(spec_problems(*spec, hopper).empty()) << joined(spec_problems(*spec, hopper));
      const VariantVerdict verdict = judge_variant(Variant::wgmma_sm90, hopper, problem, nvrtc13());
      EXPECT_TRUE(verdict.usable) << canonical_key(*spec) << ": " << verdict.reason;
    }
}

// A ragged call that does not give its packed tensors' token counts cannot have its tensor maps
// sized: TMA cannot address it, the selector says why (and passes on to mma_sm80, the selector's
// tests), and its key is apart from the call that gives them. With the counts the call is served.
TEST(WgmmaModifiers, ARaggedCallWithoutTokenCountsIsRefusedSayingWhy) {
  const ProblemFeatures f = with_modifiers(128, true, false, false, false);
  const Problem without = flashjit::testing::problem_of_call(f, [](AttentionArgs& a) {
    static const int32_t offsets[] = {0, 3, 4};
    a.batch = 2;
    a.cu_seqlens_q = a.cu_seqlens_k = offsets;
    a.q.strides.batch = a.k.strides.batch = a.v.strides.batch = a.out.strides.batch = 0;
  });
  const std::string why =
      "q: the packed tensors' token counts are not given (AttentionArgs::total_q and total_k), which TMA's "
      "tensor maps are sized by";
  EXPECT_EQ(without.tma_problem(), why);
  const VariantVerdict verdict =
      judge_variant(Variant::wgmma_sm90, DeviceDescription::for_arch(90), without, nvrtc13());
  EXPECT_FALSE(verdict.usable);
  EXPECT_EQ(verdict.reason, "TMA cannot address these tensors (" + why + ")");

  const Problem with = flashjit::testing::problem_of_call(f, [](AttentionArgs& a) {
    static const int32_t offsets[] = {0, 3, 4};
    a.batch = 2;
    a.cu_seqlens_q = a.cu_seqlens_k = offsets;
    a.total_q = a.total_k = 4;
    a.q.strides.batch = a.k.strides.batch = a.v.strides.batch = a.out.strides.batch = 0;
  });
  EXPECT_EQ(with.tma_problem(), "");
  EXPECT_TRUE(judge_variant(Variant::wgmma_sm90, DeviceDescription::for_arch(90), with, nvrtc13()).usable);
  EXPECT_NE(without.key(), with.key());
  EXPECT_EQ(without.key().str(), with.key().str() + "_unaligned");
}

// A kernel with modifiers keeps 8 registers of the consumers' accumulator budget for their state: the
// tile at the budget (d 256's m64n96, which spilled 28 bytes with all three) is refused for it, with
// why; the next smaller (n64) stays.
TEST(WgmmaModifiers, KeepRegistersForTheModifiersState) {
  KernelSpec at_budget = wgmma(256, 64, 96, 8, 2);
  ASSERT_TRUE(problems_of(at_budget).empty()) << joined(problems_of(at_budget));
  at_budget.set_features(with_modifiers(256, false, true, false, false));
  expect_only_problem(at_budget,
                      "wgmma_sm90 tile n96 at head_dim 256 keeps 200 accumulator registers per consumer thread, "
                      "over the 192 that fit beside the rest and the score modifiers' state");
  KernelSpec below = wgmma(256, 64, 64, 8, 2);
  below.set_features(with_modifiers(256, false, true, true, true));
  EXPECT_TRUE(problems_of(below).empty()) << joined(problems_of(below));
}

// modifier_problem lists what a variant does not compute as a sentence.
TEST(WgmmaModifiers, ModifierProblemReadsAsASentence) {
  VariantRules plain;
  plain.name = "plain";
  EXPECT_EQ(modifier_problem(plain, with_modifiers(64, true, false, false, true)),
            "plain does not compute ragged batches or ALiBi");
  EXPECT_EQ(modifier_problem(plain, with_modifiers(64, true, true, true, false)),
            "plain does not compute ragged batches, sliding windows or softcap");
  EXPECT_EQ(modifier_problem(plain, with_modifiers(64, false, true, false, false)),
            "plain does not compute sliding windows");
}

}  // namespace
}  // namespace flashjit::gen
