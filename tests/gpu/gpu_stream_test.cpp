// forward() on the application's own streams: CUDA graph capture (a first use, which builds the
// kernel, is refused without breaking the capture; a built kernel is captured), and pointers that
// belong to another GPU (refused before anything is launched). Skipped, with the reason, where no
// GPU (or no second GPU) is usable.
#include <string>

#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "cuda/device.h"
#include "cuda/driver_api.h"
#include "helpers/compare.h"
#include "helpers/device_problem.h"
#include "helpers/gpu_runtime.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A runtime of its own (no cache, no tuning): nothing built before the test, whatever ran earlier.
std::unique_ptr<Runtime> fresh_runtime(std::string* why_not) {
  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.tune = false;
  options.use_cache = false;
  auto runtime = Runtime::create(options);
  if (!runtime) {
    *why_not = runtime.status().message();
    return nullptr;
  }
  return std::move(*runtime);
}

// forward() on a new blocking stream while it captures a graph; the capture's own result (it must
// survive whatever forward() did) in *capture_ok.
test::ForwardCall captured_forward(bool* capture_ok) {
  return [capture_ok](Runtime& runtime, const AttentionArgs& args) {
    const cuda::DriverApi& api = *cuda::driver_api();
    CUstream stream = nullptr;
    if (api.cuStreamCreate(&stream, CU_STREAM_DEFAULT) != CUDA_SUCCESS)
      return Status(ErrorCode::driver_error, "cuStreamCreate failed");
    *capture_ok = api.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL) == CUDA_SUCCESS;
    const Status forwarded = runtime.forward(args, stream);
    CUgraph graph = nullptr;
    *capture_ok = *capture_ok && api.cuStreamEndCapture(stream, &graph) == CUDA_SUCCESS && graph != nullptr;
    if (graph) api.cuGraphDestroy(graph);
    api.cuStreamDestroy(stream);
    return forwarded;
  };
}

TEST(GpuGraphCapture, AFirstUseIsRefusedAndTheCaptureSurvives) {
  std::string why_not;
  std::unique_ptr<Runtime> runtime = fresh_runtime(&why_not);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << why_not;
  test::HostProblem p = test::make_problem(test::shape(1, 2, 2, 45, 70, 64, DType::f16, MaskKind::causal));

  bool capture_ok = false;
  const Status refused = test::run_on_device(*runtime, p, captured_forward(&capture_ok));
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  EXPECT_TRUE(contains(refused.message(), "cannot happen while a CUDA graph is being captured")) << refused.message();
  EXPECT_TRUE(capture_ok) << "the refused call broke the application's capture";
  EXPECT_TRUE(test::output_is_poisoned(p)) << "something was launched";
}

TEST(GpuGraphCapture, ABuiltKernelIsCaptured) {
  std::string why_not;
  std::unique_ptr<Runtime> runtime = fresh_runtime(&why_not);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << why_not;
  test::HostProblem warm = test::make_problem(test::shape(1, 2, 2, 45, 70, 64, DType::f16, MaskKind::causal));
  ASSERT_TRUE(test::device_matches_cpu(*runtime, warm));

  test::HostProblem p = test::make_problem(test::shape(1, 2, 2, 45, 70, 64, DType::f16, MaskKind::causal));
  bool capture_ok = false;
  const Status captured = test::run_on_device(*runtime, p, captured_forward(&capture_ok));
  EXPECT_TRUE(captured.ok()) << captured.to_string();
  EXPECT_TRUE(capture_ok);
  // Captured, not run: the graph was destroyed unlaunched, so the output keeps its poison.
  EXPECT_TRUE(test::output_is_poisoned(p));
}

TEST(GpuDevices, PointersOfAnotherGpuAreRefused) {
  auto count = cuda::device_count();
  if (!count) GTEST_SKIP() << "no usable GPU: " << llvm::toString(count.takeError());
  if (*count < 2) GTEST_SKIP() << "needs two GPUs, found " << *count;
  std::string why_not;
  std::unique_ptr<Runtime> runtime = fresh_runtime(&why_not);  // device 0
  ASSERT_NE(runtime, nullptr) << why_not;

  auto other = cuda::PrimaryContext::retain(1);
  ASSERT_TRUE(static_cast<bool>(other)) << llvm::toString(other.takeError());
  ASSERT_FALSE(static_cast<bool>((*other)->make_current()));
  auto foreign = cuda::DeviceBuffer::allocate(1 << 20);
  ASSERT_TRUE(static_cast<bool>(foreign)) << llvm::toString(foreign.takeError());

  test::HostProblem p = test::make_problem(test::shape(1, 1, 1, 8, 8, 64, DType::f16, MaskKind::none));
  const Status s = test::run_on_device(*runtime, p, [&](Runtime& r, const AttentionArgs& args) {
    AttentionArgs moved = args;
    moved.k.data = foreign->pointer();
    return r.forward(moved);
  });
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_TRUE(contains(s.message(), "k (")) << s.message();
  EXPECT_TRUE(contains(s.message(), "is memory of GPU 1, but this runtime computes on GPU 0")) << s.message();
  EXPECT_TRUE(test::output_is_poisoned(p));
}

}  // namespace
}  // namespace flashjit
