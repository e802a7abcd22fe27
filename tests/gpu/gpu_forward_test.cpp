// The generated kernels on a real GPU against the CPU backend: every dtype, head dims 8..256,
// causal and not, odd lengths, q != k, GQA/MQA, non-contiguous strides, forced tiles, LSE. Outputs
// are poisoned (NaN) first, so an element the kernel never wrote fails. Skipped, with the reason,
// where no GPU is usable.
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>

#include "flashjit/runtime.h"
#include "helpers/compare.h"
#include "helpers/cpu_reference.h"
#include "helpers/device_problem.h"
#include "helpers/gpu_runtime.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

using test::HostProblem;
using test::ProblemShape;
using test::shape;

void expect_kernel_matches_cpu(Runtime& runtime, const ProblemShape& shape) {
  HostProblem p = test::make_problem(shape);
  EXPECT_TRUE(test::device_matches_cpu(runtime, p));
}

class GpuForward : public testing::TestWithParam<ProblemShape> {};

TEST_P(GpuForward, MatchesTheCpuBackend) {
  std::string why_not;
  Runtime* runtime = test::shared_gpu_runtime({}, &why_not);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << why_not;
  expect_kernel_matches_cpu(*runtime, GetParam());
}

std::vector<ProblemShape> every_dtype_and_head_dim() {
  std::vector<ProblemShape> cases;
  for (DType t : {DType::f16, DType::bf16, DType::f32})
    for (int d : {32, 64, 96, 128, 160, 192, 224, 256})
      for (MaskKind m : {MaskKind::none, MaskKind::causal}) cases.push_back(shape(2, 4, 2, 67, 131, d, t, m));
  return cases;
}

std::vector<ProblemShape> odd_shapes() {
  std::vector<ProblemShape> cases = {
      shape(1, 1, 1, 1, 1, 64, DType::f16, MaskKind::none),
      shape(1, 2, 2, 1, 1000, 128, DType::bf16, MaskKind::causal),   // decode-like
      shape(2, 3, 3, 17, 17, 8, DType::f16, MaskKind::causal),
      shape(1, 2, 2, 1000, 1000, 64, DType::f16, MaskKind::causal),
      shape(1, 2, 1, 1000, 333, 40, DType::bf16, MaskKind::none),    // MQA, q > k
      shape(1, 4, 4, 100, 37, 72, DType::f16, MaskKind::causal),     // rows that see no key
      shape(3, 8, 2, 33, 65, 136, DType::f32, MaskKind::causal),     // GQA, head_dim not /32
      shape(1, 2, 2, 129, 255, 248, DType::bf16, MaskKind::none),
  };
  ProblemShape strided = shape(2, 4, 2, 45, 77, 64, DType::f16, MaskKind::causal);
  strided.head_padding = 8;
  strided.seq_padding = 24;
  cases.push_back(strided);
  ProblemShape scaled = shape(1, 2, 2, 50, 50, 128, DType::bf16, MaskKind::none);
  scaled.softmax_scale = 0.3f;
  cases.push_back(scaled);
  return cases;
}

std::string case_name(const testing::TestParamInfo<ProblemShape>& info) { return info.param.name(); }

INSTANTIATE_TEST_SUITE_P(Dtypes, GpuForward, testing::ValuesIn(every_dtype_and_head_dim()), case_name);
INSTANTIATE_TEST_SUITE_P(OddShapes, GpuForward, testing::ValuesIn(odd_shapes()), case_name);

// Tiles of the generic variant (8 rows per warp, one K/V stage), so generic is forced with them: on
// a GPU with tensor cores the selector picks mma_sm80/mma_sm75 for f16 and bf16, and those refuse
// these tiles (block_m must be 16 or 32 rows per warp), which would fail this test on any
// Turing-or-newer GPU. This is also the only place generic runs f16/bf16 on such a GPU.
TEST(GpuForwardTiles, ForcedTilesMatchTheCpuBackend) {
  const TileConfig tiles[] = {{8, 32, 1, 1}, {16, 64, 2, 1}, {64, 32, 8, 1}, {32, 128, 4, 1}};
  for (const TileConfig& t : tiles) {
    RuntimeOptions options;
    options.force_variant = Variant::generic;
    options.force_tiles = t;
    std::string why_not;
    Runtime* runtime = test::shared_gpu_runtime(options, &why_not);
    if (!runtime) GTEST_SKIP() << "no usable GPU: " << why_not;
    SCOPED_TRACE("tiles m" + std::to_string(t.block_m) + "n" + std::to_string(t.block_n) + "w" + std::to_string(t.warps));
    expect_kernel_matches_cpu(*runtime, shape(2, 2, 1, 77, 93, 64, DType::f16, MaskKind::causal));
    expect_kernel_matches_cpu(*runtime, shape(1, 2, 2, 31, 200, 128, DType::bf16, MaskKind::none));
  }
}

TEST(GpuForwardStability, RepeatedRunsAreBitwiseIdentical) {
  std::string why_not;
  Runtime* runtime = test::shared_gpu_runtime({}, &why_not);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << why_not;
  const ProblemShape s = shape(2, 4, 2, 301, 517, 128, DType::bf16, MaskKind::causal);
  HostProblem first = test::make_problem(s);
  ASSERT_TRUE(test::run_on_device(*runtime, first).ok());
  for (int run = 0; run < 3; ++run) {
    HostProblem again = test::make_problem(s);
    ASSERT_TRUE(test::run_on_device(*runtime, again).ok());
    EXPECT_EQ(std::memcmp(first.out.data(), again.out.data(), first.out.size()), 0) << "run " << run;
    EXPECT_EQ(std::memcmp(first.lse.data(), again.lse.data(), first.lse.size() * sizeof(float)), 0) << "run " << run;
  }
}

TEST(GpuForwardThreads, ConcurrentFirstCallsCompileOnceAndAgree) {
  std::string why_not;
  Runtime* runtime = test::shared_gpu_runtime({}, &why_not);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << why_not;
  // A head dim no other test uses, so the threads race on a kernel nobody compiled yet.
  const ProblemShape s = shape(1, 2, 2, 65, 65, 176, DType::f16, MaskKind::none);
  const test::ReferenceOutput reference = test::cpu_reference(test::make_problem(s));
  std::vector<HostProblem> problems(4, test::make_problem(s));
  std::vector<Status> statuses(problems.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < problems.size(); ++i) {
    problems[i].bind();
    threads.emplace_back([&, i] { statuses[i] = test::run_on_device(*runtime, problems[i]); });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < problems.size(); ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].to_string();
    EXPECT_TRUE(test::matches_reference(problems[i], reference, true, test::kKernelLseTolerance));
  }
}

TEST(GpuForwardErrors, HostPointersAreRejectedBeforeLaunch) {
  std::string why_not;
  Runtime* runtime = test::shared_gpu_runtime({}, &why_not);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << why_not;
  HostProblem p = test::make_problem(shape(1, 1, 1, 8, 8, 64, DType::f16, MaskKind::none));
  Status s = runtime->forward(p.args);
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.message().find("is not memory the CUDA driver knows"), std::string::npos) << s.message();
}

// A forced variant that cannot run a problem says why at plan(), before anything compiles: on a GPU
// other than sm_90, wgmma_sm90 is refused for the architecture; on Hopper, where it runs (and
// gpu_tensor_core_test.cpp checks it), for a head dim it is not generated for.
TEST(GpuForwardErrors, AForcedVariantThatCannotRunSaysWhy) {
  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.force_variant = Variant::wgmma_sm90;
  options.use_cache = false;
  auto runtime = Runtime::create(options);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << runtime.status().message();
  std::string why_not;
  const int cc = test::gpu_compute_capability(&why_not);
  ASSERT_NE(cc, 0) << why_not;
  const bool hopper = cc == 90;
  HostProblem p = test::make_problem(shape(1, 1, 1, 8, 8, hopper ? 80 : 64, DType::f16, MaskKind::none));
  Result<KernelChoice> plan = (*runtime)->plan(p.args);
  ASSERT_FALSE(plan.ok()) << plan->kernel_key;
  EXPECT_EQ(plan.status().code(), ErrorCode::invalid_argument) << plan.status().to_string();
  EXPECT_NE(plan.status().message().find("forced variant wgmma_sm90 cannot run"), std::string::npos)
      << plan.status().message();
  EXPECT_NE(plan.status().message().find(hopper ? "head dim" : "compute capability 9.0"), std::string::npos)
      << plan.status().message();
}

}  // namespace
}  // namespace flashjit

namespace flashjit {
namespace {

// Issue 3's promise: the first process tunes and stores, a later one loads the stored cubin.
TEST(GpuTuningCache, ASecondRuntimeLoadsTheTunedKernelFromTheCache) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("flashjit-gpu-cache", dir));
  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.cache_path = std::string(dir) + "/cache.sqlite";
  options.tune = true;
  options.tune_max_candidates = 4;
  options.tune_budget_ms = 5;
  const test::ProblemShape s = test::shape(1, 4, 2, 300, 300, 64, DType::bf16, MaskKind::causal);

  auto first = Runtime::create(options);
  if (!first) GTEST_SKIP() << "no usable GPU: " << first.status().message();
  HostProblem p1 = test::make_problem(s);
  const test::ReferenceOutput reference = test::cpu_reference(p1);
  ASSERT_TRUE(test::run_on_device(**first, p1).ok());
  EXPECT_TRUE(test::matches_reference(p1, reference, true, test::kKernelLseTolerance));
  Result<KernelChoice> tuned = (*first)->plan(p1.args);
  ASSERT_TRUE(tuned.ok());
  EXPECT_NE(tuned->reason.find("tuned at first use"), std::string::npos) << tuned->reason;

  auto second = Runtime::create(options);
  ASSERT_TRUE(second.ok());
  HostProblem p2 = test::make_problem(s);
  ASSERT_TRUE(test::run_on_device(**second, p2).ok());
  EXPECT_TRUE(test::matches_reference(p2, reference, true, test::kKernelLseTolerance));
  Result<KernelChoice> cached = (*second)->plan(p2.args);
  ASSERT_TRUE(cached.ok());
  EXPECT_NE(cached->reason.find("loaded from the tuning cache"), std::string::npos) << cached->reason;
  EXPECT_EQ(cached->kernel_key, tuned->kernel_key);
  llvm::sys::fs::remove_directories(dir);
}

}  // namespace
}  // namespace flashjit
