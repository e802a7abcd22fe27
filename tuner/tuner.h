// The autotuner: candidates -> static pruning -> parallel compile -> load -> time -> re-time the
// best few -> correctness check -> deterministic choice among near-ties.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "generator/selector.h"
#include "tuner/tuning_backend.h"

namespace flashjit::tuner {

struct Timing {
  double median_ms = 0.0;
  double p20_ms = 0.0;
  double p80_ms = 0.0;
  int samples = 0;
};

// Median and 20/80 quantiles of `samples` (linear interpolation); zero samples give zeros.
Timing summarize(std::vector<double> samples);

enum class CandidateStatus { ok, pruned, compile_failed, load_failed, launch_failed, wrong_result, not_timed };
const char* candidate_status_name(CandidateStatus status);

struct CandidateReport {
  gen::KernelSpec spec;
  std::string key;
  CandidateStatus status = CandidateStatus::not_timed;
  std::string detail;      // why pruned / the compile error / the mismatch
  int registers = 0;
  Timing timing;           // the last timing taken (the re-timing for finalists); +inf median if none
  bool finalist = false;
};

// Every spec worth trying on this device for this problem (each usable variant's default, then the
// selected variant's tile grid), with those a static check rules out (shared memory, registers, divisibility) reported
// as pruned, and a KV cache's split counts on a device with known SMs. An error, naming the reasons,
// when nothing is left.
// A KV-cache problem on a device (issue 15) also lists the split counts the winner is timed at:
// gen::tuned_split_candidates of the key's heuristic count `key_splits`.
struct CandidateList {
  std::vector<gen::KernelSpec> specs;
  std::vector<CandidateReport> pruned;
  int key_splits = 0;
  std::vector<int> split_counts;
};
llvm::Expected<CandidateList> candidates(const gen::DeviceDescription& device, const Problem& problem,
                                         const gen::CompilerTargets& targets);

struct TuneOptions {
  double budget_ms_per_candidate = 60.0;  // timed-sample budget in the first round
  int max_candidates = 0;                 // 0: no limit; else the first N (in candidate order)
  int warmup_runs = 3;
  int max_samples = 50;
  int finalists = 3;                      // re-timed before choosing
  double tie_tolerance = 0.03;            // medians within 3% of the best are a tie
  int compile_threads = 0;                // 0: hardware concurrency
};

struct TuneResult {
  CompiledCandidate winner;
  Timing timing;
  std::vector<CandidateReport> candidates;  // every candidate, pruned ones included
};

// Progress: (done, total, what) for a progress bar.
using Progress = std::function<void(int done, int total, const std::string& what)>;

llvm::Expected<TuneResult> tune(const CandidateList& list, TuningBackend& backend, const TuneOptions& options,
                                const Progress& progress = nullptr);

// Where nothing can be timed (no GPU): every candidate of `list` compiled, in parallel, none timed.
// Reports in list order, each with its registers, compile time and spills (status not_timed) or its
// compile error (compile_failed), then the pruned ones.
std::vector<CandidateReport> compile_candidates(const CandidateList& list, TuningBackend& backend,
                                                const TuneOptions& options, const Progress& progress = nullptr);

// The tuner's correctness gate alone, for a kernel that did not come from this tuning (one from the
// fleet's remote cache, before it first runs here): `kernel` loaded and checked against the
// reference. Only `correct` may run; `detail` says why not: its output was wrong (how far off), or
// it would not load or the check could not run (which says nothing of the kernel itself).
struct CorrectnessCheck {
  enum Result { correct, wrong_output, not_run } result = correct;
  std::string detail;
};
CorrectnessCheck check_correctness(CompiledCandidate& kernel, TuningBackend& backend);

}  // namespace flashjit::tuner
