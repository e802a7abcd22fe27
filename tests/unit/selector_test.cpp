// The one selector, run for every GPU family with nominal device limits and injected compilers, so
// that what each family gets (and why) is tested on a machine without a GPU.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "helpers/errors.h"
#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "generator/variant_rules.h"
#include "helpers/problems.h"

namespace flashjit::gen {
namespace {

constexpr int KiB = 1024;

// Like NVRTC 13.0 (nvrtcGetSupportedArchs).
CompilerTargets nvrtc13() { return {13, 0, {75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121}}; }
// Like an NVRTC from CUDA 12.x before Blackwell.
CompilerTargets nvrtc12() { return {12, 4, {50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}}; }

Problem problem(DType dtype = DType::f16, int head_dim = 128, MaskKind mask = MaskKind::none) {
  return flashjit::testing::problem_with(dtype, head_dim, mask);
}

// The same problem with q rows 100 elements apart, which TMA cannot address.
Problem unaligned_problem(DType dtype = DType::f16, int head_dim = 128) {
  return flashjit::testing::problem_with_q_seq_stride({dtype, head_dim, MaskKind::none}, 100);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Selection selected(int cc, const Problem& p, const CompilerTargets& targets,
                   std::optional<Variant> forced = std::nullopt) {
  auto s = select_variant(DeviceDescription::for_arch(cc), p, targets, forced);
  if (!s) {
    ADD_FAILURE() << "sm_" << cc << ": " << llvm::toString(s.takeError());
    return {};
  }
  return *s;
}

std::string selection_error(int cc, const Problem& p, const CompilerTargets& targets,
                            std::optional<Variant> forced = std::nullopt) {
  auto s = select_variant(DeviceDescription::for_arch(cc), p, targets, forced);
  if (s) {
    ADD_FAILURE() << "sm_" << cc << " unexpectedly selected " << canonical_key(s->spec);
    return "";
  }
  // A forced variant that cannot run is the caller's choice to change; otherwise the device or
  // build cannot do it.
  return flashjit::testing::message_of(s.takeError(), forced ? ErrorCode::invalid_argument : ErrorCode::unsupported);
}

const VariantVerdict& verdict_for(const Selection& s, Variant v) {
  for (const VariantVerdict& verdict : s.verdicts)
    if (verdict.variant == v) return verdict;
  static const VariantVerdict missing{};
  ADD_FAILURE() << "no verdict for " << variant_name(v);
  return missing;
}

// ---- arch traits ---------------------------------------------------------------------------------

TEST(ArchTraits, FamiliesAndTensorCoreGenerations) {
  struct Case {
    int cc;
    ArchFamily family;
    TensorCoreGen tensor_cores;
    bool f16_tc;
    bool bf16_tc;
  };
  const Case cases[] = {
      {35, ArchFamily::pre_maxwell, TensorCoreGen::none, false, false},
      {52, ArchFamily::maxwell, TensorCoreGen::none, false, false},
      {61, ArchFamily::pascal, TensorCoreGen::none, false, false},
      {70, ArchFamily::volta, TensorCoreGen::volta_hmma, true, false},
      {75, ArchFamily::turing, TensorCoreGen::turing_mma, true, false},
      {80, ArchFamily::ampere, TensorCoreGen::ampere_mma, true, true},
      {86, ArchFamily::ampere, TensorCoreGen::ampere_mma, true, true},
      {89, ArchFamily::ada, TensorCoreGen::ada_mma, true, true},
      {90, ArchFamily::hopper, TensorCoreGen::hopper_wgmma, true, true},
      {100, ArchFamily::blackwell, TensorCoreGen::blackwell_tcgen05, true, true},
  };
  for (const Case& c : cases) {
    const ArchTraits t = arch_traits(c.cc);
    EXPECT_EQ(t.family, c.family) << "sm_" << c.cc;
    EXPECT_EQ(t.tensor_cores, c.tensor_cores) << "sm_" << c.cc;
    EXPECT_EQ(t.f16_tensor_cores, c.f16_tc) << "sm_" << c.cc;
    EXPECT_EQ(t.bf16_tensor_cores, c.bf16_tc) << "sm_" << c.cc;
  }
  EXPECT_STREQ(arch_family_name(arch_traits(61).family), "Pascal");
  EXPECT_STREQ(arch_family_name(arch_traits(89).family), "Ada Lovelace");
  EXPECT_STREQ(tensor_core_description(TensorCoreGen::turing_mma),
               "2nd generation (Turing, mma.sync m16n8k8, f16)");
}

TEST(ArchTraits, SharedMemoryLimits) {
  EXPECT_EQ(arch_traits(35).smem_per_block_optin, 0);
  EXPECT_EQ(arch_traits(52).smem_per_block_optin, 48 * KiB);
  EXPECT_EQ(arch_traits(61).smem_per_block_optin, 48 * KiB);
  EXPECT_EQ(arch_traits(70).smem_per_block_optin, 96 * KiB);
  EXPECT_EQ(arch_traits(75).smem_per_block_optin, 64 * KiB);
  EXPECT_EQ(arch_traits(80).smem_per_block_optin, 163 * KiB);
  EXPECT_EQ(arch_traits(86).smem_per_block_optin, 99 * KiB);
  EXPECT_EQ(arch_traits(87).smem_per_block_optin, 163 * KiB);
  EXPECT_EQ(arch_traits(89).smem_per_block_optin, 99 * KiB);
  EXPECT_EQ(arch_traits(90).smem_per_block_optin, 227 * KiB);
  EXPECT_EQ(arch_traits(100).smem_per_block_optin, 227 * KiB);
  EXPECT_EQ(arch_traits(120).smem_per_block_optin, 99 * KiB);

  // Per SM, from the programming guide's table of compute capabilities.
  EXPECT_EQ(arch_traits(50).smem_per_sm, 64 * KiB);
  EXPECT_EQ(arch_traits(52).smem_per_sm, 96 * KiB);
  EXPECT_EQ(arch_traits(53).smem_per_sm, 64 * KiB);
  EXPECT_EQ(arch_traits(60).smem_per_sm, 64 * KiB);
  EXPECT_EQ(arch_traits(61).smem_per_sm, 96 * KiB);
  EXPECT_EQ(arch_traits(62).smem_per_sm, 64 * KiB);
  EXPECT_EQ(arch_traits(75).smem_per_sm, 64 * KiB);
  EXPECT_EQ(arch_traits(80).smem_per_sm, 164 * KiB);
  EXPECT_EQ(arch_traits(90).smem_per_sm, 228 * KiB);
}

TEST(DeviceDescriptionForArch, UsesTheNominalLimitsOfTheArchitecture) {
  const DeviceDescription d = DeviceDescription::for_arch(86);
  EXPECT_EQ(d.cc_major, 8);
  EXPECT_EQ(d.cc_minor, 6);
  EXPECT_EQ(d.compute_capability(), 86);
  EXPECT_EQ(d.name, "nominal sm_86");
  EXPECT_TRUE(d.nominal);
  EXPECT_EQ(d.smem_per_block_optin, 99 * KiB);
  EXPECT_EQ(d.max_threads_per_block, 1024);
  EXPECT_EQ(DeviceDescription::for_arch(62).regs_per_block, 32768);
  EXPECT_EQ(DeviceDescription::for_arch(61).regs_per_block, 65536);
}

// ---- compiler targets ----------------------------------------------------------------------------

TEST(CompilerTargets, VersionAndRange) {
  EXPECT_EQ(nvrtc13().version(), "13.0");
  EXPECT_EQ(nvrtc13().range(), "sm_75..sm_121");
  EXPECT_EQ(nvrtc12().range(), "sm_50..sm_90");
  EXPECT_TRUE(nvrtc13().supports(90));
  EXPECT_FALSE(nvrtc13().supports(61));
  EXPECT_EQ(CompilerTargets{}.range(), "no targets");
}

TEST(ChooseTarget, PicksTheDevicesOwnArchitectureWhenSupported) {
  for (int cc : {75, 80, 86, 89, 90, 100, 120}) {
    auto t = choose_target(cc, nvrtc13());
    ASSERT_TRUE(static_cast<bool>(t)) << llvm::toString(t.takeError());
    EXPECT_EQ(*t, cc);
  }
  auto pascal = choose_target(61, nvrtc12());
  ASSERT_TRUE(static_cast<bool>(pascal)) << llvm::toString(pascal.takeError());
  EXPECT_EQ(*pascal, 61);
}

TEST(ChooseTarget, PascalWithNvrtc13AdvisesACuda12Nvrtc) {
  auto t = choose_target(61, nvrtc13());
  ASSERT_FALSE(static_cast<bool>(t));
  const std::string message = flashjit::testing::message_of(t.takeError(), ErrorCode::unsupported);
  EXPECT_EQ(message,
            "the GPU is sm_61 (Pascal) but NVRTC 13.0 targets sm_75..sm_121 only; an NVRTC from "
            "CUDA 12.x (which targets sm_50..sm_90) can compile for it");
}

TEST(ChooseTarget, NewerThanTheCompilerAsksForANewerToolkit) {
  auto t = choose_target(100, nvrtc12());
  ASSERT_FALSE(static_cast<bool>(t));
  const std::string message = flashjit::testing::message_of(t.takeError(), ErrorCode::unsupported);
  EXPECT_TRUE(contains(message, "the GPU is sm_100 (Blackwell) but NVRTC 12.4 targets sm_50..sm_90 only"))
      << message;
  EXPECT_TRUE(contains(message, "a newer CUDA toolkit's NVRTC is needed")) << message;
}

TEST(ChooseTarget, PreMaxwellHasNoToolkit) {
  auto t = choose_target(35, nvrtc12());
  ASSERT_FALSE(static_cast<bool>(t));
  const std::string message = flashjit::testing::message_of(t.takeError(), ErrorCode::unsupported);
  EXPECT_TRUE(contains(message, "sm_35 (pre-Maxwell)")) << message;
  EXPECT_TRUE(contains(message, "no current CUDA toolkit supports GPUs older than Maxwell")) << message;
}

// ---- selection per family ------------------------------------------------------------------------

TEST(Selector, VerdictsCoverEveryVariantMostCapableFirst) {
  const Selection s = selected(90, problem(), nvrtc13());
  ASSERT_EQ(s.verdicts.size(), 5u);
  EXPECT_EQ(s.verdicts[0].variant, Variant::wgmma_sm90);
  EXPECT_EQ(s.verdicts[1].variant, Variant::mma_sm80);
  EXPECT_EQ(s.verdicts[2].variant, Variant::mma_sm75);
  EXPECT_EQ(s.verdicts[3].variant, Variant::mma_sm70);
  EXPECT_EQ(s.verdicts[4].variant, Variant::generic);
}

// The reasons the selector gives for the tensor-core kernels it has.
constexpr const char* kWgmmaReason = "Hopper wgmma with TMA loads and warp specialization";
constexpr const char* kMma80Reason = "tensor cores through mma.sync m16n8k16 with a cp.async pipeline";
constexpr const char* kMma75Reason = "tensor cores through mma.sync m16n8k8";
constexpr const char* kGenericReason = "plain CUDA with fp32 FMA; runs on any compute capability >= 5.0";

// wgmma_sm90's architecture rule, as every other family hears it.
std::string wgmma_arch(int cc) {
  return "wgmma_sm90 needs compute capability 9.0 exactly (wgmma and setmaxnreg exist only in sm_90a), not sm_" +
         std::to_string(cc);
}

// Hopper runs its own kernel: wgmma_sm90 compiled for sm_90a, the first variant tried, so the reason
// names no variant passed over. The less capable variants could run it too.
TEST(Selector, HopperGetsWgmmaForF16) {
  const Selection s = selected(90, problem(DType::f16, 128, MaskKind::causal), nvrtc13());
  EXPECT_EQ(canonical_key(s.spec), "wgmma_sm90_sm90a_f16_d128_m128n128w12s3_causal");
  EXPECT_TRUE(s.spec.arch_specific);  // sm_90a: wgmma and setmaxnreg
  EXPECT_EQ(s.reason, kWgmmaReason);
  EXPECT_TRUE(verdict_for(s, Variant::wgmma_sm90).usable);
  EXPECT_EQ(verdict_for(s, Variant::wgmma_sm90).reason, kWgmmaReason);
  EXPECT_TRUE(verdict_for(s, Variant::mma_sm80).usable);
  EXPECT_EQ(verdict_for(s, Variant::mma_sm80).reason, kMma80Reason);
  EXPECT_TRUE(verdict_for(s, Variant::mma_sm75).usable);
  EXPECT_EQ(verdict_for(s, Variant::mma_sm75).reason, kMma75Reason);
  EXPECT_TRUE(verdict_for(s, Variant::generic).usable);
  EXPECT_EQ(verdict_for(s, Variant::generic).reason, kGenericReason);
}

TEST(Selector, HopperBf16AlsoGetsWgmma) {
  const Selection s = selected(90, problem(DType::bf16, 64), nvrtc13());
  EXPECT_EQ(canonical_key(s.spec), "wgmma_sm90_sm90a_bf16_d64_m128n192w12s2_none");
  EXPECT_EQ(s.reason, kWgmmaReason);
  EXPECT_EQ(verdict_for(s, Variant::mma_sm75).reason, "mma_sm75 computes f16 only, not bf16");
}

// wgmma_sm90 is generated for five head dims; at the others Hopper runs the Ampere kernel (mma.sync
// is still there on sm_90, compiled for plain sm_90), and the reason names the head dims wgmma takes.
TEST(Selector, HopperRunsMma80AtHeadDimsWgmmaIsNotGeneratedFor) {
  for (DType dtype : {DType::f16, DType::bf16}) {
    const Selection s = selected(90, problem(dtype, 80), nvrtc13());
    EXPECT_EQ(s.spec.variant, Variant::mma_sm80);
    EXPECT_FALSE(s.spec.arch_specific);  // plain sm_90: sm_90a is only for wgmma
    EXPECT_EQ(s.spec.head_dim, 80);
    EXPECT_EQ(s.reason, std::string(kMma80Reason) +
                            " (not wgmma_sm90: wgmma_sm90 is generated for head dims 64, "
                            "96, 128, 192 and 256, not 80)");
    EXPECT_FALSE(verdict_for(s, Variant::wgmma_sm90).usable);
  }
  for (int head_dim = 8; head_dim <= 256; head_dim += 8) {
    const bool wgmma = head_dim == 64 || head_dim == 96 || head_dim == 128 || head_dim == 192 || head_dim == 256;
    EXPECT_EQ(selected(90, problem(DType::f16, head_dim), nvrtc13()).spec.variant,
              wgmma ? Variant::wgmma_sm90 : Variant::mma_sm80)
        << "d" << head_dim;
  }
}

// Tensors TMA cannot address (runtime/tensor_map_request.h says why) go to mma_sm80, and the reason
// carries the layout problem so that a user can see what to fix.
TEST(Selector, HopperWithTensorsTmaCannotAddressRunsMma80) {
  const Selection s = selected(90, unaligned_problem(DType::bf16, 128), nvrtc13());
  EXPECT_EQ(canonical_key(s.spec), "mma_sm80_sm90_bf16_d128_m128n32w4s2_none");
  EXPECT_EQ(s.reason, std::string(kMma80Reason) +
                          " (not wgmma_sm90: TMA cannot address these tensors (q: the seq stride of 100 elements "
                          "(200 bytes) is not a positive multiple of 16 bytes))");
  EXPECT_FALSE(verdict_for(s, Variant::wgmma_sm90).usable);
  // The same problem with addressable tensors takes wgmma_sm90.
  EXPECT_EQ(selected(90, problem(DType::bf16, 128), nvrtc13()).spec.variant, Variant::wgmma_sm90);
}

// NVRTC 11.8 can compile for sm_90 but not sm_90a: Hopper then runs mma_sm80 and says which NVRTC
// would do.
// The loader's choice of NVRTC travels in the targets into the selection, forced or not; targets
// without one (a test's) leave it empty. The reason itself is the variant's.
// A decode-shaped KV call (at most one 64-row query tile per sequence and KV head, GQA-packed) takes
// the variant's first 64-row tile; a chunked prefill over the cache (more rows) keeps the 128-row
// default, as a problem without a cache does.
TEST(Selector, DecodeTakesA64RowTile) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::none};
  f.kv_cache = f.paged = true;
  auto kv = [&](int seqlen_q) {
    auto p = Problem::of_shape(f, ProblemShape{8, 8, 8, seqlen_q, 8192});
    EXPECT_TRUE(static_cast<bool>(p)) << llvm::toString(p.takeError());
    return *p;
  };
  EXPECT_EQ(canonical_key(selected(90, kv(4), nvrtc13()).spec), "mma_sm80_sm90_bf16_d128_m64n64w4s2_none_kvcache_paged");
  EXPECT_EQ(canonical_key(selected(90, kv(64), nvrtc13()).spec), "mma_sm80_sm90_bf16_d128_m64n64w4s2_none_kvcache_paged");
  EXPECT_EQ(canonical_key(selected(80, kv(4), nvrtc13()).spec), "mma_sm80_sm80_bf16_d128_m64n64w4s2_none_kvcache_paged");
  EXPECT_TRUE(contains(selected(90, kv(4), nvrtc13()).reason,
                       "; a 64-row tile: a decode's 4 query rows per KV head need no taller one"))
      << selected(90, kv(4), nvrtc13()).reason;
  EXPECT_EQ(selected(90, kv(65), nvrtc13()).spec.block_m, 128);
  EXPECT_FALSE(contains(selected(90, kv(65), nvrtc13()).reason, "row tile"));
  EXPECT_EQ(selected(80, problem(DType::bf16, 128), nvrtc13()).spec.block_m, 128);
  // Where no 64-row tile is preferred, the order is the variant's own (generic's f32 tiles).
  f.dtype = DType::f32;
  const KernelSpec generic = selected(90, kv(4), nvrtc13()).spec;
  EXPECT_EQ(generic.variant, Variant::generic);
  EXPECT_LE(generic.block_m, 64);
}

// Issue 15: Hopper runs the prefill over a KV cache that TMA loads tile by tile (pages of 64 keys and
// more, or a dense cache; dense or ragged queries) on wgmma_sm90; every other KV call runs on
// mma_sm80, and wgmma's verdict says why: a decode step, small pages, appended keys, or a call the
// heuristic splits on this GPU.
TEST(Selector, HopperRunsAPagedPrefillOnWgmmaAndSaysWhyNotOtherCacheCalls) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::causal};
  f.kv_cache = f.paged = true;
  auto kv = [&](const ProblemFeatures& features, ProblemShape shape) {
    auto p = Problem::of_shape(features, shape);
    EXPECT_TRUE(static_cast<bool>(p)) << llvm::toString(p.takeError());
    return *p;
  };
  const Selection prefill = selected(90, kv(f, {2, 32, 8, 1024, 8192, 64}), nvrtc13());
  EXPECT_EQ(canonical_key(prefill.spec).rfind("wgmma_sm90_sm90a_bf16_d128_m128", 0), 0u) << canonical_key(prefill.spec);
  EXPECT_EQ(prefill.reason, kWgmmaReason);
  ProblemFeatures dense = f;
  dense.paged = false;
  EXPECT_EQ(selected(90, kv(dense, {2, 32, 8, 1024, 8192}), nvrtc13()).spec.variant, Variant::wgmma_sm90);

  auto why_not = [&](const Problem& p) {
    const Selection s = selected(90, p, nvrtc13());
    EXPECT_EQ(s.spec.variant, Variant::mma_sm80);
    return verdict_for(s, Variant::wgmma_sm90).reason;
  };
  EXPECT_EQ(why_not(kv(f, {2, 32, 8, 1, 8192, 64})),
            "a decode step's 1 query row per KV head fill no 64-row wgmma tile: the decode path is mma_sm80's");
  EXPECT_EQ(why_not(kv(f, {2, 32, 8, 1024, 8192, 16})),
            "wgmma_sm90 loads K/V tiles by TMA from pages of at least 64 keys, not 16 (mma_sm80 reads smaller pages)");
  ProblemFeatures appending = f;
  appending.append = true;
  EXPECT_EQ(why_not(kv(appending, {2, 32, 8, 1024, 8192, 64, 4})), "wgmma_sm90 does not compute appended keys");
  // A chunked prefill (ragged queries) over the same pages runs on wgmma_sm90 too.
  ProblemFeatures ragged = f;
  ragged.ragged = true;
  EXPECT_EQ(selected(90, kv(ragged, {2, 32, 8, 1024, 8192, 64}), nvrtc13()).spec.variant, Variant::wgmma_sm90);

  // On a GPU whose SMs the call's tiles do not fill (4 query tiles of one sequence, 32k keys).
  DeviceDescription h200 = DeviceDescription::for_arch(90);
  h200.nominal = false;
  h200.sm_count = 132;
  auto split = select_variant(h200, kv(f, {1, 2, 1, 128, 32768, 64}), nvrtc13());
  ASSERT_TRUE(static_cast<bool>(split)) << llvm::toString(split.takeError());
  EXPECT_EQ(split->spec.variant, Variant::mma_sm80);
  EXPECT_TRUE(contains(verdict_for(*split, Variant::wgmma_sm90).reason,
                       "wgmma_sm90 does not split a cache's keys, and this call's sequences fill 132 SMs only split "))
      << verdict_for(*split, Variant::wgmma_sm90).reason;
  EXPECT_EQ(select_variant(h200, kv(f, {2, 32, 8, 1024, 8192, 64}), nvrtc13())->spec.variant, Variant::wgmma_sm90);
}

TEST(Selector, TheSelectionSaysWhichNvrtcCompilesIt) {
  CompilerTargets chosen = nvrtc12();
  chosen.choice = "NVRTC 12.4 (/opt/nvrtc/libnvrtc.so.12); passed over: NVRTC 13.0 targets sm_75..sm_121 only";
  const Problem p = flashjit::testing::problem_with(DType::f16, 64);
  const Selection selection = selected(61, p, chosen);
  EXPECT_EQ(selection.compiled_by, chosen.choice);
  EXPECT_EQ(selection.reason, selected(61, p, nvrtc12()).reason);
  EXPECT_EQ(selected(61, p, nvrtc12()).compiled_by, "");
  EXPECT_EQ(selected(61, p, chosen, Variant::generic).compiled_by, chosen.choice);
}

TEST(Selector, HopperWithNvrtc11RunsMma80) {
  const CompilerTargets nvrtc11{11, 8, {35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}};
  const Selection s = selected(90, problem(DType::f16, 128), nvrtc11);
  EXPECT_EQ(canonical_key(s.spec), "mma_sm80_sm90_f16_d128_m128n32w4s2_none");
  EXPECT_EQ(s.reason, std::string(kMma80Reason) +
                          " (not wgmma_sm90: NVRTC 11.8 cannot target sm_90a (CUDA 12.0 or newer can))");
  EXPECT_EQ(verdict_for(s, Variant::wgmma_sm90).reason, "NVRTC 11.8 cannot target sm_90a (CUDA 12.0 or newer can)");
  // A CUDA 12 NVRTC can.
  EXPECT_EQ(selected(90, problem(DType::f16, 128), nvrtc12()).spec.variant, Variant::wgmma_sm90);
}

// mma_sm75 computes f16 only: on Ampere bf16 goes to mma_sm80 (mma_sm75 says why it could not),
// and on Turing, where mma_sm80 cannot run, bf16 falls back to generic.
TEST(Selector, Mma75ComputesF16OnlySoBf16IsNotItsJob) {
  const Selection ampere = selected(80, problem(DType::bf16), nvrtc13());
  EXPECT_EQ(ampere.spec.variant, Variant::mma_sm80);
  EXPECT_EQ(ampere.spec.dtype, DType::bf16);
  EXPECT_FALSE(verdict_for(ampere, Variant::mma_sm75).usable);
  EXPECT_EQ(verdict_for(ampere, Variant::mma_sm75).reason, "mma_sm75 computes f16 only, not bf16");
  EXPECT_EQ(verdict_for(ampere, Variant::wgmma_sm90).reason, wgmma_arch(80));

  const Selection turing = selected(75, problem(DType::bf16), nvrtc13());
  EXPECT_EQ(turing.spec.variant, Variant::generic);
  EXPECT_EQ(canonical_key(turing.spec), "generic_sm75_bf16_d128_m32n32w4s1_none");
  EXPECT_EQ(turing.reason, std::string(kGenericReason) + " (not wgmma_sm90: " + wgmma_arch(75) +
                               "; mma_sm80: mma_sm80 needs compute capability 8.0 (Ampere) or newer, not sm_75; "
                               "mma_sm75: mma_sm75 computes f16 only, not bf16; mma_sm70: mma_sm70 computes f16 only, not "
                               "bf16 (Volta's tensor cores have no bf16))");
}

TEST(Selector, AmpereAndAdaGetMma80) {
  for (int cc : {80, 86, 89}) {
    for (DType dtype : {DType::f16, DType::bf16}) {
      const Selection s = selected(cc, problem(dtype), nvrtc13());
      EXPECT_EQ(s.spec.variant, Variant::mma_sm80) << cc;
      EXPECT_EQ(s.spec.arch, cc);
      EXPECT_EQ(s.spec.dtype, dtype);
      EXPECT_FALSE(s.spec.arch_specific);
      EXPECT_EQ(s.reason, std::string(kMma80Reason) + " (not wgmma_sm90: " + wgmma_arch(cc) + ")") << cc;
      EXPECT_TRUE(verdict_for(s, Variant::mma_sm80).usable) << cc;
      EXPECT_EQ(verdict_for(s, Variant::mma_sm75).usable, dtype == DType::f16) << cc;
    }
  }
}

TEST(Selector, TuringGetsMma75ForF16) {
  const Selection s = selected(75, problem(), nvrtc13());
  EXPECT_EQ(canonical_key(s.spec), "mma_sm75_sm75_f16_d128_m128n32w4s2_none");
  EXPECT_EQ(s.reason, std::string(kMma75Reason) + " (not wgmma_sm90: " + wgmma_arch(75) +
                          "; mma_sm80: mma_sm80 needs compute capability 8.0 (Ampere) or newer, not sm_75)");
  EXPECT_TRUE(verdict_for(s, Variant::mma_sm75).usable);
  EXPECT_EQ(verdict_for(s, Variant::mma_sm75).reason, kMma75Reason);
  EXPECT_EQ(verdict_for(s, Variant::mma_sm80).reason,
            "mma_sm80 needs compute capability 8.0 (Ampere) or newer, not sm_75");
  EXPECT_EQ(verdict_for(s, Variant::wgmma_sm90).reason, wgmma_arch(75));
}

constexpr const char* kMma70Reason = "Volta tensor cores through mma.sync m8n8k4";

// Volta's tensor cores (m8n8k4) run f16 through mma_sm70 with a CUDA 12 NVRTC that can compile for
// it (V100 is sm_70, Xavier sm_72); mma_sm75 says why it cannot.
TEST(Selector, VoltaWithCuda12RunsMma70ForF16) {
  for (int cc : {70, 72}) {
    const Selection s = selected(cc, problem(DType::f16, 64), nvrtc12());
    EXPECT_EQ(canonical_key(s.spec), "mma_sm70_sm" + std::to_string(cc) + "_f16_d64_m128n64w4s2_none");
    EXPECT_TRUE(verdict_for(s, Variant::mma_sm70).usable);
    EXPECT_EQ(verdict_for(s, Variant::mma_sm75).reason,
              "mma_sm75 needs compute capability 7.5 (Turing) or newer, not sm_" + std::to_string(cc) +
                  " (mma.m16n8k8 and ldmatrix start at sm_75; Volta's m8n8k4 tensor cores are mma_sm70's)");
    EXPECT_EQ(s.reason.rfind(std::string(kMma70Reason) + " (not wgmma_sm90: ", 0), 0u) << s.reason;
    EXPECT_TRUE(contains(s.reason, "mma_sm75: mma_sm75 needs compute capability 7.5 (Turing) or newer")) << s.reason;
    EXPECT_TRUE(contains(s.reason, "mma_sm80: mma_sm80 needs compute capability 8.0 (Ampere) or newer")) << s.reason;
  }
  EXPECT_EQ(canonical_key(selected(70, problem(DType::f16, 256, MaskKind::causal), nvrtc12()).spec),
            "mma_sm70_sm70_f16_d256_m64n32w4s2_causal");
}

// Volta has no bf16 tensor cores (and no tensor core computes f32): generic, and mma_sm70 says why.
TEST(Selector, VoltaRunsGenericForBf16AndF32) {
  const Selection bf16 = selected(70, problem(DType::bf16), nvrtc12());
  EXPECT_EQ(bf16.spec.variant, Variant::generic);
  EXPECT_EQ(verdict_for(bf16, Variant::mma_sm70).reason,
            "mma_sm70 computes f16 only, not bf16 (Volta's tensor cores have no bf16)");
  EXPECT_TRUE(contains(bf16.reason, "mma_sm70: mma_sm70 computes f16 only, not bf16 (Volta's tensor cores have no bf16)"))
      << bf16.reason;
  const Selection f32 = selected(70, problem(DType::f32), nvrtc12());
  EXPECT_EQ(f32.spec.variant, Variant::generic);
  EXPECT_EQ(verdict_for(f32, Variant::mma_sm70).reason, "mma_sm70 computes f16 only, not f32");
}

// m8n8k4 runs on every newer GPU (slower than m16n8k8 on Turing, emulated on the CUDA cores from
// sm_80 on), so the selector never takes mma_sm70 there by itself, even for f16 where it would run;
// the verdict says it runs only when forced.
TEST(Selector, Mma70IsNeverChosenPastVolta) {
  for (int cc : {75, 80, 86, 89, 90, 100, 120}) {
    const Selection s = selected(cc, problem(DType::f16, 64), nvrtc13());
    EXPECT_NE(s.spec.variant, Variant::mma_sm70) << cc;
    const VariantVerdict& v = verdict_for(s, Variant::mma_sm70);
    EXPECT_FALSE(v.usable) << cc;
    EXPECT_TRUE(v.forcible) << cc;
    EXPECT_TRUE(contains(v.reason, "mma_sm70 is chosen on Volta only (sm_70, sm_72), not sm_" + std::to_string(cc)))
        << v.reason;
  }
  // Where it could not run even when forced, it is not forcible either.
  const Selection bf16 = selected(90, problem(DType::bf16), nvrtc13());
  EXPECT_FALSE(verdict_for(bf16, Variant::mma_sm70).forcible);
  EXPECT_FALSE(verdict_for(selected(61, problem(), nvrtc12()), Variant::mma_sm70).forcible);
}

// Forced on a newer GPU (how a test runs the Volta kernel on Hopper) it is the Volta kernel compiled
// for that GPU, and the reason says the selector would not have chosen it.
TEST(Selector, ForcedMma70RunsOnNewerGpus) {
  for (int cc : {75, 80, 90}) {
    const Selection s = selected(cc, problem(DType::f16, 64), nvrtc13(), Variant::mma_sm70);
    EXPECT_EQ(s.spec.variant, Variant::mma_sm70) << cc;
    EXPECT_EQ(s.spec.arch, cc);
    EXPECT_EQ(s.reason.rfind(std::string("forced by options: ") + kMma70Reason +
                                 " (mma_sm70 is chosen on Volta only (sm_70, sm_72), not sm_" + std::to_string(cc),
                             0),
              0u)
        << s.reason;
  }
  const Selection volta = selected(70, problem(DType::f16, 64), nvrtc12(), Variant::mma_sm70);
  EXPECT_EQ(volta.reason, std::string("forced by options: ") + kMma70Reason);
  EXPECT_EQ(selection_error(61, problem(), nvrtc12(), Variant::mma_sm70),
            "forced variant mma_sm70 cannot run on nominal sm_61: mma_sm70 needs compute capability 7.0 (Volta) or "
            "newer, not sm_61 (mma.m8n8k4 starts at sm_70)");
  EXPECT_EQ(selection_error(90, problem(DType::bf16), nvrtc13(), Variant::mma_sm70),
            "forced variant mma_sm70 cannot run on nominal sm_90: mma_sm70 computes f16 only, not bf16 (Volta's "
            "tensor cores have no bf16)");
}

TEST(Selector, VoltaWithNvrtc13NeedsCuda12) {
  const std::string message = selection_error(70, problem(), nvrtc13());
  EXPECT_TRUE(contains(message, "sm_70 (Volta)")) << message;
  EXPECT_TRUE(contains(message, "CUDA 12.x")) << message;
}

TEST(Selector, MaxwellAndPascalRunGenericWithCuda12) {
  for (int cc : {52, 61}) {
    const Selection s = selected(cc, problem(), nvrtc12());
    EXPECT_EQ(s.spec.variant, Variant::generic) << cc;
    EXPECT_EQ(s.spec.arch, cc);
    EXPECT_TRUE(contains(verdict_for(s, Variant::mma_sm75).reason, "needs compute capability 7.5"))
        << verdict_for(s, Variant::mma_sm75).reason;
    EXPECT_TRUE(contains(verdict_for(s, Variant::mma_sm80).reason, "needs compute capability 8.0"));
    EXPECT_TRUE(contains(verdict_for(s, Variant::wgmma_sm90).reason, "needs compute capability 9.0"));
  }
}

TEST(Selector, PascalWithNvrtc13ExplainsWhatWouldWork) {
  const std::string message = selection_error(61, problem(), nvrtc13());
  EXPECT_TRUE(contains(message, "sm_61")) << message;
  EXPECT_TRUE(contains(message, "Pascal")) << message;
  EXPECT_TRUE(contains(message, "NVRTC 13.0")) << message;
  EXPECT_TRUE(contains(message, "sm_75..sm_121")) << message;
  EXPECT_TRUE(contains(message, "an NVRTC from CUDA 12.x (which targets sm_50..sm_90) can compile for it"))
      << message;
  EXPECT_EQ(message.rfind("no kernel can be compiled for nominal sm_61: the GPU is sm_61 (Pascal)", 0), 0u)
      << message;
}

// Blackwell (data-center sm_100 and consumer sm_120) still has mma.sync, so it runs mma_sm80;
// wgmma_sm90 is passed over because it is for sm_90a only.
TEST(Selector, BlackwellRunsMma80) {
  for (int cc : {100, 120}) {
    const Selection s = selected(cc, problem(DType::bf16, 64), nvrtc13());
    EXPECT_EQ(canonical_key(s.spec), "mma_sm80_sm" + std::to_string(cc) + "_bf16_d64_m128n64w4s2_none");
    EXPECT_EQ(s.reason, std::string(kMma80Reason) + " (not wgmma_sm90: " + wgmma_arch(cc) + ")");
    EXPECT_TRUE(verdict_for(s, Variant::mma_sm80).usable) << cc;
  }
  // A CUDA 12.4 NVRTC cannot target Blackwell.
  const std::string message = selection_error(100, problem(), nvrtc12());
  EXPECT_TRUE(contains(message, "a newer CUDA toolkit's NVRTC is needed")) << message;
}

TEST(Selector, PreMaxwellIsRejectedWithTheReason) {
  for (const CompilerTargets& targets : {nvrtc12(), nvrtc13()}) {
    const std::string message = selection_error(35, problem(), targets);
    EXPECT_EQ(message.rfind("no kernel can be compiled for nominal sm_35: the GPU is sm_35 (pre-Maxwell)", 0), 0u)
        << message;
    EXPECT_TRUE(contains(message, "no current CUDA toolkit supports GPUs older than Maxwell")) << message;
  }
  // Even a compiler that could target it would not help: the generic variant needs 5.0.
  const CompilerTargets ancient{11, 0, {35, 37, 50, 52, 60, 61, 70, 75, 80, 86}};
  const std::string message = selection_error(35, problem(), ancient);
  EXPECT_TRUE(contains(message, "no kernel variant can run f16 head_dim 128 on nominal sm_35: "))
      << message;
  EXPECT_TRUE(contains(message, "generic: generic needs compute capability 5.0 or newer, not sm_35"))
      << message;
}

TEST(Selector, ARealDeviceIsNamedWithItsArchitecture) {
  DeviceDescription h100 = DeviceDescription::for_arch(90);
  h100.name = "NVIDIA H100 80GB HBM3";
  h100.nominal = false;
  const Problem unaligned = flashjit::testing::problem_of_call(
      {DType::f16, 128, MaskKind::none}, [](AttentionArgs& a) { a.k.data = reinterpret_cast<const void*>(0x1008); });
  auto s = select_variant(h100, unaligned, nvrtc13(), Variant::wgmma_sm90);
  ASSERT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(flashjit::testing::message_of(s.takeError(), ErrorCode::invalid_argument),
            "forced variant wgmma_sm90 cannot run on NVIDIA H100 80GB HBM3 (sm_90): TMA cannot address these "
            "tensors (k: the base address 0x0000000000001008 is not 16-byte aligned)");

  DeviceDescription t4 = DeviceDescription::for_arch(75);
  t4.name = "Tesla T4";
  t4.nominal = false;
  auto t = select_variant(t4, problem(), nvrtc13(), Variant::mma_sm80);
  ASSERT_FALSE(static_cast<bool>(t));
  EXPECT_EQ(flashjit::testing::message_of(t.takeError(), ErrorCode::invalid_argument),
            "forced variant mma_sm80 cannot run on Tesla T4 (sm_75): mma_sm80 needs compute capability 8.0 "
            "(Ampere) or newer, not sm_75");
}

// No tensor-core variant computes f32: every family runs generic, and the reason names each
// tensor-core variant's dtype rule (or, below sm_90, wgmma_sm90's architecture rule).
TEST(Selector, F32AlwaysGoesToGeneric) {
  for (int cc : {75, 80, 89, 90, 100}) {
    const Selection s = selected(cc, problem(DType::f32), nvrtc13());
    EXPECT_EQ(s.spec.variant, Variant::generic) << cc;
    EXPECT_EQ(s.spec.dtype, DType::f32);
    EXPECT_EQ(s.reason.rfind(kGenericReason, 0), 0u) << s.reason;
    EXPECT_TRUE(contains(s.reason, "mma_sm75: mma_sm75 computes f16 only, not f32; mma_sm70: mma_sm70 computes f16 "
                                   "only, not f32)"))
        << s.reason;
    if (cc >= 80) {
      EXPECT_TRUE(contains(s.reason, "mma_sm80: mma_sm80 computes f16 and bf16, not f32;")) << s.reason;
    }
  }
  const Selection h = selected(90, problem(DType::f32), nvrtc13());
  EXPECT_EQ(verdict_for(h, Variant::wgmma_sm90).reason, "wgmma_sm90 computes f16 and bf16, not f32");
  EXPECT_EQ(verdict_for(h, Variant::mma_sm80).reason, "mma_sm80 computes f16 and bf16, not f32");
  EXPECT_EQ(verdict_for(h, Variant::mma_sm75).reason, "mma_sm75 computes f16 only, not f32");
  EXPECT_EQ(h.reason, std::string(kGenericReason) +
                          " (not wgmma_sm90: wgmma_sm90 computes f16 and bf16, not f32; mma_sm80: mma_sm80 "
                          "computes f16 and bf16, not f32; mma_sm75: mma_sm75 computes f16 only, not f32; mma_sm70: "
                          "mma_sm70 computes f16 only, not f32)");
  const Selection p = selected(61, problem(DType::f32), nvrtc12());
  EXPECT_EQ(p.spec.variant, Variant::generic);
}

// Only the features matter (doctor, run's JIT check): the selector's answer for a contiguous problem
// with them, and the problem's own error for features no problem can have.
TEST(Selector, ForFeaturesAloneIsTheContiguousProblemsChoice) {
  auto s = select_for_features(DeviceDescription::for_arch(90), {DType::bf16, 128, MaskKind::causal}, nvrtc13());
  ASSERT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
  EXPECT_EQ(canonical_key(s->spec), canonical_key(selected(90, problem(DType::bf16, 128, MaskKind::causal), nvrtc13()).spec));
  EXPECT_EQ(flashjit::testing::message_of(
                select_for_features(DeviceDescription::for_arch(90), {DType::f16, 100, MaskKind::none}, nvrtc13()),
                ErrorCode::invalid_argument),
            "head_dim 100 is not a multiple of 8");
}

// ---- forced variants -----------------------------------------------------------------------------

TEST(Selector, ForcedGenericIsUsedWithTheForcedReason) {
  // On Hopper the selector would take wgmma_sm90; forcing generic overrides it.
  const Selection s = selected(90, problem(), nvrtc13(), Variant::generic);
  EXPECT_EQ(s.spec.variant, Variant::generic);
  EXPECT_EQ(canonical_key(s.spec), "generic_sm90_f16_d128_m32n32w4s1_none");
  EXPECT_EQ(s.reason, std::string("forced by options: ") + kGenericReason);
}

// mma_sm75 is the Turing kernel, but m16n8k8 runs on every newer GPU: forcing it there (as the GPU
// tests do on Hopper) gives the Turing kernel compiled for that device.
TEST(Selector, ForcedMma75RunsOnNewerGpus) {
  for (int cc : {80, 86, 90, 120}) {
    const Selection s = selected(cc, problem(DType::f16, 64), nvrtc13(), Variant::mma_sm75);
    EXPECT_EQ(canonical_key(s.spec), "mma_sm75_sm" + std::to_string(cc) + "_f16_d64_m128n64w4s2_none");
    EXPECT_EQ(s.reason, std::string("forced by options: ") + kMma75Reason);
  }
  EXPECT_EQ(selection_error(80, problem(DType::bf16), nvrtc13(), Variant::mma_sm75),
            "forced variant mma_sm75 cannot run on nominal sm_80: mma_sm75 computes f16 only, not bf16");
  EXPECT_EQ(selection_error(90, problem(DType::f32), nvrtc13(), Variant::mma_sm80),
            "forced variant mma_sm80 cannot run on nominal sm_90: mma_sm80 computes f16 and bf16, not f32");
}

TEST(Selector, ForcedVariantTheDeviceCannotRunIsAnError) {
  const std::string turing = selection_error(75, problem(), nvrtc13(), Variant::mma_sm80);
  EXPECT_EQ(turing,
            "forced variant mma_sm80 cannot run on nominal sm_75: mma_sm80 needs compute "
            "capability 8.0 (Ampere) or newer, not sm_75");
  EXPECT_EQ(selection_error(61, problem(), nvrtc12(), Variant::wgmma_sm90),
            "forced variant wgmma_sm90 cannot run on nominal sm_61: " + wgmma_arch(61));
}

// Forcing wgmma_sm90 on Hopper runs it where it can, and otherwise says why not, without falling back.
TEST(Selector, ForcedWgmmaOnHopperRunsOrSaysWhyNot) {
  const Selection s = selected(90, problem(DType::bf16, 256), nvrtc13(), Variant::wgmma_sm90);
  EXPECT_EQ(canonical_key(s.spec), "wgmma_sm90_sm90a_bf16_d256_m128n64w12s2_none");
  EXPECT_EQ(s.reason, std::string("forced by options: ") + kWgmmaReason);

  // Allowed by the architecture, but not for tensors TMA cannot address.
  EXPECT_EQ(selection_error(90, unaligned_problem(), nvrtc13(), Variant::wgmma_sm90),
            "forced variant wgmma_sm90 cannot run on nominal sm_90: TMA cannot address these tensors (q: the seq "
            "stride of 100 elements (200 bytes) is not a positive multiple of 16 bytes)");
  // Nor at a head dim it is not generated for.
  EXPECT_EQ(selection_error(90, problem(DType::f16, 80), nvrtc13(), Variant::wgmma_sm90),
            "forced variant wgmma_sm90 cannot run on nominal sm_90: wgmma_sm90 is "
            "generated for head dims 64, 96, 128, 192 and 256, not 80");
}

// ---- default tiles -------------------------------------------------------------------------------

std::string default_key(Variant variant, int cc, const Problem& p) {
  auto s = default_spec(variant, DeviceDescription::for_arch(cc), p);
  if (!s) {
    ADD_FAILURE() << variant_name(variant) << " sm_" << cc << ": " << llvm::toString(s.takeError());
    return "";
  }
  return canonical_key(*s);
}

// The generic kernel's fallback tile: it is what runs on pre-Turing parts and for f32 everywhere.
TEST(DefaultSpec, HeadDim256ShrinksTheQueryTileOnSmallSharedMemory) {
  // 48 KB parts (Maxwell, Pascal) fit only an 8-row tile at d=256; Turing's 64 KB fits 16 rows.
  auto generic_block_m = [](int cc, int head_dim) {
    auto s = default_spec(Variant::generic, DeviceDescription::for_arch(cc), problem(DType::f16, head_dim));
    if (!s) {
      ADD_FAILURE() << "sm_" << cc << ": " << llvm::toString(s.takeError());
      return 0;
    }
    return s->block_m;
  };
  EXPECT_EQ(generic_block_m(52, 256), 8);
  EXPECT_EQ(generic_block_m(61, 256), 8);
  EXPECT_EQ(generic_block_m(75, 256), 16);
  EXPECT_EQ(generic_block_m(80, 256), 32);
  EXPECT_EQ(generic_block_m(90, 256), 32);
  // Smaller head dims keep the full tile even on 48 KB.
  EXPECT_EQ(generic_block_m(61, 128), 32);
  // What the selector runs where generic is the choice: f32, Pascal, Turing bf16.
  EXPECT_EQ(selected(75, problem(DType::f32, 256), nvrtc13()).spec.block_m, 16);
  EXPECT_EQ(selected(75, problem(DType::bf16, 256), nvrtc13()).spec.block_m, 16);
  EXPECT_EQ(selected(61, problem(DType::f16, 256), nvrtc12()).spec.block_m, 8);
}

// The tensor-core defaults per device at the head dims that matter most. 128 query rows where they
// fit; at d=256 the 99 KB parts (sm_86, sm_89) and Turing's 64 KB take smaller tiles, while Hopper's
// 227 KB keeps the full one. A100 keeps 128 rows at d=256 with 32-key tiles and 8 warps, as do the
// 99 KB parts at d=136 (at d=256 they take 64x32). At d=128 two 16-row tiles per warp fit the registers only with 32-key
// tiles (2 * (16 + 64) = 160 accumulators), which every device takes (Turing exactly fills 64 KB).
TEST(DefaultSpec, TensorCoreTilesPerDevice) {
  struct Case {
    Variant variant;
    int cc;
    int head_dim;
    const char* key;
  };
  const Case cases[] = {
      {Variant::mma_sm80, 80, 64, "mma_sm80_sm80_f16_d64_m128n64w4s2_none"},
      {Variant::mma_sm80, 80, 128, "mma_sm80_sm80_f16_d128_m128n32w4s2_none"},
      {Variant::mma_sm80, 80, 256, "mma_sm80_sm80_f16_d256_m128n32w8s2_none"},
      {Variant::mma_sm80, 86, 64, "mma_sm80_sm86_f16_d64_m128n64w4s2_none"},
      {Variant::mma_sm80, 86, 128, "mma_sm80_sm86_f16_d128_m128n32w4s2_none"},
      {Variant::mma_sm80, 86, 256, "mma_sm80_sm86_f16_d256_m64n32w4s2_none"},
      {Variant::mma_sm80, 89, 136, "mma_sm80_sm89_f16_d136_m128n32w8s2_none"},
      {Variant::mma_sm80, 89, 256, "mma_sm80_sm89_f16_d256_m64n32w4s2_none"},
      {Variant::mma_sm80, 90, 64, "mma_sm80_sm90_f16_d64_m128n64w4s2_none"},
      {Variant::mma_sm80, 90, 128, "mma_sm80_sm90_f16_d128_m128n32w4s2_none"},
      {Variant::mma_sm80, 90, 256, "mma_sm80_sm90_f16_d256_m128n64w8s2_none"},
      {Variant::mma_sm75, 75, 64, "mma_sm75_sm75_f16_d64_m128n64w4s2_none"},
      {Variant::mma_sm75, 75, 128, "mma_sm75_sm75_f16_d128_m128n32w4s2_none"},
      {Variant::mma_sm75, 75, 192, "mma_sm75_sm75_f16_d192_m64n16w4s2_none"},
      {Variant::mma_sm75, 75, 256, "mma_sm75_sm75_f16_d256_m64n16w4s2_none"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(default_key(c.variant, c.cc, problem(DType::f16, c.head_dim)), c.key);
  // The selector's choice is that default.
  EXPECT_EQ(canonical_key(selected(86, problem(DType::bf16, 256, MaskKind::causal), nvrtc13()).spec),
            "mma_sm80_sm86_bf16_d256_m64n32w4s2_causal");
  EXPECT_EQ(canonical_key(selected(75, problem(DType::f16, 256, MaskKind::causal), nvrtc13()).spec),
            "mma_sm75_sm75_f16_d256_m64n16w4s2_causal");
}

// For every head dim the tensor-core variants serve and both masks, the default is the first of the
// variant's preferred tiles that passes spec validation on that device (so within its opt-in shared
// memory and the register budget), and keeps the problem's fields.
TEST(DefaultSpec, TensorCoreDefaultsFitEveryHeadDimAndMask) {
  struct Target {
    Variant variant;
    int cc;
    std::vector<DType> dtypes;
  };
  const Target targets[] = {{Variant::mma_sm80, 80, {DType::f16, DType::bf16}},
                            {Variant::mma_sm80, 86, {DType::f16, DType::bf16}},
                            {Variant::mma_sm80, 89, {DType::f16, DType::bf16}},
                            {Variant::mma_sm80, 90, {DType::f16, DType::bf16}},
                            {Variant::mma_sm80, 100, {DType::f16, DType::bf16}},
                            {Variant::mma_sm80, 120, {DType::f16, DType::bf16}},
                            {Variant::mma_sm75, 75, {DType::f16}}};
  for (const Target& t : targets) {
    const DeviceDescription device = DeviceDescription::for_arch(t.cc);
    for (DType dtype : t.dtypes) {
      for (MaskKind mask : {MaskKind::none, MaskKind::causal}) {
        for (int head_dim = 8; head_dim <= 256; head_dim += 8) {
          const Problem p = problem(dtype, head_dim, mask);
          auto s = default_spec(t.variant, device, p);
          ASSERT_TRUE(static_cast<bool>(s)) << variant_name(t.variant) << " sm_" << t.cc << " d" << head_dim << ": "
                                            << llvm::toString(s.takeError());
          const std::string key = canonical_key(*s);
          EXPECT_EQ(s->variant, t.variant) << key;
          EXPECT_EQ(s->arch, t.cc) << key;
          EXPECT_FALSE(s->arch_specific) << key;
          EXPECT_EQ(s->dtype, dtype) << key;
          EXPECT_EQ(s->head_dim, head_dim) << key;
          EXPECT_EQ(s->mask, mask) << key;
          EXPECT_TRUE(spec_problems(*s, device).empty()) << key;
          EXPECT_LE(shared_memory_bytes(*s), device.smem_per_block_optin) << key;
          // Two stages everywhere: no device needs the one-stage last resort at any head dim.
          EXPECT_EQ(s->stages, 2) << key;

          // The first preferred tile that fits, and every tile before it does not.
          bool found = false;
          for (const KernelSpec& tile : rules_for(t.variant).preferred_tiles(*s)) {
            if (tile == *s) {
              found = true;
              break;
            }
            EXPECT_FALSE(spec_problems(tile, device).empty())
                << canonical_key(tile) << " fits but " << key << " was chosen";
          }
          EXPECT_TRUE(found) << key << " is not among the preferred tiles";
        }
      }
    }
  }
}

// What the selector runs, for every family, storage type, head dim and mask: the expected variant
// (wgmma_sm90 on Hopper at the head dims it is generated for; mma_sm80 from sm_80 up otherwise;
// mma_sm75 for f16 on Turing; mma_sm70 for f16 on Volta; generic for f32, Volta and Turing bf16
// and everything older), with a tile valid on that device.
TEST(DefaultSpec, StaysWithinTheOptInSharedMemoryEverywhere) {
  struct Device {
    int cc;
    CompilerTargets targets;
  };
  auto expected_variant = [](int cc, DType dtype, int head_dim) {
    if (dtype == DType::f32 || cc < 70) return Variant::generic;
    if (cc < 75) return dtype == DType::f16 ? Variant::mma_sm70 : Variant::generic;
    const bool wgmma_head_dim =
        head_dim == 64 || head_dim == 96 || head_dim == 128 || head_dim == 192 || head_dim == 256;
    if (cc == 90 && wgmma_head_dim) return Variant::wgmma_sm90;
    if (cc >= 80) return Variant::mma_sm80;
    return dtype == DType::f16 ? Variant::mma_sm75 : Variant::generic;
  };
  const Device devices[] = {{52, nvrtc12()},  {61, nvrtc12()},  {70, nvrtc12()}, {75, nvrtc13()},
                            {80, nvrtc13()},  {86, nvrtc13()},  {89, nvrtc13()}, {90, nvrtc13()},
                            {100, nvrtc13()}, {120, nvrtc13()}};
  for (const Device& d : devices) {
    const DeviceDescription device = DeviceDescription::for_arch(d.cc);
    for (DType dtype : {DType::f32, DType::f16, DType::bf16}) {
      for (MaskKind mask : {MaskKind::none, MaskKind::causal}) {
        for (int head_dim = 8; head_dim <= 256; head_dim += 8) {
          auto s = select_variant(device, problem(dtype, head_dim, mask), d.targets);
          ASSERT_TRUE(static_cast<bool>(s)) << "sm_" << d.cc << " d" << head_dim << ": "
                                            << llvm::toString(s.takeError());
          const std::string key = canonical_key(s->spec);
          EXPECT_EQ(s->spec.variant, expected_variant(d.cc, dtype, head_dim)) << key;
          EXPECT_EQ(s->spec.arch_specific, s->spec.variant == Variant::wgmma_sm90) << key;
          EXPECT_LE(shared_memory_bytes(s->spec), device.smem_per_block_optin) << key;
          EXPECT_TRUE(spec_problems(s->spec, device).empty()) << key;
          EXPECT_EQ(s->spec.head_dim, head_dim);
          EXPECT_EQ(s->spec.dtype, dtype);
          EXPECT_EQ(s->spec.mask, mask);
          if (s->spec.variant == Variant::generic) {
            // The generic defaults vary only the query rows.
            EXPECT_EQ(s->spec.block_n, 32) << key;
            EXPECT_EQ(s->spec.warps, 4) << key;
            EXPECT_EQ(s->spec.stages, 1) << key;
          }
          if (s->spec.variant == Variant::wgmma_sm90) {
            // A producer warpgroup and one consumer warpgroup per 64 query rows.
            EXPECT_EQ(s->spec.warps, 4 * (1 + s->spec.block_m / 64)) << key;
          }
        }
      }
    }
  }
}

// wgmma_sm90's defaults on Hopper, FlashAttention-3's shapes: two consumer warpgroups (128 query
// rows, 12 warps) everywhere; 192-key tiles where the accumulators fit (d 64), 128-key tiles with a
// third stage at d 96 (O spans 128 columns) and 128, 64-key tiles where O takes most registers (d 192, 256; three stages only
// where 227 KB holds them). Each is the first preferred tile that passes validation, for both dtypes
// and masks.
TEST(DefaultSpec, WgmmaTilesPerHeadDim) {
  struct Case {
    int head_dim;
    const char* key;
  };
  const Case cases[] = {{64, "wgmma_sm90_sm90a_f16_d64_m128n192w12s2_none"},
                        {96, "wgmma_sm90_sm90a_f16_d96_m128n128w12s3_none"},
                        {128, "wgmma_sm90_sm90a_f16_d128_m128n128w12s3_none"},
                        {192, "wgmma_sm90_sm90a_f16_d192_m128n64w12s3_none"},
                        {256, "wgmma_sm90_sm90a_f16_d256_m128n64w12s2_none"}};
  for (const Case& c : cases)
    EXPECT_EQ(default_key(Variant::wgmma_sm90, 90, problem(DType::f16, c.head_dim)), c.key);

  const DeviceDescription hopper = DeviceDescription::for_arch(90);
  for (const Case& c : cases)
    for (DType dtype : {DType::f16, DType::bf16})
      for (MaskKind mask : {MaskKind::none, MaskKind::causal}) {
        auto s = default_spec(Variant::wgmma_sm90, hopper, problem(dtype, c.head_dim, mask));
        ASSERT_TRUE(static_cast<bool>(s)) << "d" << c.head_dim << ": " << llvm::toString(s.takeError());
        const std::string key = canonical_key(*s);
        EXPECT_TRUE(s->arch_specific) << key;
        EXPECT_EQ(s->dtype, dtype) << key;
        EXPECT_EQ(s->mask, mask) << key;
        EXPECT_TRUE(spec_problems(*s, hopper).empty()) << key;
        bool found = false;
        for (const KernelSpec& tile : rules_for(Variant::wgmma_sm90).preferred_tiles(*s)) {
          if (tile == *s) {
            found = true;
            break;
          }
          EXPECT_FALSE(spec_problems(tile, hopper).empty()) << canonical_key(tile) << " fits but " << key
                                                            << " was chosen";
        }
        EXPECT_TRUE(found) << key << " is not among the preferred tiles";
      }
}

// At a head dim wgmma_sm90 is not generated for, no preferred tile fits, and the error says why.
TEST(DefaultSpec, WgmmaHasNoTileAtOtherHeadDims) {
  auto s = default_spec(Variant::wgmma_sm90, DeviceDescription::for_arch(90), problem(DType::f16, 80));
  ASSERT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(flashjit::testing::message_of(s.takeError(), ErrorCode::unsupported),
            "wgmma_sm90 is generated for head dims 64, 96, 128, 192 and 256, not 80");
}

// A forced variant the device or dtype rules out has no default tile, and the error says why.
TEST(DefaultSpec, TensorCoreVariantsRefuseWhatTheyCannotCompute) {
  auto error_of = [](Variant v, int cc, DType dtype) {
    auto s = default_spec(v, DeviceDescription::for_arch(cc), problem(dtype));
    if (s) {
      ADD_FAILURE() << canonical_key(*s) << " was unexpectedly a default";
      return std::string();
    }
    return flashjit::testing::message_of(s.takeError(), ErrorCode::unsupported);
  };
  EXPECT_EQ(error_of(Variant::mma_sm80, 75, DType::f16),
            "mma_sm80 needs compute capability 8.0 (Ampere) or newer, not sm_75");
  EXPECT_EQ(error_of(Variant::mma_sm80, 90, DType::f32), "mma_sm80 computes f16 and bf16, not f32");
  EXPECT_EQ(error_of(Variant::mma_sm75, 75, DType::bf16), "mma_sm75 computes f16 only, not bf16");
  EXPECT_EQ(error_of(Variant::wgmma_sm90, 89, DType::f16), wgmma_arch(89));
  EXPECT_EQ(error_of(Variant::wgmma_sm90, 90, DType::f32), "wgmma_sm90 computes f16 and bf16, not f32");
}

TEST(JudgeVariant, GenericOnPascalDependsOnTheCompiler) {
  const DeviceDescription pascal = DeviceDescription::for_arch(61);
  const VariantVerdict with12 = judge_variant(Variant::generic, pascal, problem(), nvrtc12());
  EXPECT_TRUE(with12.usable) << with12.reason;
  const VariantVerdict with13 = judge_variant(Variant::generic, pascal, problem(), nvrtc13());
  EXPECT_FALSE(with13.usable);
  EXPECT_TRUE(contains(with13.reason, "the GPU is sm_61 (Pascal) but NVRTC 13.0 targets sm_75..sm_121 only"))
      << with13.reason;
}

}  // namespace
}  // namespace flashjit::gen
