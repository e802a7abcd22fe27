// Real compiles through the run-time loader with the older NVRTCs, CUDA 12.9's and 11.8's (which
// scripts/setup.sh installs): the generic variant at head dim 64, f16, for Maxwell, Pascal and
// Volta, compiles to a cubin whose ELF says it is for that SM, from PTX whose .target is that SM,
// with no spills. Each NVRTC is loaded beside the toolkit's NVRTC 13 in one process. The registers
// ptxas reports are printed (the performance notes quote them).
#include <iostream>
#include <string>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "helpers/problems.h"
#include "generator/device_description.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "cuda/cubin_elf.h"
#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_compiler.h"
#include "runtime/cache_entries.h"
#include "unit/nvrtc_test_support.h"

namespace flashjit::cuda {
namespace {

constexpr int kPreTuringArchs[] = {50, 52, 60, 61, 70};

// Compiles the generic default for `arch` with `nvrtc` and checks what every such compile must be.
void compiles_for_its_sm(const NvrtcLibrary& nvrtc, int arch) {
  SCOPED_TRACE(nvrtc.describe() + ", sm_" + std::to_string(arch));
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(arch);
  // The generic variant's default tiles (on sm_70 the selector may prefer a tensor-core variant).
  auto defaults = gen::default_spec(Variant::generic, device, flashjit::testing::problem_with(DType::f16, 64));
  ASSERT_TRUE(static_cast<bool>(defaults)) << llvm::toString(defaults.takeError());
  const gen::KernelSpec& spec = *defaults;
  auto kernel = gen::emit(spec);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  auto compiled = compile_kernel(*kernel, spec, nvrtc);
  ASSERT_TRUE(static_cast<bool>(compiled)) << llvm::toString(compiled.takeError());
  EXPECT_EQ(compiled->nvrtc_version, nvrtc.targets.version());
  EXPECT_EQ(compiled->nvrtc_path, nvrtc.path);
  EXPECT_EQ(compiled->target, "sm_" + std::to_string(arch));

  auto cubin = read_cubin(compiled->cubin);
  ASSERT_TRUE(static_cast<bool>(cubin)) << llvm::toString(cubin.takeError());
  EXPECT_EQ(cubin->arch, arch);
  EXPECT_NE(std::find(cubin->functions.begin(), cubin->functions.end(), compiled->lowered_name), cubin->functions.end());
  EXPECT_NE(compiled->ptx.find("\n.target sm_" + std::to_string(arch) + "\n"), std::string::npos)
      << compiled->ptx.substr(0, 400);

  const ResourceUsage& r = compiled->resources;
  EXPECT_GT(r.registers, 0);
  EXPECT_EQ(r.spill_store_bytes, 0);
  EXPECT_EQ(r.spill_load_bytes, 0);
  EXPECT_EQ(r.stack_bytes, 0);
  std::cout << "[ ptxas    ] NVRTC " << compiled->nvrtc_version << " " << compiled->key << ": " << r.registers
            << " registers, " << r.spill_store_bytes << " bytes spill stores, " << r.spill_load_bytes
            << " bytes spill loads\n";
}

TEST(OldNvrtcCompile, Nvrtc12CompilesGenericForMaxwellPascalAndVolta) {
  FLASHJIT_REQUIRE_OLD_NVRTC(cu12, 12);
  for (int arch : kPreTuringArchs) compiles_for_its_sm(*cu12, arch);
}

TEST(OldNvrtcCompile, Nvrtc11CompilesGenericForMaxwellPascalAndVolta) {
  FLASHJIT_REQUIRE_OLD_NVRTC(cu11, 11);
  for (int arch : kPreTuringArchs) compiles_for_its_sm(*cu11, arch);
}

// The NVRTC chosen for an architecture is the one whose version goes into the cache key, so a
// kernel compiled by NVRTC 12.9 is never served where 11.8 would be the compiler, or the reverse.
TEST(OldNvrtcCompile, TheCacheKeyCarriesTheChosenNvrtcsVersion) {
  FLASHJIT_REQUIRE_OLD_NVRTC(cu12, 12);
  FLASHJIT_REQUIRE_OLD_NVRTC(cu11, 11);
  const std::vector<NvrtcLibrary> found = {*cu11, *cu12};
  auto pascal = nvrtc_for_arch(found, 61);
  ASSERT_TRUE(static_cast<bool>(pascal)) << llvm::toString(pascal.takeError());
  const Problem problem = flashjit::testing::problem_with(DType::f16, 64);
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(61);
  EXPECT_EQ(cache_key_for(device, pascal->targets, problem).nvrtc_version,
            cache::nvrtc_version_number(cu12->targets.nvrtc_major, cu12->targets.nvrtc_minor));
  // An old driver picks 11.8, and the key says so.
  auto old_driver = nvrtc_for_arch(found, 61, 11040);
  ASSERT_TRUE(static_cast<bool>(old_driver)) << llvm::toString(old_driver.takeError());
  EXPECT_EQ(cache_key_for(device, old_driver->targets, problem).nvrtc_version,
            cache::nvrtc_version_number(11, cu11->targets.nvrtc_minor));
}

}  // namespace
}  // namespace flashjit::cuda
