// Which NVRTC compiles for a GPU (cuda/nvrtc_choice.h): the newest found that targets its
// architecture and whose cubins its driver loads, with the reason each other one was not chosen;
// where none serves, an unsupported error listing them all and saying what to install. Among fakes
// (NVRTC 14.0 for sm_75..sm_130, 12.4 for sm_50..sm_90), the toolkit's real NVRTC 13, and the real
// 12.9 and 11.8 where installed.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_library.h"
#include "runtime/compile_only_device.h"
#include "unit/nvrtc_test_support.h"

namespace flashjit::cuda {
namespace {

using flashjit::testing::fake_nvrtc;

class NvrtcChoiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    found_ = {load_nvrtc_library(fake_nvrtc("fake_nvrtc_12_4")), load_nvrtc_library("libnvrtc.so.13"),
              load_nvrtc_library(fake_nvrtc("fake_nvrtc_14_0")),
              load_nvrtc_library(fake_nvrtc("fake_nvrtc_version_fails"))};
    for (size_t i = 0; i < 3; ++i) ASSERT_TRUE(found_[i].usable()) << found_[i].path << ": " << found_[i].rejected;
    toolkit_ = found_[1].targets.version();
    toolkit_range_ = found_[1].targets.range();
  }
  const NvrtcLibrary& fake12() const { return found_[0]; }
  const NvrtcLibrary& toolkit() const { return found_[1]; }
  const NvrtcLibrary& fake14() const { return found_[2]; }

  std::vector<NvrtcLibrary> found_;
  std::string toolkit_, toolkit_range_;
};

// Pascal: only the CUDA 12 fake targets it; the newer ones are passed over for their ranges.
TEST_F(NvrtcChoiceTest, PascalGetsTheNewestThatTargetsIt) {
  const NvrtcChoice choice = choose_nvrtc(found_, 61);
  ASSERT_EQ(choice.library, &fake12());
  EXPECT_EQ(choice.passed_over, (std::vector<std::string>{"NVRTC 14.0 targets sm_75..sm_130 only",
                                                          "NVRTC " + toolkit_ + " targets " + toolkit_range_ + " only"}));
  auto chosen = nvrtc_for_arch(found_, 61);
  ASSERT_TRUE(static_cast<bool>(chosen)) << llvm::toString(chosen.takeError());
  EXPECT_EQ(&*chosen, &fake12());
}

// The chosen NVRTC's targets say which library it is and why the others were passed over: what the
// selector's reason carries ("compiled by ...").
TEST_F(NvrtcChoiceTest, TheChosenTargetsSayWhichNvrtcAndWhyNotTheOthers) {
  const gen::CompilerTargets pascal = targets_of_choice(choose_nvrtc(found_, 61));
  EXPECT_EQ(pascal.version(), "12.4");
  EXPECT_EQ(pascal.archs, fake12().targets.archs);
  EXPECT_EQ(pascal.choice, "NVRTC 12.4 (" + fake12().path + "); passed over: NVRTC 14.0 targets sm_75..sm_130 only; NVRTC " +
                               toolkit_ + " targets " + toolkit_range_ + " only");
  // Nothing chosen: no targets, no choice.
  const gen::CompilerTargets none = targets_of_choice(choose_nvrtc(found_, 35));
  EXPECT_TRUE(none.archs.empty());
  EXPECT_EQ(none.choice, "");
}

// Hopper without a driver to satisfy: all three target it, the newest wins, the others say why not.
TEST_F(NvrtcChoiceTest, HopperGetsTheNewestOfAll) {
  const NvrtcChoice choice = choose_nvrtc(found_, 90);
  ASSERT_EQ(choice.library, &fake14());
  EXPECT_EQ(choice.passed_over,
            (std::vector<std::string>{"NVRTC " + toolkit_ + " targets sm_90 too, but NVRTC 14.0 is newer",
                                      "NVRTC 12.4 targets sm_90 too, but NVRTC 14.0 is newer"}));
}

// A cubin from CUDA X needs a driver for CUDA X or newer: a CUDA 13.0 driver rules out NVRTC 14.0,
// a CUDA 12.4 driver NVRTC 13 too.
TEST_F(NvrtcChoiceTest, TheDriverRulesOutNewerNvrtcs) {
  NvrtcChoice choice = choose_nvrtc(found_, 90, 13000);
  ASSERT_EQ(choice.library, &toolkit());
  EXPECT_EQ(choice.passed_over,
            (std::vector<std::string>{"NVRTC 14.0 needs a driver for CUDA 14 and the driver supports CUDA 13.0",
                                      "NVRTC 12.4 targets sm_90 too, but NVRTC " + toolkit_ + " is newer"}));
  choice = choose_nvrtc(found_, 90, 12040);
  ASSERT_EQ(choice.library, &fake12());
  EXPECT_EQ(choice.passed_over,
            (std::vector<std::string>{"NVRTC 14.0 needs a driver for CUDA 14 and the driver supports CUDA 12.4",
                                      "NVRTC " + toolkit_ + " needs a driver for CUDA 13 and the driver supports CUDA 12.4"}));
}

// None serves: the error names each NVRTC with its reason, what to do, and where each one is.
TEST_F(NvrtcChoiceTest, AnOldDriverForEveryNvrtcSaysWhatToInstall) {
  const std::string message =
      flashjit::testing::message_of(nvrtc_for_arch(found_, 61, 11080), ErrorCode::unsupported);
  EXPECT_EQ(message,
            "the GPU is sm_61 (Pascal) but NVRTC 14.0 targets sm_75..sm_130 only, NVRTC " + toolkit_ + " targets " +
                toolkit_range_ +
                " only, NVRTC 12.4 needs a driver for CUDA 12 and the driver supports CUDA 11.8; update the NVIDIA "
                "driver, or install the NVRTC of CUDA 11.x, which this driver runs, and set FLASHJIT_NVRTC to it "
                "(found: NVRTC 12.4 at " + fake12().path + ", NVRTC " + toolkit_ + " at " + toolkit().path +
                ", NVRTC 14.0 at " + fake14().path + "; not usable: " + fake_nvrtc("fake_nvrtc_version_fails") +
                ": nvrtcVersion failed: NVRTC_ERROR_INTERNAL_ERROR)");
}

// Pascal with only the toolkit's NVRTC 13: install CUDA 12's (the advice doctor prints).
TEST_F(NvrtcChoiceTest, PascalWithoutAnOlderNvrtcSaysWhichToInstall) {
  const std::vector<NvrtcLibrary> only_toolkit = {toolkit()};
  const std::string message = flashjit::testing::message_of(nvrtc_for_arch(only_toolkit, 61), ErrorCode::unsupported);
  EXPECT_EQ(message, "the GPU is sm_61 (Pascal) but NVRTC " + toolkit_ + " targets " + toolkit_range_ +
                         " only; an NVRTC from CUDA 12.x (which targets sm_50..sm_90) can compile for it, and "
                         "11.8's too: install one (pip install nvidia-cuda-nvrtc-cu12) and set FLASHJIT_NVRTC to its "
                         "libnvrtc.so.12 (found: NVRTC " + toolkit_ + " at " + toolkit().path + ")");
}

TEST_F(NvrtcChoiceTest, NothingOlderThanMaxwell) {
  const std::string message = flashjit::testing::message_of(nvrtc_for_arch(found_, 30), ErrorCode::unsupported);
  EXPECT_EQ(message.rfind("the GPU is sm_30 (pre-Maxwell) but NVRTC 14.0 targets sm_75..sm_130 only, ", 0), 0u)
      << message;
  EXPECT_NE(message.find("; FlashJIT's kernels need a Maxwell GPU (sm_50) or newer (found: "), std::string::npos)
      << message;
}

TEST_F(NvrtcChoiceTest, AnArchitectureNewerThanEveryNvrtc) {
  const std::vector<NvrtcLibrary> older = {fake12()};
  const std::string message = flashjit::testing::message_of(nvrtc_for_arch(older, 100), ErrorCode::unsupported);
  EXPECT_EQ(message.rfind("the GPU is sm_100 (", 0), 0u) << message;
  EXPECT_NE(message.find(") but NVRTC 12.4 targets sm_50..sm_90 only; a newer CUDA toolkit's NVRTC is needed (found: "),
            std::string::npos)
      << message;
}

TEST(NvrtcChoice, NoNvrtcAtAllSaysWhereItLooked) {
  const std::string message = flashjit::testing::message_of(nvrtc_for_arch(std::vector<NvrtcLibrary>{}, 75), ErrorCode::unsupported);
  EXPECT_EQ(message,
            "the GPU is sm_75 (Turing) but no NVRTC was found (FLASHJIT_NVRTC names none, and neither libnvrtc.so.13, "
            ".12 nor .11.2 is on the library path or under CUDA_HOME, CUDA_PATH or /usr/local/cuda*); a newer CUDA "
            "toolkit's NVRTC is needed");
}

// A refused library is never chosen, whatever it would target.
TEST(NvrtcChoice, ARefusedLibraryIsNeverChosen) {
  const std::vector<NvrtcLibrary> found = {load_nvrtc_library(fake_nvrtc("fake_nvrtc_without_builtins"))};
  ASSERT_FALSE(found[0].usable());
  ASSERT_TRUE(found[0].targets.supports(61));
  EXPECT_EQ(choose_nvrtc(found, 61).library, nullptr);
  EXPECT_EQ(newest_nvrtc(found), nullptr);
}

// The process's own choice (the toolkit's NVRTC 13 only, in the unit tests): Turing compiles with
// it; Pascal's targets fall back to the newest found so the selector's choose_target says what
// is missing.
TEST(NvrtcChoice, TheProcessChoosesPerArchitecture) {
  auto turing = nvrtc_for_arch(75);
  ASSERT_TRUE(static_cast<bool>(turing)) << llvm::toString(turing.takeError());
  // The chosen library's targets, saying which it is (one entry per architecture, kept).
  const gen::CompilerTargets& for_turing = nvrtc_targets_for_arch(75);
  EXPECT_EQ(&for_turing, &nvrtc_targets_for_arch(75));
  EXPECT_EQ(for_turing.version(), turing->targets.version());
  EXPECT_EQ(for_turing.archs, turing->targets.archs);
  EXPECT_EQ(for_turing.choice.rfind(turing->describe(), 0), 0u) << for_turing.choice;
  const NvrtcLibrary* newest = newest_nvrtc(nvrtc_libraries());
  ASSERT_NE(newest, nullptr);
  if (nvrtc_for_arch(61)) GTEST_SKIP() << "an NVRTC for sm_61 is on this machine's search path";
  EXPECT_EQ(&nvrtc_targets_for_arch(61), &newest->targets);
  EXPECT_EQ(flashjit::testing::message_of(nvrtc_for_arch(61), ErrorCode::unsupported)
                .rfind("the GPU is sm_61 (Pascal) but NVRTC ", 0),
            0u);
}

// A compile-only device (warm --arch, tune without a GPU) compiles with its architecture's NVRTC,
// and where there is none says so before anything runs.
TEST(NvrtcChoice, ACompileOnlyDeviceUsesItsArchitecturesNvrtc) {
  auto turing = nvrtc_for_arch(75);
  ASSERT_TRUE(static_cast<bool>(turing)) << llvm::toString(turing.takeError());
  EXPECT_EQ(&CompileOnlyDevice(75).compiler(), &nvrtc_targets_for_arch(75));
  EXPECT_EQ(CompileOnlyDevice(75).compiler().version(), turing->targets.version());
  if (nvrtc_for_arch(61)) GTEST_SKIP() << "an NVRTC for sm_61 is on this machine's search path";
  gen::KernelSpec spec;
  spec.arch = 61;
  const std::string message = flashjit::testing::message_of(CompileOnlyDevice(61).compile(spec), ErrorCode::unsupported);
  EXPECT_EQ(message.rfind("the GPU is sm_61 (Pascal) but NVRTC ", 0), 0u) << message;
  EXPECT_NE(message.find("an NVRTC from CUDA 12.x (which targets sm_50..sm_90) can compile for it"), std::string::npos)
      << message;
}

// The real NVRTCs: for Maxwell to Volta CUDA 12.9's, not 11.8's (older) nor 13's (no target);
// from Turing on, 13's.
TEST(NvrtcChoice, AmongTheRealNvrtcsEachGpuGetsTheNewestThatTargetsIt) {
  FLASHJIT_REQUIRE_OLD_NVRTC(cu12, 12);
  FLASHJIT_REQUIRE_OLD_NVRTC(cu11, 11);
  const std::vector<NvrtcLibrary> found = {*cu11, load_nvrtc_library("libnvrtc.so.13"), *cu12};
  ASSERT_TRUE(found[1].usable()) << found[1].rejected;
  const std::string toolkit = found[1].targets.version(), toolkit_range = found[1].targets.range();
  for (int arch : {50, 52, 60, 61, 70, 72}) {
    const NvrtcChoice choice = choose_nvrtc(found, arch);
    ASSERT_NE(choice.library, nullptr) << arch;
    EXPECT_EQ(choice.library->path, cu12->path) << arch;
    EXPECT_EQ(choice.passed_over,
              (std::vector<std::string>{"NVRTC " + toolkit + " targets " + toolkit_range + " only",
                                        "NVRTC " + cu11->targets.version() + " targets sm_" + std::to_string(arch) +
                                            " too, but NVRTC " + cu12->targets.version() + " is newer"}))
        << arch;
  }
  for (int arch : {75, 80, 90}) {
    const NvrtcChoice choice = choose_nvrtc(found, arch);
    ASSERT_NE(choice.library, nullptr) << arch;
    EXPECT_EQ(choice.library->targets.nvrtc_major, 13) << arch;
  }
  // A CUDA 12.4 driver: Turing's kernels come from NVRTC 12.9 (12.x cubins load on any 12 driver).
  EXPECT_EQ(choose_nvrtc(found, 75, 12040).library->path, cu12->path);
  // A CUDA 11.4 driver: NVRTC 11.8 for Pascal.
  EXPECT_EQ(choose_nvrtc(found, 61, 11040).library->path, cu11->path);
}

}  // namespace
}  // namespace flashjit::cuda
