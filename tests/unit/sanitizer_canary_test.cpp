// The sanitizer jobs' canaries (scripts/test.sh --sanitize ...): in a sanitizer build, a planted bug
// of each kind the build looks for must end the process with the sanitizer's report. They fail if
// the build lost its instrumentation (flags dropped from cmake/sanitizers.cmake) or if a finding no
// longer fails a test (UBSan back to reporting and carrying on), so a green sanitizer job means the
// code was checked. A normal build defines none of them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <memory>
#include <thread>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace flashjit {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(FLASHJIT_SANITIZE_UNDEFINED)
// Where the canaries put what they compute: a volatile store the compiler must keep, so the bad
// read or addition that feeds it stays too (an unused result is dropped, bug and all, at -O1).
[[maybe_unused]] volatile int canary_sink = 0;

// Death tests fork; "threadsafe" re-runs the binary for the child, so no thread of an earlier test
// is copied half-way through its work.
class SanitizerCanary : public testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};
#endif

#if defined(__SANITIZE_ADDRESS__)
// volatile index: the compiler may not prove the read out of bounds at compile time.
void read_past_the_end(volatile int index) {
  std::unique_ptr<int[]> block(new int[4]());
  canary_sink = block[index];
}

TEST_F(SanitizerCanary, AddressSanitizerStopsAReadPastAHeapBlock) {
  EXPECT_DEATH(read_past_the_end(4), "AddressSanitizer: heap-buffer-overflow");
}

// Where the leaked block's only pointer lives until it is dropped: a namespace-scope volatile, so
// neither the compiler nor -Wunused-but-set-variable removes the stores.
void* volatile leak_sink = nullptr;

TEST_F(SanitizerCanary, LeakSanitizerStopsALeak) {
  EXPECT_DEATH(
      {
        leak_sink = std::malloc(64);
        leak_sink = nullptr;
        __lsan_do_leak_check();
      },
      "LeakSanitizer: detected memory leaks");
}
#endif

#if defined(FLASHJIT_SANITIZE_UNDEFINED)
void add(volatile int a, volatile int b) { canary_sink = a + b; }

TEST_F(SanitizerCanary, UndefinedBehaviorSanitizerStopsASignedOverflow) {
  EXPECT_DEATH(add(std::numeric_limits<int>::max(), 1), "runtime error: signed integer overflow");
}
#endif

#if defined(__SANITIZE_THREAD__)
// Two threads write one int with nothing ordering them. The child exits 0 after the race: TSan makes
// that 66 (its exit code when it reported), or stops at the report when halt_on_error is set.
void race_and_exit() {
  int shared = 0;
  std::thread first([&shared] { shared = 1; });
  std::thread second([&shared] { shared = 2; });
  first.join();
  second.join();
  std::exit(0);
}

TEST_F(SanitizerCanary, ThreadSanitizerReportsADataRace) {
  EXPECT_EXIT(race_and_exit(), testing::ExitedWithCode(66), "ThreadSanitizer: data race");
}
#endif

}  // namespace
}  // namespace flashjit
