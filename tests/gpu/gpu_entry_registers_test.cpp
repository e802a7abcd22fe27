// After loading a wgmma_sm90 module the runtime reads its register count from the driver
// (CU_FUNC_ATTRIBUTE_NUM_REGS) and refuses a kernel whose count is not the one its setmaxnreg counts
// assume (cuda/entry_registers.h), rather than launch one that could hang. Every kernel's symbol is
// the same (the shell's traits have one name), so the cubin of a one-consumer tile (whose count
// ptxas picks) stands for a two-consumer kernel compiled to the wrong count. Skipped, saying why,
// without a GPU of compute capability 9.0 (sm_90a code loads on nothing else).
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "cuda/device.h"
#include "cuda/loaded_kernel.h"
#include "cuda/nvrtc_compiler.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "helpers/errors.h"

namespace flashjit {
namespace {

gen::KernelSpec wgmma_tile(int block_m) {
  gen::KernelSpec s;
  s.variant = Variant::wgmma_sm90;
  s.arch = 90;
  s.arch_specific = true;
  s.dtype = DType::f16;
  s.head_dim = 128;
  s.block_m = block_m;
  s.block_n = 64;
  s.warps = 4 * (1 + block_m / 64);
  s.stages = 2;
  return s;
}

cuda::CompiledKernel compiled(const gen::KernelSpec& spec) {
  auto emitted = gen::emit(spec);
  if (!emitted) {
    ADD_FAILURE() << llvm::toString(emitted.takeError());
    return {};
  }
  auto out = cuda::compile_kernel(*emitted, spec);
  if (!out) {
    ADD_FAILURE() << llvm::toString(out.takeError());
    return {};
  }
  return std::move(*out);
}

TEST(GpuEntryRegisters, AModuleWithOtherRegistersThanItsSpecRequiresIsRefused) {
  auto device = cuda::describe_device(0);
  if (!device) GTEST_SKIP() << "no usable GPU: " << llvm::toString(device.takeError());
  if (device->compute_capability() != 90)
    GTEST_SKIP() << "sm_90a kernels load only on compute capability 9.0, not " << device->compute_capability();
  auto context = cuda::PrimaryContext::retain(0);
  ASSERT_TRUE(static_cast<bool>(context)) << llvm::toString(context.takeError());

  const gen::KernelSpec two_consumers = wgmma_tile(128);
  const cuda::CompiledKernel right = compiled(two_consumers);
  ASSERT_EQ(right.resources.registers, 168);
  auto loaded = cuda::LoadedKernel::load(**context, two_consumers, right.cubin, right.lowered_name);
  ASSERT_TRUE(static_cast<bool>(loaded)) << llvm::toString(loaded.takeError());

  const cuda::CompiledKernel other = compiled(wgmma_tile(64));
  ASSERT_NE(other.resources.registers, 168);
  ASSERT_EQ(other.lowered_name, right.lowered_name);
  const std::string message = flashjit::testing::message_of(
      cuda::LoadedKernel::load(**context, two_consumers, other.cubin, other.lowered_name), ErrorCode::unsupported);
  EXPECT_EQ(message, "kernel " + gen::canonical_key(two_consumers) + " has " +
                         std::to_string(other.resources.registers) +
                         " registers per thread, but its setmaxnreg counts assume exactly 168 "
                         "(templates/warpgroup_register_budget.cuh): with another count its consumer warpgroups "
                         "may wait forever for registers, so it is not run");
}

}  // namespace
}  // namespace flashjit
