// The public Runtime end to end on the CPU backend, and its errors where no GPU is usable.
#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "cuda/driver_api.h"
#include "helpers/compare.h"
#include "helpers/naive_reference.h"
#include "helpers/test_problem.h"
#include "problem/validate.h"

namespace flashjit {
namespace {

test::ProblemShape small_shape(DType dtype, MaskKind mask) {
  test::ProblemShape s;
  s.batch = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.seqlen_q = 19;
  s.seqlen_k = 45;
  s.head_dim = 40;
  s.dtype = dtype;
  s.mask = mask;
  return s;
}

bool driver_present() {
  auto api = cuda::driver_api();
  if (api) return true;
  llvm::consumeError(api.takeError());
  return false;
}

TEST(Runtime, CpuBackendComputesAttention) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  EXPECT_EQ((*runtime)->backend(), Backend::cpu);
  EXPECT_EQ((*runtime)->device_name(), "cpu");
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    test::HostProblem p = test::make_problem(small_shape(t, MaskKind::causal));
    Result<AttentionArgs> normalized = validate_args(p.args);
    ASSERT_TRUE(normalized.ok());
    const test::ReferenceOutput reference = test::naive_attention(*normalized);
    Status s = (*runtime)->forward(p.args);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(test::matches_reference(p, reference, true, test::kCpuLseTolerance)) << dtype_name(t);
  }
}

TEST(Runtime, InvalidArgumentsAreRejectedWithTheirMessage) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok());
  test::HostProblem p = test::make_problem(small_shape(DType::f16, MaskKind::none));
  p.args.num_kv_heads = 3;
  Status s = (*runtime)->forward(p.args);
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.to_string(), "invalid_argument: num_heads 4 is not a multiple of num_kv_heads 3");
  // Nothing was computed: the poison is intact.
  EXPECT_TRUE(std::isnan(test::output_at(p, 0, 0, 0, 0)));
}

TEST(Runtime, PlanNamesTheCpuKernelAndWhy) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  options.cpu_threads = 3;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok());
  test::HostProblem p = test::make_problem(small_shape(DType::bf16, MaskKind::none));
  Result<KernelChoice> choice = (*runtime)->plan(p.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_EQ(choice->kernel_key, "cpu_blocked_online_softmax_f32");
  EXPECT_FALSE(choice->variant.has_value()) << "the CPU backend runs no kernel variant";
  EXPECT_NE(choice->reason.find("on 3 threads"), std::string::npos) << choice->reason;
}

TEST(Runtime, NegativeCpuThreadsIsAnError) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  options.cpu_threads = -2;
  auto runtime = Runtime::create(options);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().message(), "cpu_threads must be 0 (all cores) or positive, got -2");
}

TEST(Runtime, CudaBackendWithoutADriverSaysWhy) {
  if (driver_present()) GTEST_SKIP() << "a CUDA driver is installed here";
  RuntimeOptions options;
  options.backend = Backend::cuda;
  auto runtime = Runtime::create(options);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().code(), ErrorCode::no_device);
  EXPECT_NE(runtime.status().message().find("no usable GPU: cannot load the CUDA driver library libcuda.so.1"),
            std::string::npos)
      << runtime.status().message();
}

TEST(Runtime, AutomaticFallsBackToTheCpuWithTheReason) {
  if (driver_present()) GTEST_SKIP() << "a CUDA driver is installed here";
  auto runtime = Runtime::create();
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  EXPECT_EQ((*runtime)->backend(), Backend::cpu);
  EXPECT_NE((*runtime)->fallback_reason().find("libcuda.so.1"), std::string::npos);
}

}  // namespace
}  // namespace flashjit
