// The kernel table builds each key once, even when many threads ask at the same moment, and
// remembers a failed build instead of retrying it on every call.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "runtime/kernel_table.h"
#include "support/error.h"

namespace flashjit {
namespace {

ProblemKey key(int head_dim) { return ProblemKey{{DType::bf16, head_dim, MaskKind::causal}, 4, 4096, true}; }

// Without a GPU no module can be loaded, so the builders here fail; what is tested is how often
// they run and that every caller sees the same outcome.
TEST(KernelTable, ConcurrentCallersShareOneBuild) {
  KernelTable table;
  std::atomic<int> builds{0};
  auto slow_failing_build = [&]() -> llvm::Expected<BuiltKernel> {
    ++builds;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return make_error(ErrorCode::compile_error, "nvrtc compile failed for key_a");
  };
  std::vector<Status> errors(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < errors.size(); ++i)
    threads.emplace_back([&, i] { errors[i] = testing::failure_of(table.get_or_build(key(128), slow_failing_build)); });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(builds.load(), 1);
  // Every caller, the ones that waited too, gets the failure with its code.
  for (const Status& e : errors) EXPECT_EQ(e.to_string(), "compile_error: nvrtc compile failed for key_a");
}

TEST(KernelTable, AFailedBuildIsRememberedAndOtherKeysAreIndependent) {
  KernelTable table;
  int builds = 0;
  auto failing = [&]() -> llvm::Expected<BuiltKernel> {
    ++builds;
    return make_error(ErrorCode::unsupported, "broken");
  };
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(testing::failure_of(table.get_or_build(key(64), failing)).to_string(), "unsupported: broken");
  llvm::consumeError(table.get_or_build(key(128), failing).takeError());
  EXPECT_EQ(builds, 2);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(key(64)), nullptr);  // a failed build is not a kernel
}

}  // namespace
}  // namespace flashjit
