// The kernel table builds each key once, even when many threads ask at the same moment, and
// remembers a failed build instead of retrying it on every call.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/kernel_table.h"

namespace flashjit {
namespace {

// Without a GPU no module can be loaded, so the builders here fail; what is tested is how often
// they run and that every caller sees the same outcome.
TEST(KernelTable, ConcurrentCallersShareOneBuild) {
  KernelTable table;
  std::atomic<int> builds{0};
  auto slow_failing_build = [&]() -> llvm::Expected<ReadyKernel> {
    ++builds;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "nvrtc compile failed for key_a");
  };
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < errors.size(); ++i)
    threads.emplace_back([&, i] {
      auto kernel = table.get_or_build("key_a", slow_failing_build);
      errors[i] = kernel ? "built" : llvm::toString(kernel.takeError());
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(builds.load(), 1);
  for (const std::string& e : errors) EXPECT_EQ(e, "nvrtc compile failed for key_a");
}

TEST(KernelTable, AFailedBuildIsRememberedAndOtherKeysAreIndependent) {
  KernelTable table;
  int builds = 0;
  auto failing = [&]() -> llvm::Expected<ReadyKernel> {
    ++builds;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "broken");
  };
  for (int i = 0; i < 3; ++i) llvm::consumeError(table.get_or_build("a", failing).takeError());
  llvm::consumeError(table.get_or_build("b", failing).takeError());
  EXPECT_EQ(builds, 2);
  EXPECT_EQ(table.size(), 2u);
}

}  // namespace
}  // namespace flashjit
