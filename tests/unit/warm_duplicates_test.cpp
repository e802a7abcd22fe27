// `flashjit warm` over a manifest that repeats a problem (the same entry listed twice, or two
// lengths of one bucket): each problem key is built once, and the repeats say whose duplicate
// they are. Counted on the scripted fake GPU of kernel_builder_test.cpp.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/kernel_builder.h"
#include "runtime/open_cache.h"
#include "runtime/warm.h"
#include "tuner/manifest.h"
#include "unit/cache_test_support.h"
#include "unit/fake_build_device.h"

namespace flashjit {
namespace {

using testing::FakeBuildDevice;
using testing::FakeDeviceRecord;

// 20 copies of one entry of two lengths in one bucket (500 and 512: len512): 40 problems, one key.
std::vector<Problem> repeated_manifest() {
  std::string problems;
  for (int i = 0; i < 20; ++i)
    problems += std::string(i ? ", " : "") + R"({"dtype": "f16", "head_dim": 64, "seqlen": [512, 500]})";
  auto parsed = tuner::parse_manifest(R"({"version": 1, "problems": [)" + problems + "]}");
  if (!parsed) {
    ADD_FAILURE() << llvm::toString(parsed.takeError());
    return {};
  }
  return std::move(*parsed);
}

BuildOptions quick_tuning() {
  BuildOptions options;
  options.tune_options.warmup_runs = 0;
  options.tune_options.budget_ms_per_candidate = 0;
  options.tune_options.max_samples = 3;
  options.tune_options.compile_threads = 2;
  return options;
}

void expect_duplicates_of_the_first(const std::vector<WarmOutcome>& outcomes) {
  for (size_t i = 1; i < outcomes.size(); ++i) {
    EXPECT_EQ(outcomes[i].duplicate_of, std::optional<size_t>(0)) << i;
    EXPECT_EQ(outcomes[i].what_happened(), "duplicate of entry 1");
    EXPECT_TRUE(outcomes[i].ok());
    EXPECT_EQ(outcomes[i].kernel_key, outcomes[0].kernel_key);
  }
}

// On a GPU: one tuning run and one load, not forty (the repeats were each loaded from the cache).
TEST(WarmDuplicates, ARepeatedProblemIsTunedOnce) {
  cache::testing::ScratchDir dir;
  const std::vector<Problem> problems = repeated_manifest();
  ASSERT_EQ(problems.size(), 40u);
  auto record = std::make_shared<FakeDeviceRecord>();
  auto cache = open_tuning_cache(dir.file("c.sqlite"));
  ASSERT_TRUE(static_cast<bool>(cache)) << llvm::toString(cache.takeError());
  const KernelBuilder builder(std::make_unique<FakeBuildDevice>(record), std::move(*cache), quick_tuning());

  const std::vector<WarmOutcome> outcomes = warm(builder, problems);
  ASSERT_EQ(outcomes.size(), 40u);
  EXPECT_EQ(outcomes[0].what_happened(), "tuned and stored");
  EXPECT_FALSE(outcomes[0].duplicate_of.has_value());
  expect_duplicates_of_the_first(outcomes);
  EXPECT_EQ(record->tuning_backends, 1);
  EXPECT_EQ(record->loads, 1);
}

// Without a cache to find the first one in, the repeats would each be compiled again.
TEST(WarmDuplicates, ARepeatedProblemIsCompiledOnceEvenWithoutACache) {
  const std::vector<Problem> problems = repeated_manifest();
  auto record = std::make_shared<FakeDeviceRecord>();
  BuildOptions compile_only;
  compile_only.tune = false;
  const KernelBuilder builder(std::make_unique<FakeBuildDevice>(record, /*can_run=*/false), nullptr, compile_only);

  const std::vector<WarmOutcome> outcomes = warm(builder, problems);
  ASSERT_EQ(outcomes.size(), 40u);
  expect_duplicates_of_the_first(outcomes);
  EXPECT_EQ(record->compiles, 1);
}

}  // namespace
}  // namespace flashjit
