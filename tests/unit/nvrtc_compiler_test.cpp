// Real NVRTC compiles of emitted kernels (no GPU needed): the binary, the PTX, the lowered name, the
// resource usage, and the error a compile failure carries.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "helpers/problems.h"
#include "helpers/errors.h"
#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "cuda/nvrtc_compiler.h"

namespace flashjit::cuda {
namespace {

gen::KernelSpec default_generic(int arch, DType dtype, int head_dim, MaskKind mask = MaskKind::none) {
  auto spec = gen::default_spec(Variant::generic, gen::DeviceDescription::for_arch(arch),
                                flashjit::testing::problem_with(dtype, head_dim, mask));
  if (!spec) {
    ADD_FAILURE() << llvm::toString(spec.takeError());
    return {};
  }
  return *spec;
}

// Emits and compiles `spec`, checking everything every successful compile must satisfy.
CompiledKernel compiled(const gen::KernelSpec& spec) {
  auto kernel = gen::emit(spec);
  if (!kernel) {
    ADD_FAILURE() << llvm::toString(kernel.takeError());
    return {};
  }
  auto out = compile_kernel(*kernel, spec);
  if (!out) {
    ADD_FAILURE() << llvm::toString(out.takeError());
    return {};
  }
  const std::string key = gen::canonical_key(spec);
  EXPECT_EQ(out->key, key);
  EXPECT_EQ(out->target, gen::target_name(spec)) << key;
  EXPECT_EQ(out->options, compile_options(spec)) << key;
  EXPECT_FALSE(out->lowered_name.empty()) << key;
  EXPECT_EQ(out->cubin.substr(0, 4), std::string("\x7f" "ELF")) << key;
  EXPECT_NE(out->ptx.find(".entry " + out->lowered_name), std::string::npos) << key;
  EXPECT_NE(out->ptx.find(".target " + gen::target_name(spec)), std::string::npos) << key;
  EXPECT_GT(out->resources.registers, 0) << key;
  EXPECT_FALSE(out->resources.spills())
      << key << ": " << out->resources.spill_store_bytes << " bytes spill stores, "
      << out->resources.spill_load_bytes << " bytes spill loads";
  EXPECT_EQ(out->resources.stack_bytes, 0) << key;
  EXPECT_GE(out->resources.barriers, 1) << key;  // the kernel synchronizes its tiles
  EXPECT_GT(out->compile_ms, 0.0) << key;
  return *out;
}

TEST(NvrtcTargets, ReportVersionAndArchitectures) {
  const gen::CompilerTargets& t = nvrtc_targets();
  EXPECT_GT(t.nvrtc_major, 0);
  EXPECT_FALSE(t.archs.empty());
  EXPECT_TRUE(t.supports(90)) << t.range();
  EXPECT_TRUE(std::is_sorted(t.archs.begin(), t.archs.end()));
  EXPECT_EQ(t.version(), std::to_string(t.nvrtc_major) + "." + std::to_string(t.nvrtc_minor));
  EXPECT_EQ(&t, &nvrtc_targets());  // queried once
}

TEST(NvrtcCompiler, CompileOptionsNameTheTarget) {
  gen::KernelSpec s = default_generic(90, DType::f16, 128);
  EXPECT_EQ(compile_options(s),
            (std::vector<std::string>{"--gpu-architecture=sm_90", "-std=c++17", "--ptxas-options=-v"}));
  s.arch_specific = true;
  EXPECT_EQ(compile_options(s)[0], "--gpu-architecture=sm_90a");
}

TEST(NvrtcCompiler, GenericDefaultCompilesForTuringAndHopper) {
  for (int arch : {75, 90}) {
    const gen::KernelSpec spec = default_generic(arch, DType::f16, 128, MaskKind::causal);
    const CompiledKernel k = compiled(spec);
    EXPECT_EQ(k.target, "sm_" + std::to_string(arch));
    // The lowered name is the mangled instantiation of the generic template.
    EXPECT_NE(k.lowered_name.find("generic_forward"), std::string::npos) << k.lowered_name;
    EXPECT_NE(k.log.find("Function properties for " + k.lowered_name), std::string::npos) << k.log;
  }
}

// The generic variant is the fallback everywhere, so it must build for every target this NVRTC has.
TEST(NvrtcCompiler, GenericCompilesForEveryTargetOfThisNvrtc) {
  const gen::CompilerTargets& targets = nvrtc_targets();
  ASSERT_FALSE(targets.archs.empty());
  for (int arch : targets.archs) {
    const CompiledKernel k = compiled(default_generic(arch, DType::bf16, 64, MaskKind::causal));
    EXPECT_EQ(k.target, "sm_" + std::to_string(arch));
    EXPECT_FALSE(k.resources.spills()) << k.key;
  }
}

TEST(NvrtcCompiler, EachDtypeCompiles) {
  for (DType dtype : {DType::f32, DType::bf16}) {
    const CompiledKernel k = compiled(default_generic(90, dtype, 128));
    EXPECT_FALSE(k.cubin.empty()) << dtype_name(dtype);
  }
}

TEST(NvrtcCompiler, DefaultTilesOfRepresentativeHeadDimsDoNotSpill) {
  // f16 at 128 is covered by GenericDefaultCompilesForTuringAndHopper.
  for (int head_dim : {8, 40, 64, 96, 160, 256}) {
    SCOPED_TRACE("head_dim " + std::to_string(head_dim));
    compiled(default_generic(90, DType::f16, head_dim));
  }
}

TEST(NvrtcCompiler, SmallestQueryTileCompilesForTuringAtHeadDim256) {
  // The 64 KB default shrinks block_m to 16 at d=256: that tile must still compile cleanly.
  const gen::KernelSpec spec = default_generic(75, DType::f16, 256);
  EXPECT_EQ(spec.block_m, 16);
  compiled(spec);
}

TEST(NvrtcCompiler, SyntaxErrorCarriesKeyOptionsAndLog) {
  const gen::KernelSpec spec = default_generic(90, DType::f16, 128);
  gen::EmittedKernel broken;
  broken.key = "broken_test_kernel_key";
  broken.source = "extern \"C\" __global__ void broken(float* p) { p[0] = 1.0f }\n";  // missing ';'
  broken.name_expression = "broken";
  auto out = compile_kernel(broken, spec);
  ASSERT_FALSE(static_cast<bool>(out));
  const std::string message = flashjit::testing::message_of(out.takeError(), ErrorCode::compile_error);
  EXPECT_NE(message.find("nvrtc compile failed for broken_test_kernel_key"), std::string::npos) << message;
  EXPECT_NE(message.find("NVRTC_ERROR_COMPILATION"), std::string::npos) << message;
  EXPECT_NE(message.find("options: --gpu-architecture=sm_90 -std=c++17 --ptxas-options=-v"),
            std::string::npos)
      << message;
  // The log names the file (the key) and the error.
  EXPECT_NE(message.find("broken_test_kernel_key.cu"), std::string::npos) << message;
  EXPECT_NE(message.find("error"), std::string::npos) << message;
  EXPECT_NE(message.find("expected a \";\""), std::string::npos) << message;
}

TEST(NvrtcCompiler, ATargetNvrtcDoesNotSupportIsAnError) {
  gen::KernelSpec spec = default_generic(90, DType::f16, 64);
  auto kernel = gen::emit(spec);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  spec.arch = 20;  // Fermi: no NVRTC targets it
  auto out = compile_kernel(*kernel, spec);
  ASSERT_FALSE(static_cast<bool>(out));
  // Checked before NVRTC runs, so the message names this NVRTC's range instead of NVRTC's bare
  // "invalid value for --gpu-architecture".
  const std::string message = flashjit::testing::message_of(out.takeError(), ErrorCode::unsupported);
  EXPECT_NE(message.find("the GPU is sm_20 (pre-Maxwell) but NVRTC "), std::string::npos) << message;
  EXPECT_NE(message.find("targets sm_"), std::string::npos) << message;
}

// Every JIT compile checks the template's shared-memory count against the generator's: a shell
// whose count is off (as if a template changed its layout and the rules did not follow) fails to
// compile, naming both sides.
TEST(NvrtcCompiler, ATemplateThatDisagreesOnSharedMemoryDoesNotCompile) {
  for (Variant variant : {Variant::generic, Variant::mma_sm80, Variant::wgmma_sm90}) {
    auto spec = gen::default_spec(variant, gen::DeviceDescription::for_arch(90),
                                  flashjit::testing::problem_with(DType::bf16, 128, MaskKind::causal));
    ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
    auto kernel = gen::emit(*spec);
    ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
    const std::string counted = "::kSharedBytes == " + std::to_string(gen::shared_memory_bytes(*spec)) + ",";
    const size_t at = kernel->source.find(counted);
    ASSERT_NE(at, std::string::npos) << variant_name(variant) << ": the shell does not check " << counted;
    kernel->source.replace(at, counted.size(), "::kSharedBytes == " + std::to_string(gen::shared_memory_bytes(*spec) + 16) + ",");
    const std::string message = flashjit::testing::message_of(compile_kernel(*kernel, *spec), ErrorCode::compile_error);
    EXPECT_NE(message.find("and the generator's rules disagree on shared memory"), std::string::npos)
        << variant_name(variant) << ": " << message;
  }
}

// The host refuses a wgmma kernel whose registers are not the count its setmaxnreg counts assume,
// and takes that count from the generator: a shell whose count is off (as if the template's budget
// changed and the rules did not follow) fails to compile, naming both sides.
TEST(NvrtcCompiler, ATemplateThatDisagreesOnEntryRegistersDoesNotCompile) {
  auto spec = gen::default_spec(Variant::wgmma_sm90, gen::DeviceDescription::for_arch(90),
                                flashjit::testing::problem_with(DType::bf16, 128, MaskKind::none));
  ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
  ASSERT_EQ(gen::entry_registers(*spec), 168);
  auto kernel = gen::emit(*spec);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  const std::string counted = "::kEntryRegisters == 168,";
  const size_t at = kernel->source.find(counted);
  ASSERT_NE(at, std::string::npos) << "the shell does not check " << counted;
  kernel->source.replace(at, counted.size(), "::kEntryRegisters == 160,");
  const std::string message = flashjit::testing::message_of(compile_kernel(*kernel, *spec), ErrorCode::compile_error);
  EXPECT_NE(message.find("wgmma_sm90_forward.cuh and the generator's rules disagree on the kernel's registers"),
            std::string::npos)
      << message;
}

// templates/warpgroup_register_budget.cuh refuses to compile a budget whose consumers would ask for
// more registers than the producer frees (the hang it exists to prevent): here the consumers' count
// edited to 248 where the producer frees enough for 240.
TEST(NvrtcCompiler, ARegisterBudgetThatWouldHangDoesNotCompile) {
  auto spec = gen::default_spec(Variant::wgmma_sm90, gen::DeviceDescription::for_arch(90),
                                flashjit::testing::problem_with(DType::f16, 64, MaskKind::causal));
  ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
  auto kernel = gen::emit(*spec);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  const std::string derived = "static constexpr int kConsumerRegisters = kConsumerShare < kMost ? kConsumerShare : kMost;";
  const size_t at = kernel->source.find(derived);
  ASSERT_NE(at, std::string::npos) << "the budget no longer derives the consumers' count as " << derived;
  kernel->source.replace(at, derived.size(), "static constexpr int kConsumerRegisters = 248;");
  const std::string message = flashjit::testing::message_of(compile_kernel(*kernel, *spec), ErrorCode::compile_error);
  EXPECT_NE(message.find("the consumers' setmaxnreg.inc asks for more registers than the producer's setmaxnreg.dec "
                         "gives back"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace flashjit::cuda
