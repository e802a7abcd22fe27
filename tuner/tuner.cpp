// The tuning loop: compile all (parallel) -> load (sequential) -> time each -> re-time the best few
// -> check the finalists -> deterministic choice. A candidate that fails at any step is reported
// with its reason and drops out; only "nothing survived" is an error.
#include "tuner/tuner.h"

#include <algorithm>
#include <optional>

#include <llvm/Support/FormatVariadic.h>

#include "generator/variant_rules.h"
#include "tuner/candidate_report.h"
#include "tuner/parallel_compile.h"
#include "tuner/timing.h"
#include "tuner/tune_options.h"
#include "tuner/winner_choice.h"
#include "support/error.h"

namespace flashjit::tuner {
namespace {

// Every tried candidate's report, and its compiled form while it is still in the race. A report
// with status ok has been timed and not (yet) found wrong.
struct TuneState {
  std::vector<CandidateReport> reports;
  std::vector<std::optional<CompiledCandidate>> compiled;
  const Progress& progress;
  std::string device_lost;  // set once a failure turned out to have taken the device down

  // After candidate `i` failed: whether the backend says the device itself is gone.
  bool note_if_device_lost(size_t i, TuningBackend& backend) {
    if (!device_lost.empty()) return true;
    std::string why = backend.device_lost();
    if (why.empty()) return false;
    // The context is shared with the application, so the fault is most likely, not surely, this
    // candidate's.
    device_lost = "the GPU context was lost while running " + reports[i].key + ": " + why;
    return true;
  }

  void report_progress(int done, int total, const std::string& what) const {
    if (progress) progress(done, total, what);
  }
  // Drops a candidate from the race, freeing its module now rather than at the end.
  void fail(size_t i, CandidateStatus status, std::string detail) {
    reports[i].status = status;
    reports[i].detail = std::move(detail);
    compiled[i].reset();
  }
  std::vector<size_t> with_status(CandidateStatus status) const {
    std::vector<size_t> indices;
    for (size_t i = 0; i < reports.size(); ++i)
      if (reports[i].status == status) indices.push_back(i);
    return indices;
  }
};

void compile_and_load(TuneState& state, const std::vector<gen::KernelSpec>& specs, TuningBackend& backend,
                      int threads) {
  std::vector<CompileOutcome> outcomes = compile_all(specs, backend, threads, state.progress);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!outcomes[i].candidate) {
      state.fail(i, CandidateStatus::compile_failed, outcomes[i].error);
      continue;
    }
    state.reports[i].registers = outcomes[i].candidate->registers;
    state.compiled[i] = std::move(outcomes[i].candidate);
    // Loading touches the driver context, which the backend need not make thread-safe.
    if (llvm::Error err = backend.load(*state.compiled[i])) {
      state.fail(i, CandidateStatus::load_failed, llvm::toString(std::move(err)));
      if (state.note_if_device_lost(i, backend)) return;
    }
  }
}

// Times candidate `i`; on failure it leaves the race as launch_failed.
void time_candidate(TuneState& state, size_t i, TuningBackend& backend, const TuneOptions& options) {
  auto samples = backend.time(*state.compiled[i], options.warmup_runs, options.budget_ms_per_candidate,
                              options.max_samples);
  if (!samples) {
    state.fail(i, CandidateStatus::launch_failed, llvm::toString(samples.takeError()));
    state.note_if_device_lost(i, backend);
    return;
  }
  if (std::string why = samples_problem(*samples); !why.empty()) {
    state.fail(i, CandidateStatus::launch_failed, why);
    return;
  }
  state.reports[i].status = CandidateStatus::ok;
  state.reports[i].timing = summarize(std::move(*samples));
}

void first_round(TuneState& state, TuningBackend& backend, const TuneOptions& options) {
  std::vector<size_t> loaded;
  for (size_t i = 0; i < state.compiled.size(); ++i)
    if (state.compiled[i]) loaded.push_back(i);
  for (size_t n = 0; n < loaded.size() && state.device_lost.empty(); ++n) {
    time_candidate(state, loaded[n], backend, options);
    state.report_progress(static_cast<int>(n) + 1, static_cast<int>(loaded.size()),
                          "time " + state.reports[loaded[n]].key);
  }
}

// The best `count` of the first round, re-timed in candidate order (not rank order, so first-round
// noise does not change when each runs); their second timing replaces the first. The first round
// is short and early candidates run on a colder GPU, so the finalists are compared again together.
std::vector<size_t> retime_finalists(TuneState& state, TuningBackend& backend, const TuneOptions& options) {
  std::vector<size_t> finalists = rank_by_median(state.reports, state.with_status(CandidateStatus::ok));
  if (finalists.size() > static_cast<size_t>(options.finalists)) finalists.resize(options.finalists);
  std::sort(finalists.begin(), finalists.end());
  for (size_t n = 0; n < finalists.size() && state.device_lost.empty(); ++n) {
    state.reports[finalists[n]].finalist = true;
    time_candidate(state, finalists[n], backend, options);
    state.report_progress(static_cast<int>(n) + 1, static_cast<int>(finalists.size()),
                          "re-time " + state.reports[finalists[n]].key);
  }
  return finalists;
}

// Whether candidate `i` computes the right answer; a wrong or unrunnable one leaves the race.
bool check_candidate(TuneState& state, size_t i, TuningBackend& backend) {
  auto mismatch = backend.check(*state.compiled[i]);
  if (!mismatch) {
    state.fail(i, CandidateStatus::launch_failed,
               "the correctness check could not run: " + llvm::toString(mismatch.takeError()));
    state.note_if_device_lost(i, backend);
    return false;
  }
  if (!mismatch->empty()) {
    state.fail(i, CandidateStatus::wrong_result, *mismatch);
    return false;
  }
  return true;
}

struct Choice {
  size_t index = 0;
  std::string reason;
};

// Checks the finalists and picks among the correct ones; if none is correct, walks down the
// first-round ranking and takes the first correct candidate there.
std::optional<Choice> choose_winner(TuneState& state, const std::vector<size_t>& finalists, TuningBackend& backend,
                                    const TuneOptions& options) {
  // Finalists that failed their re-timing are out already.
  std::vector<size_t> to_check;
  for (size_t i : rank_by_median(state.reports, finalists))
    if (state.reports[i].status == CandidateStatus::ok) to_check.push_back(i);

  std::vector<size_t> correct;
  for (size_t n = 0; n < to_check.size() && state.device_lost.empty(); ++n) {
    if (check_candidate(state, to_check[n], backend)) correct.push_back(to_check[n]);
    state.report_progress(static_cast<int>(n) + 1, static_cast<int>(to_check.size()),
                          "check " + state.reports[to_check[n]].key);
  }
  if (!correct.empty()) {
    TieBreak tie = pick_among_near_ties(state.reports, correct, options.tie_tolerance);
    return Choice{tie.chosen, tie.reason};
  }

  // Every finalist was wrong: the others still hold their first-round timings; the first correct
  // one in that ranking wins.
  const std::vector<size_t> rest = rank_by_median(state.reports, state.with_status(CandidateStatus::ok));
  for (size_t n = 0; n < rest.size() && state.device_lost.empty(); ++n) {
    const bool correct_result = check_candidate(state, rest[n], backend);
    state.report_progress(static_cast<int>(n) + 1, static_cast<int>(rest.size()),
                          "check " + state.reports[rest[n]].key);
    if (correct_result)
      return Choice{rest[n], "every finalist failed; the fastest correct candidate of the first round"};
  }
  return std::nullopt;
}

// Details for the candidates that ran fine but did not win, so a report explains every row.
void describe_losers(TuneState& state, size_t winner, size_t tile_winner) {
  for (size_t i = 0; i < state.reports.size(); ++i) {
    CandidateReport& report = state.reports[i];
    if (i == winner || i == tile_winner || report.status != CandidateStatus::ok) continue;
    report.detail = llvm::formatv("{0}; median {1:F4} ms against the winner's {2:F4} ms",
                                  report.finalist ? "correct finalist, not chosen" : "timed; not a finalist",
                                  report.timing.median_ms, state.reports[winner].timing.median_ms)
                        .str();
  }
}

// Issue 15: a KV key's split count is a tuning dimension. The winning kernel is timed again at each
// of the key's split counts, the heuristic's first, and checked at each (the combine runs only when
// split); the fastest wins unless the heuristic's count is within the tie tolerance of it. Returns
// the index of the chosen run, `winner` itself when nothing could be swept (with the reason on its
// report).
size_t sweep_split_counts(TuneState& state, size_t winner, const CandidateList& list, TuningBackend& backend,
                          const TuneOptions& options) {
  if (list.split_counts.empty() || !state.device_lost.empty()) return winner;
  if (!gen::rules_for(state.reports[winner].spec.variant).modifiers.splits_keys) {
    state.reports[winner].detail += "; split count not tuned: its template does not split a cache's keys";
    return winner;
  }
  if (const int timed = backend.timed_split_count(); timed != list.key_splits) {
    state.reports[winner].detail += llvm::formatv("; split count not tuned: the timing runs (capped for memory) "
                                                  "split into {0}, not the key's {1}, so the heuristic's {1} stays",
                                                  timed, list.key_splits);
    return winner;
  }
  std::vector<int> counts = {list.key_splits};
  for (int s : list.split_counts)
    if (s != list.key_splits) counts.push_back(s);
  std::vector<size_t> swept;
  for (int s : counts) {
    CompiledCandidate run = *state.compiled[winner];
    run.spec.splits = s;
    run.key = gen::launch_key(run.spec);
    state.reports.push_back(make_report(run.spec, CandidateStatus::not_timed));
    state.reports.back().registers = state.reports[winner].registers;
    state.compiled.push_back(std::move(run));
    swept.push_back(state.reports.size() - 1);
  }
  std::vector<size_t> correct;
  for (size_t n = 0; n < swept.size() && state.device_lost.empty(); ++n) {
    time_candidate(state, swept[n], backend, options);
    if (state.reports[swept[n]].status == CandidateStatus::ok && check_candidate(state, swept[n], backend))
      correct.push_back(swept[n]);
    state.report_progress(static_cast<int>(n) + 1, static_cast<int>(swept.size()),
                          "time " + state.reports[swept[n]].key);
  }
  if (correct.empty()) {
    state.reports[winner].detail += "; no split count could be timed, so the heuristic's stays";
    return winner;
  }
  const std::vector<size_t> ranked = rank_by_median(state.reports, correct);
  const double fastest = state.reports[ranked.front()].timing.median_ms;
  const size_t heuristic = swept.front();
  const bool heuristic_ties = state.reports[heuristic].status == CandidateStatus::ok &&
                              state.reports[heuristic].timing.median_ms <= fastest * (1.0 + options.tie_tolerance);
  const size_t chosen = heuristic_ties ? heuristic : ranked.front();
  state.reports[chosen].detail =
      state.reports[winner].detail +
      llvm::formatv("; split count {0} of {1} timed ({2})", state.reports[chosen].spec.splits, counts.size(),
                    heuristic_ties ? "the heuristic's, within the tie tolerance of the fastest"
                                   : "the fastest, beyond the tie tolerance of the heuristic's")
          .str();
  state.reports[winner].detail = "winner's tile, timed again at each split count below";
  return chosen;
}

}  // namespace

llvm::Expected<TuneResult> tune(const CandidateList& list, TuningBackend& backend, const TuneOptions& options,
                                const Progress& progress) {
  if (llvm::Error err = check_options(options)) return err;
  if (list.specs.empty()) {
    const std::string why = list.pruned.empty() ? std::string("the list is empty") : failure_summary(list.pruned);
    return make_error(ErrorCode::unsupported, "no candidates to tune: " + why);
  }

  // max_candidates keeps a prefix, so the default spec (first in the list) is always tried.
  size_t tried = list.specs.size();
  if (options.max_candidates > 0) tried = std::min(tried, static_cast<size_t>(options.max_candidates));
  const std::vector<gen::KernelSpec> specs(list.specs.begin(), list.specs.begin() + tried);

  TuneState state{{}, std::vector<std::optional<CompiledCandidate>>(tried), progress};
  for (const gen::KernelSpec& spec : specs) state.reports.push_back(make_report(spec, CandidateStatus::not_timed));

  compile_and_load(state, specs, backend, options.compile_threads);
  first_round(state, backend, options);
  const std::vector<size_t> finalists = retime_finalists(state, backend, options);
  std::optional<Choice> choice = choose_winner(state, finalists, backend, options);
  if (!state.device_lost.empty())
    return make_error(ErrorCode::driver_error, "tuning stopped: " + state.device_lost);
  if (!choice)
    return make_error(ErrorCode::launch_error, "no tuning candidate survived: " + failure_summary(state.reports));

  state.reports[choice->index].detail = "winner: " + choice->reason;
  const size_t tile_winner = choice->index;
  const size_t winner = sweep_split_counts(state, tile_winner, list, backend, options);
  if (!state.device_lost.empty())
    return make_error(ErrorCode::driver_error, "tuning stopped: " + state.device_lost);
  describe_losers(state, winner, tile_winner);

  TuneResult result;
  result.winner = std::move(*state.compiled[winner]);
  result.timing = state.reports[winner].timing;
  result.candidates = std::move(state.reports);
  for (size_t i = tried; i < list.specs.size(); ++i)
    result.candidates.push_back(make_report(
        list.specs[i], CandidateStatus::not_timed,
        llvm::formatv("not tried: max_candidates is {0}", options.max_candidates).str()));
  result.candidates.insert(result.candidates.end(), list.pruned.begin(), list.pruned.end());
  return result;
}

CorrectnessCheck check_correctness(CompiledCandidate& kernel, TuningBackend& backend) {
  if (llvm::Error error = backend.load(kernel))
    return {CorrectnessCheck::not_run, "it does not load: " + llvm::toString(std::move(error))};
  auto mismatch = backend.check(kernel);
  if (!mismatch)
    return {CorrectnessCheck::not_run, "the correctness check could not run: " + llvm::toString(mismatch.takeError())};
  if (!mismatch->empty()) return {CorrectnessCheck::wrong_output, "its output is wrong: " + *mismatch};
  return {CorrectnessCheck::correct, {}};
}

}  // namespace flashjit::tuner
