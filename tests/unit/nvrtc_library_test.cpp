// One NVRTC loaded at run time (cuda/nvrtc_library.h): a fake reporting a chosen version and
// targets, the real one of the toolkit through its soname, and each way a library can be unusable,
// refused with its exact reason and never a crash.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "cuda/nvrtc_compiler.h"
#include "cuda/nvrtc_library.h"
#include "unit/nvrtc_test_support.h"

namespace flashjit::cuda {
namespace {

using flashjit::testing::fake_nvrtc;

TEST(NvrtcLibrary, AFakeReportsItsVersionAndTargets) {
  const NvrtcLibrary library = load_nvrtc_library(fake_nvrtc("fake_nvrtc_12_4"));
  ASSERT_TRUE(library.usable()) << library.rejected;
  EXPECT_EQ(library.path, fake_nvrtc("fake_nvrtc_12_4"));
  EXPECT_EQ(library.targets.version(), "12.4");
  EXPECT_EQ(library.targets.archs, (std::vector<int>{50, 52, 60, 61, 70, 75, 80, 86, 89, 90}));
  EXPECT_EQ(library.targets.range(), "sm_50..sm_90");
  EXPECT_EQ(library.describe(), "NVRTC 12.4 (" + fake_nvrtc("fake_nvrtc_12_4") + ")");
  EXPECT_NE(library.api, nullptr);
}

// The toolkit's NVRTC through the dynamic loader's search, as discovery first tries it: the path
// is where the loader found it.
TEST(NvrtcLibrary, TheToolkitsNvrtcLoadsByItsSoname) {
  const NvrtcLibrary library = load_nvrtc_library("libnvrtc.so.13");
  ASSERT_TRUE(library.usable()) << library.rejected;
  EXPECT_EQ(library.targets.nvrtc_major, 13);
  EXPECT_EQ(library.path.front(), '/') << library.path;
  EXPECT_TRUE(library.targets.supports(75)) << library.targets.range();
  EXPECT_FALSE(library.targets.supports(61)) << library.targets.range();
}

TEST(NvrtcLibrary, AMissingFunctionIsNamed) {
  const NvrtcLibrary library = load_nvrtc_library(fake_nvrtc("fake_nvrtc_without_get_cubin"));
  EXPECT_FALSE(library.usable());
  EXPECT_EQ(library.rejected,
            "it lacks nvrtcGetCUBIN, which FlashJIT calls (not an NVRTC, or one older than CUDA 11.2)");
  EXPECT_EQ(library.api, nullptr);
  EXPECT_TRUE(library.opened);
}

TEST(NvrtcLibrary, AFailingNvrtcVersionIsNamedWithItsError) {
  const NvrtcLibrary library = load_nvrtc_library(fake_nvrtc("fake_nvrtc_version_fails"));
  EXPECT_EQ(library.rejected, "nvrtcVersion failed: NVRTC_ERROR_INTERNAL_ERROR");
  EXPECT_EQ(library.api, nullptr);
  // No version was read: the library is named by its path alone.
  EXPECT_EQ(library.describe(), fake_nvrtc("fake_nvrtc_version_fails"));
}

TEST(NvrtcLibrary, NoTargetsIsRefused) {
  const NvrtcLibrary library = load_nvrtc_library(fake_nvrtc("fake_nvrtc_no_targets"));
  EXPECT_EQ(library.rejected, "it reports no target architectures");
}

// NVRTC compiles nothing without its builtins: refused at load, not at every compile.
TEST(NvrtcLibrary, MissingBuiltinsAreRefusedAtLoad) {
  const NvrtcLibrary library = load_nvrtc_library(fake_nvrtc("fake_nvrtc_without_builtins"));
  EXPECT_EQ(library.rejected, std::string("its libnvrtc-builtins.so.12.1 is neither beside it (in ") +
                                  FLASHJIT_FAKE_NVRTC_DIR + ") nor on the library path, and NVRTC compiles nothing without it");
  EXPECT_EQ(library.targets.version(), "12.1");
  EXPECT_EQ(library.api, nullptr);
}

TEST(NvrtcLibrary, ATextFileIsNotALibrary) {
  const std::string path = ::testing::TempDir() + "/nvrtc_library_test_not_a_library.txt";
  std::ofstream(path) << std::string(200, 'x') << "\n";
  const NvrtcLibrary library = load_nvrtc_library(path);
  EXPECT_EQ(library.rejected, "cannot be loaded as a shared library: " + path + ": invalid ELF header");
  EXPECT_EQ(library.describe(), path);
  EXPECT_FALSE(library.opened);
  std::filesystem::remove(path);
}

TEST(NvrtcLibrary, AMissingFileCannotBeLoaded) {
  const NvrtcLibrary library = load_nvrtc_library("/nonexistent/flashjit/libnvrtc.so.12");
  EXPECT_EQ(library.rejected, "cannot be loaded as a shared library: /nonexistent/flashjit/libnvrtc.so.12: cannot open "
                              "shared object file: No such file or directory");
}

// A compile goes to the library it is given: the fake's failure and log come back, naming it.
TEST(NvrtcLibrary, ACompileRunsInTheGivenNvrtc) {
  const NvrtcLibrary fake = load_nvrtc_library(fake_nvrtc("fake_nvrtc_12_4"));
  ASSERT_TRUE(fake.usable()) << fake.rejected;
  gen::KernelSpec spec;
  spec.arch = 61;
  gen::EmittedKernel kernel;
  kernel.key = "fake_kernel_key";
  kernel.source = "extern \"C\" __global__ void k() {}\n";
  kernel.name_expression = "k";
  const std::string message = flashjit::testing::message_of(compile_kernel(kernel, spec, fake), ErrorCode::compile_error);
  EXPECT_EQ(message, "nvrtc compile failed for fake_kernel_key (NVRTC_ERROR_COMPILATION) with NVRTC 12.4 (" +
                         fake_nvrtc("fake_nvrtc_12_4") +
                         "); options: --gpu-architecture=sm_61 -std=c++17 --ptxas-options=-v\n"
                         "fake NVRTC 12.4 compiles nothing");
}

// A target the given NVRTC does not have is refused before it runs, naming its range.
TEST(NvrtcLibrary, ATargetTheGivenNvrtcLacksIsUnsupported) {
  const NvrtcLibrary fake = load_nvrtc_library(fake_nvrtc("fake_nvrtc_14_0"));
  ASSERT_TRUE(fake.usable()) << fake.rejected;
  gen::KernelSpec spec;
  spec.arch = 61;
  gen::EmittedKernel kernel;
  kernel.key = "fake_kernel_key";
  const std::string message = flashjit::testing::message_of(compile_kernel(kernel, spec, fake), ErrorCode::unsupported);
  EXPECT_EQ(message.rfind("the GPU is sm_61 (Pascal) but NVRTC 14.0 targets sm_75..sm_130 only", 0), 0u) << message;
}

TEST(NvrtcLibrary, ARefusedLibraryCompilesNothing) {
  const NvrtcLibrary broken = load_nvrtc_library(fake_nvrtc("fake_nvrtc_version_fails"));
  gen::KernelSpec spec;
  spec.arch = 61;
  gen::EmittedKernel kernel;
  kernel.key = "fake_kernel_key";
  EXPECT_EQ(flashjit::testing::message_of(compile_kernel(kernel, spec, broken), ErrorCode::unsupported),
            fake_nvrtc("fake_nvrtc_version_fails") +
                " cannot compile fake_kernel_key: nvrtcVersion failed: NVRTC_ERROR_INTERNAL_ERROR");
}

}  // namespace
}  // namespace flashjit::cuda
