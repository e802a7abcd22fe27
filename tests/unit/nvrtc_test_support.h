// What the NVRTC loader's tests share: the fake NVRTCs tests/fake_nvrtc builds, and the real older
// NVRTCs (12.9 and 11.8) that scripts/setup.sh installs under .tools/ and tests/CMakeLists.txt names
// in FLASHJIT_TEST_OLD_NVRTC. A test that needs an older NVRTC skips, saying why, where it is
// missing, but fails when FLASHJIT_REQUIRE_OLD_NVRTC=1 (scripts/test.sh sets it, so CI cannot skip).
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cuda/nvrtc_compiler.h"
#include "cuda/nvrtc_discovery.h"
#include "cuda/nvrtc_library.h"

namespace flashjit::testing {

// The path of the fake lib<name>.so.
inline std::string fake_nvrtc(const std::string& name) {
  return std::string(FLASHJIT_FAKE_NVRTC_DIR) + "/lib" + name + ".so";
}

inline bool old_nvrtc_required() {
  const char* value = std::getenv("FLASHJIT_REQUIRE_OLD_NVRTC");
  return value != nullptr && std::string(value) == "1";
}

// The older NVRTCs named by FLASHJIT_TEST_OLD_NVRTC, loaded once.
inline const std::vector<cuda::NvrtcLibrary>& old_nvrtcs() {
  static const std::vector<cuda::NvrtcLibrary> found = [] {
    const char* list = std::getenv("FLASHJIT_TEST_OLD_NVRTC");
    cuda::NvrtcSearch search;
    search.nvrtc_list = list ? list : "";
    return cuda::discover_nvrtc(search);
  }();
  return found;
}

// The usable older NVRTC of CUDA `major`, or null with `why` saying what is missing.
inline const cuda::NvrtcLibrary* old_nvrtc(int major, std::string& why) {
  for (const cuda::NvrtcLibrary& library : old_nvrtcs())
    if (library.usable() && library.targets.nvrtc_major == major) return &library;
  const char* list = std::getenv("FLASHJIT_TEST_OLD_NVRTC");
  why = "no usable NVRTC " + std::to_string(major) + " in FLASHJIT_TEST_OLD_NVRTC ('" + (list ? list : "") +
        "'): scripts/setup.sh installs NVRTC 12.9 and 11.8 under .tools/, then configure again";
  for (const cuda::NvrtcLibrary& library : old_nvrtcs())
    if (!library.usable()) why += "; " + library.path + ": " + library.rejected;
  return nullptr;
}

// Compiles `kernel` for `spec` with `nvrtc` (null: the NVRTC chosen for spec.arch) and expects no
// error, no spill and no stack: for kernels a test writes its own shell for.
inline void expect_compiles_cleanly(const gen::EmittedKernel& kernel, const gen::KernelSpec& spec,
                                    const cuda::NvrtcLibrary* nvrtc) {
  auto compiled = nvrtc ? cuda::compile_kernel(kernel, spec, *nvrtc) : cuda::compile_kernel(kernel, spec);
  const std::string where = kernel.key + " sm_" + std::to_string(spec.arch);
  ASSERT_TRUE(static_cast<bool>(compiled)) << where << ": " << llvm::toString(compiled.takeError());
  EXPECT_EQ(compiled->resources.spill_store_bytes, 0) << where;
  EXPECT_EQ(compiled->resources.spill_load_bytes, 0) << where;
  EXPECT_EQ(compiled->resources.stack_bytes, 0) << where;
}

}  // namespace flashjit::testing

// Declares `const cuda::NvrtcLibrary* var`, the older NVRTC of CUDA `major`; where it is missing,
// the test skips saying why, or fails when FLASHJIT_REQUIRE_OLD_NVRTC=1.
#define FLASHJIT_REQUIRE_OLD_NVRTC(var, major)                           \
  std::string var##_missing;                                             \
  const ::flashjit::cuda::NvrtcLibrary* var =                            \
      ::flashjit::testing::old_nvrtc(major, var##_missing);              \
  if (var == nullptr) {                                                  \
    if (::flashjit::testing::old_nvrtc_required()) FAIL() << var##_missing \
        << " (FLASHJIT_REQUIRE_OLD_NVRTC=1: CI must not skip this)";      \
    GTEST_SKIP() << var##_missing;                                       \
  }
