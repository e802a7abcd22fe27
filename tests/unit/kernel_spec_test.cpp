// KernelSpec: the canonical key, the target name, and every reason spec validation gives.
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "helpers/errors.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "problem/problem_shape.h"

namespace flashjit::gen {
namespace {

KernelSpec generic_spec(int arch = 90) {
  KernelSpec s;
  s.variant = Variant::generic;
  s.arch = arch;
  s.dtype = DType::f16;
  s.head_dim = 128;
  s.block_m = 32;
  s.block_n = 32;
  s.warps = 4;
  s.stages = 1;
  s.mask = MaskKind::none;
  return s;
}

bool has_problem_containing(const std::vector<std::string>& problems, const std::string& text) {
  for (const std::string& p : problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

std::string joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const std::string& p : problems) out += "[" + p + "] ";
  return out;
}

// The validate_spec error text, or a test failure if the spec is valid.
std::string validation_error(const KernelSpec& spec, const DeviceDescription& device) {
  llvm::Error err = validate_spec(spec, device);
  if (!err) {
    ADD_FAILURE() << canonical_key(spec) << " was expected to be invalid";
    return "";
  }
  return flashjit::testing::message_of(std::move(err), ErrorCode::unsupported);
}

TEST(KernelSpecKey, HasTheDocumentedFormat) {
  KernelSpec s = generic_spec();
  s.mask = MaskKind::causal;
  EXPECT_EQ(canonical_key(s), "generic_sm90_f16_d128_m32n32w4s1_causal");
  s.mask = MaskKind::none;
  EXPECT_EQ(canonical_key(s), "generic_sm90_f16_d128_m32n32w4s1_none");
}

TEST(KernelSpecKey, NamesEveryField) {
  KernelSpec s;
  s.variant = Variant::wgmma_sm90;
  s.arch = 90;
  s.arch_specific = true;
  s.dtype = DType::bf16;
  s.head_dim = 64;
  s.block_m = 128;
  s.block_n = 96;
  s.warps = 8;
  s.stages = 3;
  s.mask = MaskKind::causal;
  EXPECT_EQ(canonical_key(s), "wgmma_sm90_sm90a_bf16_d64_m128n96w8s3_causal");

  KernelSpec t = generic_spec(61);
  t.dtype = DType::f32;
  t.head_dim = 256;
  t.block_m = 8;
  EXPECT_EQ(canonical_key(t), "generic_sm61_f32_d256_m8n32w4s1_none");
}

TEST(KernelSpecKey, IsStableAndDistinguishesSpecs) {
  const KernelSpec a = generic_spec();
  KernelSpec b = generic_spec();
  EXPECT_EQ(canonical_key(a), canonical_key(b));
  EXPECT_EQ(a, b);

  // Each field changes the key.
  std::vector<KernelSpec> variants(10, a);
  variants[0].variant = Variant::mma_sm80;
  variants[1].arch = 80;
  variants[2].arch_specific = true;
  variants[3].dtype = DType::bf16;
  variants[4].head_dim = 64;
  variants[5].block_m = 64;
  variants[6].block_n = 64;
  variants[7].warps = 8;
  variants[8].stages = 2;
  variants[9].mask = MaskKind::causal;
  for (const KernelSpec& v : variants) {
    EXPECT_NE(v, a);
    EXPECT_NE(canonical_key(v), canonical_key(a)) << canonical_key(v);
  }
}

TEST(KernelSpecTarget, NamesTheArchitectureWithTheSpecificSuffix) {
  KernelSpec s = generic_spec(90);
  EXPECT_EQ(target_name(s), "sm_90");
  s.arch_specific = true;
  EXPECT_EQ(target_name(s), "sm_90a");
  s = generic_spec(75);
  EXPECT_EQ(target_name(s), "sm_75");
  s = generic_spec(120);
  EXPECT_EQ(target_name(s), "sm_120");
}

TEST(KernelSpecSize, ThreadsAndGenericSharedMemory) {
  KernelSpec s = generic_spec();
  EXPECT_EQ(threads_per_block(s), 128);
  // Q tile 32x128 + K/V tile 32x129 + P tile 32x32 floats.
  EXPECT_EQ(shared_memory_bytes(s), (32 * 128 + 32 * 129 + 32 * 32) * 4);
  s.head_dim = 256;
  EXPECT_EQ(shared_memory_bytes(s), (32 * 256 + 32 * 257 + 32 * 32) * 4);
}

TEST(KernelSpecValidate, AcceptsTheDefaultGenericSpec) {
  const DeviceDescription h100 = DeviceDescription::for_arch(90);
  EXPECT_TRUE(spec_problems(generic_spec(90), h100).empty())
      << joined(spec_problems(generic_spec(90), h100));
  EXPECT_FALSE(static_cast<bool>(validate_spec(generic_spec(90), h100)));
}

// A tuned split count is a launch setting: it leaves the kernel's key (and symbol) alone, names
// the tuner's report rows, and is bounded and only for a KV cache's kernel.
TEST(KernelSpecValidate, ASplitCountIsForKvKernelsAndBounded) {
  KernelSpec s = generic_spec(90);
  s.kv_cache = true;
  const std::string key = canonical_key(s);
  s.splits = 8;
  EXPECT_EQ(canonical_key(s), key);
  EXPECT_EQ(launch_key(s), key + " x8 splits");
  EXPECT_TRUE(spec_problems(s, DeviceDescription::for_arch(90)).empty())
      << joined(spec_problems(s, DeviceDescription::for_arch(90)));
  s.splits = flashjit::kMaxKvSplits + 1;
  EXPECT_TRUE(has_problem_containing(spec_problems(s, DeviceDescription::for_arch(90)), "splits 129 is outside 0..128"));
  s.splits = -1;
  EXPECT_TRUE(has_problem_containing(spec_problems(s, DeviceDescription::for_arch(90)), "splits -1 is outside"));
  s.kv_cache = false;
  s.splits = 2;
  EXPECT_TRUE(has_problem_containing(spec_problems(s, DeviceDescription::for_arch(90)),
                                     "splits 2 is set on a kernel without a KV cache"));
  s.splits = 0;
  EXPECT_EQ(launch_key(s), canonical_key(s));
}

TEST(KernelSpecValidate, RejectsHeadDimNotAMultipleOf8) {
  KernelSpec s = generic_spec();
  s.head_dim = 100;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  EXPECT_TRUE(has_problem_containing(problems, "head_dim 100 is not a multiple of 8")) << joined(problems);
}

TEST(KernelSpecValidate, RejectsHeadDimOver256) {
  KernelSpec s = generic_spec();
  s.head_dim = 264;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  EXPECT_TRUE(has_problem_containing(problems, "head_dim 264 is outside 8..256")) << joined(problems);
  s.head_dim = 0;
  EXPECT_TRUE(has_problem_containing(spec_problems(s, DeviceDescription::for_arch(90)),
                                     "head_dim 0 is outside 8..256"));
}

// A spec from a cache file or an import may hold any int: the fuzz replay under UBSan found
// warps = INT_MAX overflowing the thread count. Every size at INT_MAX, for every variant, is refused
// by name before any arithmetic (the sanitizer job runs this too).
TEST(KernelSpecValidate, SizesBeyondAnyKernelAreRefusedBeforeAnyArithmetic) {
  constexpr int kHuge = std::numeric_limits<int>::max();
  for (Variant variant : {Variant::generic, Variant::mma_sm70, Variant::mma_sm75, Variant::mma_sm80, Variant::wgmma_sm90}) {
    for (int field = 0; field < 5; ++field) {
      KernelSpec s = generic_spec();
      s.variant = variant;
      int* sizes[] = {&s.head_dim, &s.block_m, &s.block_n, &s.warps, &s.stages};
      *sizes[field] = kHuge;
      const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
      ASSERT_EQ(problems.size(), field == 0 ? 2u : 1u) << joined(problems);
      EXPECT_TRUE(has_problem_containing(problems, "is beyond any kernel (at most 1024, 4096, 4096, 1024 and 64)"))
          << variant_name(variant) << " field " << field << ": " << joined(problems);
    }
  }
}

TEST(KernelSpecValidate, RejectsBadWarps) {
  KernelSpec s = generic_spec();
  s.warps = 3;
  s.block_m = 24;  // a multiple of 3, so only the warp count is wrong
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "generic takes 1, 2, 4 or 8 warps, not 3");
}

TEST(KernelSpecValidate, RejectsNonPositiveTileSizes) {
  KernelSpec s = generic_spec();
  s.warps = 0;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  EXPECT_TRUE(has_problem_containing(problems, "block_m, block_n, warps and stages must be positive"))
      << joined(problems);
}

TEST(KernelSpecValidate, RejectsBlockNNotAMultipleOf32) {
  KernelSpec s = generic_spec();
  s.block_n = 48;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "generic block_n 48 must be 32, 64, 96 or 128 (one key column per lane)");
}

TEST(KernelSpecValidate, RejectsBlockMNotAMultipleOfWarps) {
  KernelSpec s = generic_spec();
  s.block_m = 18;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  EXPECT_TRUE(has_problem_containing(problems, "generic block_m 18 must be a multiple of the 4 warps"))
      << joined(problems);
}

TEST(KernelSpecValidate, RejectsStagesOtherThanOneForGeneric) {
  KernelSpec s = generic_spec();
  s.stages = 2;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "generic has no K/V pipeline: stages must be 1, not 2");
}

TEST(KernelSpecValidate, RejectsTooManyThreads) {
  KernelSpec s = generic_spec();
  s.warps = 64;
  s.block_m = 64;
  DeviceDescription device = DeviceDescription::for_arch(90);
  const auto problems = spec_problems(s, device);
  EXPECT_TRUE(has_problem_containing(problems, "64 warps make 2048 threads, more than the 1024 a block may have"))
      << joined(problems);

  // The limit comes from the device description, not a constant.
  device.max_threads_per_block = 64;
  s = generic_spec();
  const auto small = spec_problems(s, device);
  EXPECT_TRUE(has_problem_containing(small, "4 warps make 128 threads, more than the 64 a block may have"))
      << joined(small);
}

TEST(KernelSpecValidate, RejectsTilesThatWouldSpillRegisters) {
  KernelSpec s = generic_spec();
  s.head_dim = 256;
  s.block_m = 128;
  s.block_n = 128;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  EXPECT_TRUE(has_problem_containing(problems, "floats per thread, over the 128 that fit in registers"))
      << joined(problems);
}

TEST(KernelSpecValidate, RejectsSharedMemoryOverTheDeviceLimit) {
  // d=256 with a 32-row tile needs 69760 bytes; Pascal blocks may use 48 KB.
  KernelSpec s = generic_spec(61);
  s.head_dim = 256;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(61));
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "needs 69760 bytes of shared memory, more than the 49152 a block may use on sm_61");

  // The same tile fits Hopper's 227 KB.
  KernelSpec h = generic_spec(90);
  h.head_dim = 256;
  EXPECT_TRUE(spec_problems(h, DeviceDescription::for_arch(90)).empty());
}

TEST(KernelSpecValidate, RejectsATargetThatDoesNotMatchTheDevice) {
  const KernelSpec s = generic_spec(90);
  const auto problems = spec_problems(s, DeviceDescription::for_arch(86));
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "target sm_90 does not match the device's compute capability 8.6");
}

TEST(KernelSpecValidate, RejectsAnArchitectureTheVariantCannotServe) {
  const KernelSpec s = generic_spec(35);
  const auto problems = spec_problems(s, DeviceDescription::for_arch(35));
  EXPECT_TRUE(has_problem_containing(problems, "generic needs compute capability 5.0 or newer, not sm_35"))
      << joined(problems);
}

TEST(KernelSpecValidate, ErrorNamesTheSpecAndJoinsEveryProblem) {
  KernelSpec s = generic_spec(90);
  s.block_n = 24;
  s.stages = 2;
  const std::string message = validation_error(s, DeviceDescription::for_arch(90));
  EXPECT_EQ(message.rfind("spec generic_sm90_f16_d128_m32n24w4s2_none: ", 0), 0u) << message;
  EXPECT_NE(message.find("generic block_n 24 must be 32, 64, 96 or 128"), std::string::npos) << message;
  EXPECT_NE(message.find("; generic has no K/V pipeline: stages must be 1, not 2"), std::string::npos)
      << message;
}

// wgmma_sm90 has tile rules of its own (tests/unit/wgmma_rules_test.cpp covers each): the generic
// variant's tile is wrong for it on every count, and validation reports each problem, joined.
TEST(KernelSpecValidate, WgmmaReportsEveryTileProblemOfAGenericTile) {
  KernelSpec s = generic_spec(90);
  s.variant = Variant::wgmma_sm90;
  s.arch_specific = true;
  const auto problems = spec_problems(s, DeviceDescription::for_arch(90));
  ASSERT_EQ(problems.size(), 3u) << joined(problems);
  EXPECT_EQ(problems[0], "wgmma_sm90 block_m 32 must be 64 or 128 (one or two 64-row consumer warpgroups)");
  EXPECT_EQ(problems[1], "wgmma_sm90 block_n 32 must be 64, 96, 128 or 192");
  EXPECT_EQ(problems[2], "wgmma_sm90 stages 1 must be 2..4");
  EXPECT_EQ(validation_error(s, DeviceDescription::for_arch(90)),
            "spec wgmma_sm90_sm90a_f16_d128_m32n32w4s1_none: wgmma_sm90 block_m 32 must be 64 or 128 (one or two "
            "64-row consumer warpgroups); wgmma_sm90 block_n 32 must be 64, 96, 128 or 192; wgmma_sm90 stages 1 "
            "must be 2..4");

  // Its own tile shape validates on Hopper.
  s.block_m = 128;
  s.block_n = 128;
  s.warps = 12;
  s.stages = 2;
  EXPECT_TRUE(spec_problems(s, DeviceDescription::for_arch(90)).empty())
      << joined(spec_problems(s, DeviceDescription::for_arch(90)));
}

}  // namespace
}  // namespace flashjit::gen
