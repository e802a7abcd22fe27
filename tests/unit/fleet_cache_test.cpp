// The fleet's remote tier through the kernel builder, on a scripted fake GPU, real SQLite files and
// a real redis-server: a winner tuned in one process serves another without tuning; a remote kernel
// still passes the tuner's correctness check; nothing the server does fails a build or loses a
// local entry; and sixteen processes warming one manifest tune each problem once.
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "generator/spec_json.h"
#include "helpers/problems.h"
#include "helpers/redis_server.h"
#include "runtime/cache_entries.h"
#include "runtime/kernel_builder.h"
#include "runtime/open_cache.h"
#include "runtime/warm.h"
#include "tuner/manifest.h"
#include "unit/cache_test_support.h"
#include "unit/fake_build_device.h"
#include "unit/remote_test_support.h"

namespace flashjit {
namespace {

using cache::remote_testing::kFleetKey;
using testing::FakeBuildDevice;
using testing::FakeDeviceRecord;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

BuildOptions quick_tuning(bool tune = true) {
  BuildOptions options;
  options.tune = tune;
  options.tune_options.warmup_runs = 0;
  options.tune_options.budget_ms_per_candidate = 0;
  options.tune_options.max_samples = 3;
  options.tune_options.compile_threads = 2;
  return options;
}

std::vector<Problem> shipped_manifest() {
  std::ifstream in(FLASHJIT_SOURCE_DIR "/examples/deploy-manifest.json");
  std::stringstream text;
  text << in.rdbuf();
  auto problems = tuner::parse_manifest(text.str());
  if (!problems) ADD_FAILURE() << llvm::toString(problems.takeError());
  return problems ? std::move(*problems) : std::vector<Problem>{};
}

// What `processes` processes warming `problems` at once against one server did, each with its own
// SQLite file and single flight waiting up to `wait_ms` (0: no lock).
struct FleetRun {
  int timed = 0, published = 0, failed = 0;
  uint64_t locks = 0;
  std::vector<size_t> local_entries;
};

class FleetCache : public cache::remote_testing::RedisTest {
 protected:
  // A builder as one process of the fleet would have it: its own SQLite file, the shared server.
  std::unique_ptr<KernelBuilder> builder(const std::shared_ptr<FakeDeviceRecord>& record, const std::string& sqlite,
                                         BuildOptions options = quick_tuning(), bool can_run = true,
                                         const std::string& key = kFleetKey, int wait_ms = 20000) {
    auto local = open_tuning_cache(dir.file(sqlite));
    if (!local) ADD_FAILURE() << llvm::toString(local.takeError());
    auto remote = cache::remote_testing::remote_for(server->url(), key, 200, false, 30000, 60000, wait_ms);
    return std::make_unique<KernelBuilder>(std::make_unique<FakeBuildDevice>(record, can_run),
                                           local ? std::move(*local) : nullptr, options, std::move(remote));
  }
  size_t local_entries(const std::string& sqlite) {
    auto local = open_tuning_cache(dir.file(sqlite));
    if (!local) return 0;
    auto rows = (*local)->list();
    return rows ? rows->size() : 0;
  }
  FleetRun warm_fleet(const std::vector<Problem>& problems, int processes, const std::string& name, int wait_ms);
  // Another process tunes `problem` and publishes its winner: the winner's kernel key ("" on failure).
  std::string publish_a_winner() {
    auto writer = std::make_shared<FakeDeviceRecord>();
    auto published = builder(writer, "publisher.sqlite")->obtain(problem);
    if (!published) {
      ADD_FAILURE() << llvm::toString(published.takeError());
      return {};
    }
    return gen::canonical_key(published->spec);
  }
  size_t remote_entries() {
    auto keys = cache::remote_testing::remote_for(server->url(), kFleetKey, 200)->entry_keys();
    return keys ? keys->size() : 0;
  }

  cache::testing::ScratchDir dir;
  const Problem problem = flashjit::testing::problem_with(DType::bf16, 128, MaskKind::causal);
};

FleetRun FleetCache::warm_fleet(const std::vector<Problem>& problems, int processes, const std::string& name,
                                int wait_ms) {
  std::vector<cache::testing::ChildProcess> children;
  for (int p = 0; p < processes; ++p) {
    children.push_back(cache::testing::ChildProcess::start([&, p] {
      auto record = std::make_shared<FakeDeviceRecord>();
      record->time_delay = std::chrono::milliseconds(30);  // a tuning long enough for the others to overlap it
      auto b = builder(record, name + std::to_string(p) + ".sqlite", quick_tuning(), true, kFleetKey, wait_ms);
      const std::vector<WarmOutcome> outcomes = warm(*b, problems);
      nlohmann::json report = {{"timed", record->timed_backends}, {"published", 0}, {"failed", 0}};
      for (const WarmOutcome& o : outcomes) {
        if (!o.ok()) report["failed"] = report["failed"].get<int>() + 1;
        if (o.published == cache::StoreOutcome::added || o.published == cache::StoreOutcome::replaced)
          report["published"] = report["published"].get<int>() + 1;
      }
      report["locks_taken"] = b->remote()->counters().locks_taken;
      return report.dump();
    }));
  }
  FleetRun run;
  for (int p = 0; p < processes; ++p) {
    const std::string text = children[p].wait();
    auto report = nlohmann::json::parse(text, nullptr, false);
    if (report.is_discarded() || !report.is_object()) {
      ADD_FAILURE() << "process " << p << ": " << text;
      ++run.failed;
      continue;
    }
    run.failed += report["failed"].get<int>();
    run.timed += report["timed"].get<int>();
    run.published += report["published"].get<int>();
    run.locks += report["locks_taken"].get<uint64_t>();
    run.local_entries.push_back(local_entries(name + std::to_string(p) + ".sqlite"));
  }
  return run;
}

// The round trip of the issue, in two processes: one tunes and publishes; another, with an empty
// SQLite file, gets the entry from Redis, checks it, runs it without tuning and stores it locally;
// a third, with that file and no remote tier, finds it there.
TEST_F(FleetCache, AWinnerTunedInOneProcessServesAnotherWithoutTuning) {
  const std::string first = cache::testing::run_in_child([&] {
    auto record = std::make_shared<FakeDeviceRecord>();
    auto built = builder(record, "first.sqlite")->obtain(problem);
    if (!built) return "error: " + llvm::toString(built.takeError());
    return std::string(kernel_origin_name(built->origin)) + " published=" +
           (built->published ? cache::store_outcome_name(*built->published) : built->publish_error) +
           " timed=" + std::to_string(record->timed_backends) + " key=" + gen::canonical_key(built->spec);
  });
  ASSERT_EQ(first.rfind("tuned published=added timed=1 key=", 0), 0u) << first;
  const std::string winner = first.substr(first.find("key=") + 4);

  const std::string second = cache::testing::run_in_child([&] {
    auto record = std::make_shared<FakeDeviceRecord>();
    auto built = builder(record, "second.sqlite")->obtain(problem);
    if (!built) return "error: " + llvm::toString(built.takeError());
    std::string checks;
    return std::string(kernel_origin_name(built->origin)) + " stored=" +
           (built->stored ? cache::store_outcome_name(*built->stored) : "no") +
           " timed=" + std::to_string(record->timed_backends) + " compiles=" + std::to_string(record->compiles) +
           " checks=" + std::to_string(record->tuning_backends) + " loaded=" +
           (record->loaded_keys.empty() ? "" : record->loaded_keys.back()) + " key=" + gen::canonical_key(built->spec);
  });
  EXPECT_EQ(second, "remote stored=added timed=0 compiles=0 checks=1 loaded=" + winner + " key=" + winner);

  auto record = std::make_shared<FakeDeviceRecord>();
  auto local = open_tuning_cache(dir.file("second.sqlite"));
  ASSERT_TRUE(bool(local));
  KernelBuilder offline(std::make_unique<FakeBuildDevice>(record), std::move(*local), quick_tuning());
  auto built = offline.obtain(problem);
  ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::cache);
  EXPECT_EQ(gen::canonical_key(built->spec), winner);
  EXPECT_EQ(record->tuning_backends, 0);
}

// Signed by the fleet is not right on this GPU: a kernel that fails the tuner's check here is not
// run; this GPU tunes, and its winner replaces the remote one.
TEST_F(FleetCache, ARemoteKernelThatFailsTheCorrectnessCheckHereIsNotRun) {
  const std::string bad = publish_a_winner();
  ASSERT_FALSE(bad.empty());

  auto reader = std::make_shared<FakeDeviceRecord>();
  reader->scripts[bad].mismatch = "max error 3.5 at (0, 1, 2)";
  auto b = builder(reader, "b.sqlite");
  llvm::Expected<BuiltKernel> built = make_error(ErrorCode::internal, "not run");
  const std::string warnings = cache::testing::captured_warnings([&] { built = b->obtain(problem); });
  ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::tuned);
  EXPECT_NE(gen::canonical_key(built->spec), bad);
  EXPECT_EQ(built->published, std::optional<cache::StoreOutcome>(cache::StoreOutcome::replaced));
  EXPECT_EQ(b->remote()->counters().rejected, 1u);
  if (cache::testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("failed the correctness check on this GPU: its output is wrong: max error 3.5"),
              std::string::npos)
        << warnings;
  }
  EXPECT_EQ(std::count(reader->loaded_keys.begin(), reader->loaded_keys.end(), bad), 0);
}

// `flashjit tune`, a deliberate re-tune: its winner replaces what the remote cache held.
TEST_F(FleetCache, ADeliberateRetuneIsPublishedOverTheRemoteEntry) {
  auto record = std::make_shared<FakeDeviceRecord>();
  auto b = builder(record, "tune.sqlite");
  ASSERT_TRUE(bool(b->obtain(problem)));
  auto result = b->tune(problem);
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());
  auto published = b->publish_tuned(problem, *result);
  ASSERT_TRUE(bool(published)) << llvm::toString(published.takeError());
  EXPECT_EQ(*published, cache::StoreOutcome::replaced);
  auto offline = std::make_shared<FakeDeviceRecord>();
  KernelBuilder no_remote(std::make_unique<FakeBuildDevice>(offline), nullptr, quick_tuning());
  auto refused = no_remote.publish_tuned(problem, *result);
  ASSERT_FALSE(bool(refused));
  EXPECT_EQ(llvm::toString(refused.takeError()), "there is no remote tuning cache to publish to");
}

// A check that could not run here (no memory for its inputs, say) says nothing of the kernel: it is
// not run, and the fleet's entry stays.
TEST_F(FleetCache, ACheckThatCouldNotRunHereLeavesTheRemoteEntryAlone) {
  const std::string remote_winner = publish_a_winner();
  ASSERT_FALSE(remote_winner.empty());

  auto reader = std::make_shared<FakeDeviceRecord>();
  reader->scripts[remote_winner].check_fails = true;
  auto b = builder(reader, "b.sqlite");
  auto built = b->obtain(problem);
  ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::tuned);
  EXPECT_EQ(built->published, std::optional<cache::StoreOutcome>(cache::StoreOutcome::kept_existing));
  EXPECT_EQ(b->remote()->counters().rejected, 1u);
}

// A build machine warms the fleet: untuned kernels compiled for the architecture serve GPUs that do
// not tune, and are tuned over by GPUs that do.
TEST_F(FleetCache, ABuildMachineWarmsTheFleetForItsArchitecture) {
  const std::vector<Problem> problems = shipped_manifest();
  auto build_machine = std::make_shared<FakeDeviceRecord>();
  const auto warmed = warm(*builder(build_machine, "build.sqlite", quick_tuning(false), /*can_run=*/false), problems);
  for (const WarmOutcome& outcome : warmed) EXPECT_EQ(outcome.what_happened(), "stored (untuned); published");
  EXPECT_EQ(remote_entries(), problems.size());

  auto serving = std::make_shared<FakeDeviceRecord>();
  auto untuned = builder(serving, "serving.sqlite", quick_tuning(false))->obtain(problems[0]);
  ASSERT_TRUE(bool(untuned)) << llvm::toString(untuned.takeError());
  EXPECT_EQ(untuned->origin, KernelOrigin::remote);
  EXPECT_EQ(serving->compiles, 0);
  EXPECT_EQ(serving->tuning_backends, 0);  // no check without tuning: nothing to check against

  auto tuning = std::make_shared<FakeDeviceRecord>();
  auto tuned = builder(tuning, "tuning.sqlite")->obtain(problems[0]);
  ASSERT_TRUE(bool(tuned)) << llvm::toString(tuned.takeError());
  EXPECT_EQ(tuned->origin, KernelOrigin::tuned);
  EXPECT_EQ(tuned->published, std::optional<cache::StoreOutcome>(cache::StoreOutcome::added));  // the exact key
}

// Whatever the server does, the build goes on and the local cache gets its entry.
TEST_F(FleetCache, NothingTheServerDoesFailsABuildOrLosesALocalEntry) {
  auto record = std::make_shared<FakeDeviceRecord>();
  auto b = builder(record, "local.sqlite");
  const std::vector<Problem> problems = shipped_manifest();
  ASSERT_GE(problems.size(), 4u);
  ASSERT_TRUE(bool(b->obtain(problems[0])));

  // A value of another type where the next problem's entry would be: rejected, then replaced.
  const cache::CacheKey key1 = cache_key_for(b->device().description(), b->device().compiler(), problems[1]);
  ASSERT_TRUE(bool(server->command({"SET", cache::RemoteCache::entry_key(key1), "garbage"})));
  auto second = b->obtain(problems[1]);
  ASSERT_TRUE(bool(second)) << llvm::toString(second.takeError());
  EXPECT_EQ(second->origin, KernelOrigin::tuned);
  EXPECT_EQ(second->published, std::optional<cache::StoreOutcome>(cache::StoreOutcome::replaced));

  // Stopped: every call costs at most the timeouts once, then nothing.
  server->stop_process();
  auto start = Clock::now();
  auto third = b->obtain(problems[2]);
  server->continue_process();
  ASSERT_TRUE(bool(third)) << llvm::toString(third.takeError());
  EXPECT_EQ(third->origin, KernelOrigin::tuned);
  EXPECT_EQ(third->stored, std::optional<cache::StoreOutcome>(cache::StoreOutcome::added));
  EXPECT_FALSE(third->published.has_value());
  EXPECT_NE(third->publish_error.find("unavailable"), std::string::npos) << third->publish_error;
  EXPECT_LT(ms_since(start), 2 * 200 + cache::remote_testing::kSlackMs + 1000);  // the fake tuning takes little

  // Killed mid-run.
  server->kill();
  auto fourth = b->obtain(problems[3]);
  ASSERT_TRUE(bool(fourth)) << llvm::toString(fourth.takeError());
  EXPECT_EQ(fourth->stored, std::optional<cache::StoreOutcome>(cache::StoreOutcome::added));
  EXPECT_EQ(local_entries("local.sqlite"), 4u);
  EXPECT_EQ(b->remote()->counters().failures, 1u);  // the breaker opened once, at the stop
}

// Two processes ask for one problem at once: the second waits for the first's result.
TEST_F(FleetCache, ASecondProcessWaitsForTheFirstsTuningInsteadOfTuningAgain) {
  auto first_record = std::make_shared<FakeDeviceRecord>();
  first_record->time_delay = std::chrono::milliseconds(20);
  auto second_record = std::make_shared<FakeDeviceRecord>();
  auto first = builder(first_record, "first.sqlite");
  auto second = builder(second_record, "second.sqlite");
  llvm::Expected<BuiltKernel> first_built = make_error(ErrorCode::internal, "not run");
  std::thread tuner([&] { first_built = first->obtain(problem); });
  // Until the first holds the lock.
  const cache::CacheKey key = cache_key_for(first->device().description(), first->device().compiler(), problem);
  for (int i = 0; i < 500; ++i) {
    auto held = server->command({"EXISTS", cache::RemoteCache::lock_key(key)});
    if (held && *held == "1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto second_built = second->obtain(problem);
  tuner.join();
  ASSERT_TRUE(bool(first_built)) << llvm::toString(first_built.takeError());
  ASSERT_TRUE(bool(second_built)) << llvm::toString(second_built.takeError());
  EXPECT_EQ(first_built->origin, KernelOrigin::tuned);
  EXPECT_EQ(second_built->origin, KernelOrigin::remote);
  EXPECT_EQ(first_record->timed_backends, 1);
  EXPECT_EQ(second_record->timed_backends, 0);
  EXPECT_GE(second->remote()->counters().locks_found_held, 1u);
}

// A tuner that holds the lock and never publishes (it crashed) delays the others by the wait bound,
// not forever.
TEST_F(FleetCache, AWaiterTunesItselfAfterTheWaitBound) {
  auto record = std::make_shared<FakeDeviceRecord>();
  auto b = builder(record, "b.sqlite", quick_tuning(), true, kFleetKey, /*wait_ms=*/300);
  const cache::CacheKey key = cache_key_for(b->device().description(), b->device().compiler(), problem);
  ASSERT_TRUE(bool(server->command({"SET", cache::RemoteCache::lock_key(key), "crashed-tuner", "PX", "60000"})));
  const auto start = Clock::now();
  auto built = b->obtain(problem);
  const double ms = ms_since(start);
  ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::tuned);
  EXPECT_GE(ms, 300.0);
  EXPECT_LT(ms, 300.0 + 200.0 + cache::remote_testing::kSlackMs + 1000);
}

// Sixteen processes warm one manifest against one server, each with its own SQLite file: each
// problem is tuned once in the fleet and written to Redis once, and every process ends warm.
TEST_F(FleetCache, SixteenProcessesWarmingOneManifestTuneEachProblemOnce) {
  const std::vector<Problem> problems = shipped_manifest();
  const FleetRun run = warm_fleet(problems, 16, "locked", 20000);
  EXPECT_EQ(run.failed, 0);
  EXPECT_EQ(run.timed, static_cast<int>(problems.size()));
  EXPECT_EQ(run.published, static_cast<int>(problems.size()));
  EXPECT_EQ(remote_entries(), problems.size());
  for (size_t entries : run.local_entries) EXPECT_EQ(entries, problems.size());
  // Each tuning happened under a lock; a process that took a lock after the winner was published
  // found it there and did not tune.
  EXPECT_GE(run.locks, problems.size());
  RecordProperty("tunings", run.timed);
}

// The same without the lock: the processes that start together all tune (the count the lock saves).
TEST_F(FleetCache, WithoutTheLockProcessesStartingTogetherTuneAgain) {
  const std::vector<Problem> problems = shipped_manifest();
  const FleetRun run = warm_fleet(problems, 16, "unlocked", 0);
  EXPECT_EQ(run.failed, 0);
  EXPECT_GT(run.timed, static_cast<int>(problems.size()));
  EXPECT_EQ(run.locks, 0u);
  for (size_t entries : run.local_entries) EXPECT_EQ(entries, problems.size());
  RecordProperty("tunings", run.timed);
}

}  // namespace
}  // namespace flashjit
