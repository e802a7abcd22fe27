// On a Volta GPU (V100: sm_70, Xavier: sm_72) the selector itself runs f16 on mma_sm70 (Volta's
// m8n8k4 tensor cores) and bf16 on generic (Volta has no bf16 tensor cores), each saying why, and
// issue 13's performance shape (batch 1, 32 heads, 1024 x 1024, d 64, causal) matches the CPU
// backend. Every other GPU skips these, with the reason: there mma_sm70 runs only when forced
// (tests/gpu/gpu_tensor_core_test.cpp forces it on any GPU from sm_70 on).
#include <string>

#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "helpers/device_problem.h"
#include "helpers/gpu_runtime.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

using test::HostProblem;
using test::shape;

// The selector's own runtime (nothing forced, no tuning or cache), or null with why the test skips.
Runtime* volta_runtime(std::string* skip_reason) {
  Runtime* runtime = test::shared_gpu_runtime(RuntimeOptions{}, skip_reason);
  if (!runtime) {
    *skip_reason = "no CUDA runtime: " + *skip_reason;
    return nullptr;
  }
  const int cc = test::gpu_compute_capability(skip_reason);
  if (cc == 0) return nullptr;
  if (cc != 70 && cc != 72) {
    *skip_reason = "the selector takes mma_sm70 on Volta only (sm_70, sm_72), this GPU is sm_" + std::to_string(cc);
    return nullptr;
  }
  return runtime;
}

TEST(GpuVolta, F16RunsOnMma70ByItself) {
  std::string skip_reason;
  Runtime* runtime = volta_runtime(&skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  for (int head_dim : {64, 128, 256}) {
    HostProblem p = test::make_problem(shape(1, 4, 2, 177, 233, head_dim, DType::f16, MaskKind::causal));
    ASSERT_TRUE(test::device_matches_cpu(*runtime, p)) << head_dim;
    Result<KernelChoice> choice = runtime->plan(p.args);
    ASSERT_TRUE(choice.ok()) << choice.status().to_string();
    EXPECT_EQ(choice->variant, std::optional<Variant>(Variant::mma_sm70)) << choice->reason;
    EXPECT_EQ(choice->kernel_key.rfind("mma_sm70_sm7", 0), 0u) << choice->kernel_key;
    EXPECT_NE(choice->reason.find("Volta tensor cores through mma.sync m8n8k4"), std::string::npos) << choice->reason;
  }
}

TEST(GpuVolta, Bf16RunsOnGenericAndSaysWhy) {
  std::string skip_reason;
  Runtime* runtime = volta_runtime(&skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  HostProblem p = test::make_problem(shape(1, 2, 2, 77, 133, 64, DType::bf16, MaskKind::none));
  ASSERT_TRUE(test::device_matches_cpu(*runtime, p));
  Result<KernelChoice> choice = runtime->plan(p.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_EQ(choice->variant, std::optional<Variant>(Variant::generic)) << choice->reason;
  EXPECT_NE(choice->reason.find("mma_sm70 computes f16 only, not bf16 (Volta's tensor cores have no bf16)"),
            std::string::npos)
      << choice->reason;
}

// Issue 13's shape (the community V100 fork's benchmark), through the selector's kernel.
TEST(GpuVolta, TheIssuesShapeMatchesTheCpuBackend) {
  std::string skip_reason;
  Runtime* runtime = volta_runtime(&skip_reason);
  if (!runtime) GTEST_SKIP() << skip_reason;
  HostProblem p = test::make_problem(shape(1, 32, 32, 1024, 1024, 64, DType::f16, MaskKind::causal));
  ASSERT_TRUE(test::device_matches_cpu(*runtime, p));
  Result<KernelChoice> choice = runtime->plan(p.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_EQ(choice->kernel_key.rfind("mma_sm70_", 0), 0u) << choice->kernel_key;
}

}  // namespace
}  // namespace flashjit
