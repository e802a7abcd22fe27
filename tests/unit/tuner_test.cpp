// The tuning loop against a scripted fake backend: which candidate wins, how failures and wrong
// answers are reported, and that the choice is deterministic under timing noise.
#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "helpers/errors.h"
#include "tuner/tuner.h"
#include "unit/tuner_fake_backend.h"

namespace flashjit::tuner {
namespace {

using testing::FakeBackend;
using testing::Script;

gen::KernelSpec tile(int block_m, int block_n = 32, int warps = 4) {
  gen::KernelSpec spec;
  spec.variant = Variant::generic;
  spec.arch = 61;
  spec.dtype = DType::f32;
  spec.head_dim = 64;
  spec.block_m = block_m;
  spec.block_n = block_n;
  spec.warps = warps;
  return spec;
}

std::string key(const gen::KernelSpec& spec) { return gen::canonical_key(spec); }

CandidateList list_of(const std::vector<gen::KernelSpec>& specs) {
  CandidateList list;
  list.specs = specs;
  return list;
}

Script timed(double median_ms, int registers = 32) {
  Script script;
  script.rounds = {{median_ms}};
  script.registers = registers;
  return script;
}

TuneOptions quiet_options() {
  TuneOptions options;
  options.compile_threads = 2;
  return options;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const CandidateReport& report_for(const TuneResult& result, const gen::KernelSpec& spec) {
  for (const CandidateReport& report : result.candidates)
    if (report.key == key(spec)) return report;
  static const CandidateReport missing{};
  ADD_FAILURE() << "no report for " << key(spec);
  return missing;
}

TuneResult tuned(const CandidateList& list, FakeBackend& backend, const TuneOptions& options = quiet_options()) {
  auto result = tune(list, backend, options);
  if (!result) {
    ADD_FAILURE() << llvm::toString(result.takeError());
    return {};
  }
  return std::move(*result);
}

std::string tune_error(const CandidateList& list, FakeBackend& backend, ErrorCode code,
                       const TuneOptions& options = quiet_options()) {
  auto result = tune(list, backend, options);
  if (result) {
    ADD_FAILURE() << "tune unexpectedly chose " << result->winner.key;
    return "";
  }
  return flashjit::testing::message_of(result.takeError(), code);
}

TEST(Summarize, MedianAndQuantilesInterpolateLinearly) {
  const Timing odd = summarize({5.0, 1.0, 4.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(odd.median_ms, 3.0);
  EXPECT_NEAR(odd.p20_ms, 1.8, 1e-12);
  EXPECT_NEAR(odd.p80_ms, 4.2, 1e-12);
  EXPECT_EQ(odd.samples, 5);

  const Timing even = summarize({4.0, 1.0, 3.0, 2.0});
  EXPECT_DOUBLE_EQ(even.median_ms, 2.5);
  EXPECT_NEAR(even.p20_ms, 1.6, 1e-12);
  EXPECT_NEAR(even.p80_ms, 3.4, 1e-12);

  const Timing one = summarize({7.0});
  EXPECT_DOUBLE_EQ(one.median_ms, 7.0);
  EXPECT_DOUBLE_EQ(one.p20_ms, 7.0);
  EXPECT_DOUBLE_EQ(one.p80_ms, 7.0);

  const Timing none = summarize({});
  EXPECT_EQ(none.samples, 0);
  EXPECT_DOUBLE_EQ(none.median_ms, 0.0);
}

TEST(Summarize, AnOutlierDoesNotMoveTheMedian) {
  EXPECT_DOUBLE_EQ(summarize({1.0, 1.0, 1.0, 1.0, 100.0}).median_ms, 1.0);
}

TEST(Tune, CompilesEveryCandidateOnceInParallelAndTheRestOnTheCallingThread) {
  std::vector<gen::KernelSpec> specs;
  for (int m : {8, 16, 32, 64})
    for (int n : {32, 64, 128}) specs.push_back(tile(m, n, 4));
  FakeBackend backend;
  backend.require_overlap = true;
  TuneOptions options = quiet_options();
  options.compile_threads = 4;

  tuned(list_of(specs), backend, options);

  EXPECT_EQ(backend.total_compiles(), static_cast<int>(specs.size()));
  for (const gen::KernelSpec& spec : specs) EXPECT_EQ(backend.compile_counts[key(spec)], 1) << key(spec);
  EXPECT_GE(backend.max_in_flight, 2) << "the compiles never overlapped";
  EXPECT_LE(backend.max_in_flight, 4);
  // Load, time and check touch the device context: all on the caller's thread.
  for (std::thread::id id : backend.sequential_threads) EXPECT_EQ(id, std::this_thread::get_id());
  EXPECT_EQ(backend.calls_of("load").size(), specs.size());
}

TEST(Tune, CompileLoadAndLaunchFailuresAreReportedNotFatal) {
  const gen::KernelSpec bad_compile = tile(8), bad_load = tile(16), bad_launch = tile(32), good = tile(64);
  FakeBackend backend;
  backend.scripts[key(bad_compile)].compile_fails = true;
  backend.scripts[key(bad_load)].load_fails = true;
  backend.scripts[key(bad_launch)].time_fails = true;
  backend.scripts[key(good)] = timed(9.0);

  const TuneResult result = tuned(list_of({bad_compile, bad_load, bad_launch, good}), backend);

  EXPECT_EQ(result.winner.key, key(good));
  EXPECT_EQ(report_for(result, bad_compile).status, CandidateStatus::compile_failed);
  EXPECT_TRUE(contains(report_for(result, bad_compile).detail, "fake compile error"));
  EXPECT_EQ(report_for(result, bad_load).status, CandidateStatus::load_failed);
  EXPECT_TRUE(contains(report_for(result, bad_load).detail, "fake load error"));
  EXPECT_EQ(report_for(result, bad_launch).status, CandidateStatus::launch_failed);
  EXPECT_TRUE(contains(report_for(result, bad_launch).detail, "fake launch error"));
  EXPECT_TRUE(std::isinf(report_for(result, bad_compile).timing.median_ms));
  // A candidate that never loaded is never timed.
  const auto timed_keys = backend.calls_of("time");
  EXPECT_EQ(std::count(timed_keys.begin(), timed_keys.end(), key(bad_load)), 0);
}

// A candidate whose fault takes the device down stops the tuning at once: every later launch would
// fail the same way, so none is attempted, and the error names the culprit and the fault.
TEST(Tune, ADeviceLostToAFaultStopsTuningAndSaysWhich) {
  const gen::KernelSpec first = tile(8), culprit = tile(16), after = tile(32);
  FakeBackend backend;
  backend.scripts[key(first)] = timed(5.0);
  backend.scripts[key(culprit)].faults_device = true;
  backend.scripts[key(after)] = timed(1.0);

  const std::string error = tune_error(list_of({first, culprit, after}), backend, ErrorCode::driver_error);

  EXPECT_TRUE(contains(error, "tuning stopped: the GPU context was lost while running " + key(culprit) +
                                  ": fake CUDA_ERROR_ILLEGAL_ADDRESS"))
      << error;
  const auto timed_keys = backend.calls_of("time");
  EXPECT_EQ(std::count(timed_keys.begin(), timed_keys.end(), key(after)), 0) << "timed after the device was lost";
  EXPECT_TRUE(backend.calls_of("check").empty()) << "checked after the device was lost";
}

// An ordinary launch failure is that candidate's alone: the backend is asked, says the device is
// fine, and the tuning goes on.
TEST(Tune, AnOrdinaryLaunchFailureAsksWhetherTheDeviceIsLostAndGoesOn) {
  const gen::KernelSpec bad = tile(8), good = tile(16);
  FakeBackend backend;
  backend.scripts[key(bad)].time_fails = true;
  backend.scripts[key(good)] = timed(3.0);
  const TuneResult result = tuned(list_of({bad, good}), backend);
  EXPECT_EQ(result.winner.key, key(good));
  EXPECT_FALSE(backend.calls_of("device_lost?").empty());
}

TEST(Tune, TheFastestCorrectCandidateWins) {
  const gen::KernelSpec slow = tile(8), fast = tile(16), middle = tile(32);
  FakeBackend backend;
  backend.scripts[key(slow)] = timed(3.0);
  backend.scripts[key(fast)] = timed(1.0);
  backend.scripts[key(middle)] = timed(2.0);
  TuneOptions options = quiet_options();
  options.finalists = 2;

  const TuneResult result = tuned(list_of({slow, fast, middle}), backend, options);

  EXPECT_EQ(result.winner.key, key(fast));
  EXPECT_DOUBLE_EQ(result.timing.median_ms, 1.0);
  EXPECT_NE(result.winner.loaded, nullptr) << "the winner must stay loaded";
  EXPECT_TRUE(report_for(result, fast).finalist);
  EXPECT_TRUE(report_for(result, middle).finalist);
  EXPECT_FALSE(report_for(result, slow).finalist);
  EXPECT_EQ(report_for(result, slow).status, CandidateStatus::ok);
  EXPECT_TRUE(contains(report_for(result, fast).detail, "winner"));
  ASSERT_EQ(result.candidates.size(), 3u);
}

TEST(Tune, AFasterButWrongCandidateLoses) {
  const gen::KernelSpec wrong = tile(8), right = tile(16);
  FakeBackend backend;
  backend.scripts[key(wrong)] = timed(1.0);
  backend.scripts[key(wrong)].mismatch = "max abs error 0.5 at row 3";
  backend.scripts[key(right)] = timed(2.0);

  const TuneResult result = tuned(list_of({wrong, right}), backend);

  EXPECT_EQ(result.winner.key, key(right));
  EXPECT_EQ(report_for(result, wrong).status, CandidateStatus::wrong_result);
  EXPECT_TRUE(contains(report_for(result, wrong).detail, "max abs error 0.5"));
}

TEST(Tune, WhenEveryFinalistIsWrongTheNextCorrectCandidateWins) {
  const gen::KernelSpec a = tile(8), b = tile(16), c = tile(32), d = tile(64);
  FakeBackend backend;
  backend.scripts[key(a)] = timed(1.0);
  backend.scripts[key(a)].mismatch = "nan in output";
  backend.scripts[key(b)] = timed(1.1);
  backend.scripts[key(b)].mismatch = "max abs error 2";
  backend.scripts[key(c)] = timed(3.0);
  backend.scripts[key(d)] = timed(2.0);
  TuneOptions options = quiet_options();
  options.finalists = 2;

  const TuneResult result = tuned(list_of({a, b, c, d}), backend, options);

  EXPECT_EQ(result.winner.key, key(d));
  EXPECT_FALSE(report_for(result, d).finalist);
  EXPECT_EQ(report_for(result, a).status, CandidateStatus::wrong_result);
  EXPECT_EQ(report_for(result, b).status, CandidateStatus::wrong_result);
  // c is slower than d: it need not be checked once d is correct.
  EXPECT_EQ(backend.calls_of("check"), (std::vector<std::string>{key(a), key(b), key(d)}));
}

TEST(Tune, ACheckThatCannotRunIsReportedNotFatal) {
  const gen::KernelSpec broken = tile(8), fine = tile(16);
  FakeBackend backend;
  backend.scripts[key(broken)] = timed(1.0);
  backend.scripts[key(broken)].check_fails = true;
  backend.scripts[key(fine)] = timed(2.0);

  const TuneResult result = tuned(list_of({broken, fine}), backend);

  EXPECT_EQ(result.winner.key, key(fine));
  EXPECT_EQ(report_for(result, broken).status, CandidateStatus::launch_failed);
  EXPECT_TRUE(contains(report_for(result, broken).detail, "fake check launch error"));
}

// Near-ties: with timings that differ by less than the tolerance, the winner is the same whichever
// of the two measured faster.
std::string winner_of_two(const gen::KernelSpec& a, const Script& sa, const gen::KernelSpec& b, const Script& sb) {
  FakeBackend backend;
  backend.scripts[key(a)] = sa;
  backend.scripts[key(b)] = sb;
  return tuned(list_of({a, b}), backend).winner.key;
}

TEST(Tune, NearTiesGoToFewestRegistersWhicheverMeasuredFaster) {
  const gen::KernelSpec heavy = tile(8), light = tile(16);
  EXPECT_EQ(winner_of_two(heavy, timed(1.00, 64), light, timed(1.02, 40)), key(light));
  EXPECT_EQ(winner_of_two(heavy, timed(1.02, 64), light, timed(1.00, 40)), key(light));
}

TEST(Tune, NearTiesWithEqualRegistersGoToTheSmallestKey) {
  const gen::KernelSpec a = tile(16), b = tile(8);
  const std::string smaller = std::min(key(a), key(b));
  EXPECT_EQ(winner_of_two(a, timed(1.00, 48), b, timed(1.01, 48)), smaller);
  EXPECT_EQ(winner_of_two(a, timed(1.01, 48), b, timed(1.00, 48)), smaller);
}

TEST(Tune, OutsideTheToleranceTheFasterWins) {
  const gen::KernelSpec heavy = tile(8), light = tile(16);
  EXPECT_EQ(winner_of_two(heavy, timed(1.00, 64), light, timed(1.10, 40)), key(heavy));
}

TEST(Tune, TheWinnerDetailExplainsATieBreak) {
  const gen::KernelSpec heavy = tile(8), light = tile(16);
  FakeBackend backend;
  backend.scripts[key(heavy)] = timed(1.00, 64);
  backend.scripts[key(light)] = timed(1.02, 40);
  const TuneResult result = tuned(list_of({heavy, light}), backend);
  EXPECT_TRUE(contains(report_for(result, light).detail, "fewest registers")) << report_for(result, light).detail;
}

TEST(Tune, TheReTimingDecidesAndRunsInCandidateOrder) {
  const gen::KernelSpec a = tile(8), b = tile(16), c = tile(32);
  FakeBackend backend;
  backend.scripts[key(a)].rounds = {{1.2}, {1.0}};
  backend.scripts[key(b)].rounds = {{1.0}, {1.5}};
  backend.scripts[key(c)].rounds = {{1.6}, {0.5}};  // would win a re-timing, but is no finalist
  TuneOptions options = quiet_options();
  options.finalists = 2;

  const TuneResult result = tuned(list_of({a, b, c}), backend, options);

  EXPECT_EQ(result.winner.key, key(a));
  EXPECT_DOUBLE_EQ(result.timing.median_ms, 1.0);
  EXPECT_DOUBLE_EQ(report_for(result, b).timing.median_ms, 1.5);
  EXPECT_FALSE(report_for(result, c).finalist);
  // First round in candidate order, then the finalists in candidate order (a before b even though
  // b measured faster in the first round).
  EXPECT_EQ(backend.calls_of("time"), (std::vector<std::string>{key(a), key(b), key(c), key(a), key(b)}));
}

TEST(Tune, WhenEverythingFailsTheErrorNamesEachReason) {
  const gen::KernelSpec a = tile(8), b = tile(16), c = tile(32), d = tile(64);
  FakeBackend backend;
  backend.scripts[key(a)].compile_fails = true;
  backend.scripts[key(b)].load_fails = true;
  backend.scripts[key(c)].time_fails = true;
  backend.scripts[key(d)].mismatch = "max abs error 3";

  const std::string error = tune_error(list_of({a, b, c, d}), backend, ErrorCode::launch_error);

  EXPECT_TRUE(contains(error, "no tuning candidate survived")) << error;
  EXPECT_TRUE(contains(error, "1 compile_failed")) << error;
  EXPECT_TRUE(contains(error, "1 wrong_result")) << error;
  for (const std::string& part : {key(a) + ": compile_failed, fake compile error", key(b) + ": load_failed",
                                  key(c) + ": launch_failed", key(d) + ": wrong_result, max abs error 3"})
    EXPECT_TRUE(contains(error, part)) << part << " missing from: " << error;
}

TEST(Tune, MaxCandidatesLimitsTheWorkAndKeepsTheFirst) {
  const std::vector<gen::KernelSpec> specs = {tile(32), tile(8), tile(16), tile(64), tile(32, 64)};
  FakeBackend backend;
  backend.scripts[key(specs[0])] = timed(4.0);
  backend.scripts[key(specs[1])] = timed(3.0);
  backend.scripts[key(specs[2])] = timed(1.0);  // fastest, but past the limit
  TuneOptions options = quiet_options();
  options.max_candidates = 2;

  const TuneResult result = tuned(list_of(specs), backend, options);

  EXPECT_EQ(backend.total_compiles(), 2);
  EXPECT_EQ(backend.compile_counts[key(specs[0])], 1);
  EXPECT_EQ(result.winner.key, key(specs[1]));
  ASSERT_EQ(result.candidates.size(), specs.size());
  EXPECT_EQ(report_for(result, specs[2]).status, CandidateStatus::not_timed);
  EXPECT_TRUE(contains(report_for(result, specs[2]).detail, "max_candidates"));
}

TEST(Tune, PrunedCandidatesAreInTheResult) {
  CandidateList list = list_of({tile(8)});
  CandidateReport pruned;
  pruned.spec = tile(64, 128, 1);
  pruned.key = key(pruned.spec);
  pruned.status = CandidateStatus::pruned;
  pruned.detail = "needs too much shared memory";
  list.pruned.push_back(pruned);
  FakeBackend backend;

  const TuneResult result = tuned(list, backend);

  ASSERT_EQ(result.candidates.size(), 2u);
  EXPECT_EQ(report_for(result, pruned.spec).status, CandidateStatus::pruned);
  EXPECT_EQ(backend.compile_counts.count(pruned.key), 0u);
}

TEST(Tune, ProgressCoversCompileTimeAndCheck) {
  FakeBackend backend;
  std::vector<std::string> seen;
  auto result = tune(list_of({tile(8), tile(16), tile(32)}), backend, quiet_options(),
                     [&](int done, int total, const std::string& what) {
                       seen.push_back(what.substr(0, what.find(' ')) + " " + std::to_string(done) + "/" +
                                      std::to_string(total));
                     });
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  const std::vector<std::string> expected = {"compile 1/3", "compile 2/3", "compile 3/3", "time 1/3",
                                             "time 2/3",    "time 3/3",    "re-time 1/3", "re-time 2/3",
                                             "re-time 3/3", "check 1/3",   "check 2/3",   "check 3/3"};
  EXPECT_EQ(seen, expected);
}

TEST(Tune, InvalidSamplesCountAsALaunchFailure) {
  const gen::KernelSpec empty = tile(8), nan = tile(16), fine = tile(32);
  FakeBackend backend;
  backend.scripts[key(empty)].rounds = {{}};
  backend.scripts[key(nan)].rounds = {{1.0, std::nan("")}};
  backend.scripts[key(fine)] = timed(2.0);

  const TuneResult result = tuned(list_of({empty, nan, fine}), backend);

  EXPECT_EQ(result.winner.key, key(fine));
  EXPECT_EQ(report_for(result, empty).status, CandidateStatus::launch_failed);
  EXPECT_TRUE(contains(report_for(result, empty).detail, "no samples"));
  EXPECT_EQ(report_for(result, nan).status, CandidateStatus::launch_failed);
}

TEST(Tune, BadOptionsAndEmptyListsAreErrors) {
  FakeBackend backend;
  TuneOptions options = quiet_options();
  options.finalists = 0;
  EXPECT_TRUE(contains(tune_error(list_of({tile(8)}), backend, ErrorCode::invalid_argument, options), "finalists must be at least 1, not 0"));
  options = quiet_options();
  options.tie_tolerance = -0.1;
  EXPECT_TRUE(contains(tune_error(list_of({tile(8)}), backend, ErrorCode::invalid_argument, options), "tie_tolerance"));
  EXPECT_EQ(backend.total_compiles(), 0);

  CandidateList only_pruned;
  only_pruned.pruned.push_back(CandidateReport{tile(64), key(tile(64)), CandidateStatus::pruned, "too big", 0, {}, false});
  const std::string error = tune_error(only_pruned, backend, ErrorCode::unsupported);
  EXPECT_TRUE(contains(error, "no candidates to tune")) << error;
  EXPECT_TRUE(contains(error, "too big")) << error;
}

// Issue 15: a KV key's split count is a tuning dimension, swept on the tile winner.
gen::KernelSpec kv_tile(int block_m, int splits = 0) {
  gen::KernelSpec spec = tile(block_m);
  spec.kv_cache = true;
  spec.splits = splits;
  return spec;
}

CandidateList kv_list(const std::vector<gen::KernelSpec>& specs, int key_splits, std::vector<int> counts) {
  CandidateList list = list_of(specs);
  list.key_splits = key_splits;
  list.split_counts = std::move(counts);
  return list;
}

const CandidateReport* report_keyed(const TuneResult& result, const std::string& wanted) {
  for (const CandidateReport& report : result.candidates)
    if (report.key == wanted) return &report;
  return nullptr;
}

TEST(TuneSplits, TheTileWinnerIsTimedAtEachSplitCountAndTheFastestWins) {
  FakeBackend backend;
  backend.timed_splits = 4;
  backend.scripts[key(kv_tile(16))] = timed(2.0);
  backend.scripts[key(kv_tile(32))] = timed(1.0);
  for (int s : {2, 4, 8}) backend.scripts[gen::launch_key(kv_tile(32, s))] = timed(s == 8 ? 0.5 : 1.0);

  const TuneResult result = tuned(kv_list({kv_tile(16), kv_tile(32)}, 4, {2, 4, 8}), backend);

  EXPECT_EQ(result.winner.spec, kv_tile(32, 8));
  EXPECT_EQ(result.winner.key, gen::launch_key(kv_tile(32, 8)));
  EXPECT_DOUBLE_EQ(result.timing.median_ms, 0.5);
  // The heuristic's count first, then the others ascending; each checked, only the tile winner swept.
  const std::vector<std::string> swept = {gen::launch_key(kv_tile(32, 4)), gen::launch_key(kv_tile(32, 2)),
                                          gen::launch_key(kv_tile(32, 8))};
  std::vector<std::string> times = backend.calls_of("time");
  ASSERT_GE(times.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(times.end() - 3, times.end()), swept);
  const std::vector<std::string> checks = backend.calls_of("check");
  for (const std::string& k : swept) {
    EXPECT_EQ(std::count(checks.begin(), checks.end(), k), 1) << k;
    ASSERT_NE(report_keyed(result, k), nullptr) << k;
  }
  EXPECT_TRUE(contains(report_keyed(result, swept[2])->detail, "split count 8 of 3 timed"))
      << report_keyed(result, swept[2])->detail;
  EXPECT_TRUE(contains(report_for(result, kv_tile(32)).detail, "timed again at each split count"));
  EXPECT_EQ(report_keyed(result, swept[0])->status, CandidateStatus::ok);
  EXPECT_EQ(backend.total_compiles(), 2);  // a split count is a launch setting: nothing recompiles
}

TEST(TuneSplits, TheHeuristicCountKeepsANearTie) {
  FakeBackend backend;
  backend.timed_splits = 6;
  backend.scripts[gen::launch_key(kv_tile(32, 6))] = timed(1.00);
  backend.scripts[gen::launch_key(kv_tile(32, 3))] = timed(0.99);
  backend.scripts[gen::launch_key(kv_tile(32, 12))] = timed(1.50);

  const TuneResult result = tuned(kv_list({kv_tile(32)}, 6, {3, 6, 12}), backend);

  EXPECT_EQ(result.winner.spec.splits, 6);
  EXPECT_TRUE(contains(report_keyed(result, gen::launch_key(kv_tile(32, 6)))->detail, "the heuristic's"));
}

TEST(TuneSplits, AWrongSplitCountLosesAndTheRestStillCompete) {
  FakeBackend backend;
  backend.timed_splits = 2;
  backend.scripts[gen::launch_key(kv_tile(32, 1))] = timed(3.0);
  backend.scripts[gen::launch_key(kv_tile(32, 2))] = timed(2.0);
  backend.scripts[gen::launch_key(kv_tile(32, 4))] = timed(0.5);
  backend.scripts[gen::launch_key(kv_tile(32, 4))].mismatch = "max error 0.3 at row 7";

  const TuneResult result = tuned(kv_list({kv_tile(32)}, 2, {1, 2, 4}), backend);

  EXPECT_EQ(result.winner.spec.splits, 2);
  const CandidateReport* wrong = report_keyed(result, gen::launch_key(kv_tile(32, 4)));
  ASSERT_NE(wrong, nullptr);
  EXPECT_EQ(wrong->status, CandidateStatus::wrong_result);
  EXPECT_EQ(wrong->detail, "max error 0.3 at row 7");
}

TEST(TuneSplits, CappedTimingRunsLeaveTheHeuristicCountAndSayWhy) {
  FakeBackend backend;
  backend.timed_splits = 2;  // the timing problem's batch was capped: it splits unlike the key
  const TuneResult result = tuned(kv_list({kv_tile(32)}, 5, {3, 5, 10}), backend);

  EXPECT_EQ(result.winner.spec.splits, 0);
  EXPECT_EQ(result.winner.key, key(kv_tile(32)));
  EXPECT_TRUE(contains(report_for(result, kv_tile(32)).detail, "split into 2, not the key's 5"))
      << report_for(result, kv_tile(32)).detail;
  for (const std::string& k : backend.calls_of("time")) EXPECT_FALSE(contains(k, "split")) << k;
}

TEST(TuneSplits, NoSplitCountsNoSweep) {
  FakeBackend backend;
  backend.timed_splits = 1;
  const TuneResult result = tuned(kv_list({kv_tile(32)}, 1, {}), backend);
  EXPECT_EQ(result.winner.spec.splits, 0);
  EXPECT_EQ(result.candidates.size(), 1u);
}

TEST(TuneSplits, EverySplitCountFailingKeepsTheTileWinner) {
  FakeBackend backend;
  backend.timed_splits = 2;
  for (int s : {1, 2, 4}) backend.scripts[gen::launch_key(kv_tile(32, s))].time_fails = true;
  const TuneResult result = tuned(kv_list({kv_tile(32)}, 2, {1, 2, 4}), backend);
  EXPECT_EQ(result.winner.spec.splits, 0);
  EXPECT_TRUE(contains(report_for(result, kv_tile(32)).detail, "no split count could be timed"));
}

}  // namespace
}  // namespace flashjit::tuner
