#include "tuner/parallel_compile.h"

#include <algorithm>
#include <future>

#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/ThreadPool.h>
#include <llvm/Support/Threading.h>

#include "tuner/candidate_report.h"

namespace flashjit::tuner {

std::vector<CompileOutcome> compile_all(const std::vector<gen::KernelSpec>& specs, TuningBackend& backend,
                                        int threads, const Progress& progress) {
  std::vector<CompileOutcome> outcomes(specs.size());
  if (specs.empty()) return outcomes;

  // No more workers than specs: idle threads would only cost start-up time.
  const unsigned requested = threads > 0 ? static_cast<unsigned>(std::min<size_t>(threads, specs.size())) : 0;
  llvm::ThreadPool pool(llvm::hardware_concurrency(requested));

  // Each task writes only its own slot, so the slots need no lock; the futures order the writes
  // before the reads below.
  std::vector<std::shared_future<void>> done;
  done.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    done.push_back(pool.async([&, i] {
      auto compiled = backend.compile(specs[i]);
      if (!compiled) {
        outcomes[i].error = llvm::toString(compiled.takeError());
        return;
      }
      outcomes[i].candidate = std::move(*compiled);
    }));
  }

  // The callback runs here, not on the workers, so callers need not make it thread-safe.
  const int total = static_cast<int>(specs.size());
  for (size_t i = 0; i < done.size(); ++i) {
    done[i].wait();
    if (progress) progress(static_cast<int>(i) + 1, total, "compile " + gen::canonical_key(specs[i]));
  }
  return outcomes;
}

std::vector<CandidateReport> compile_candidates(const CandidateList& list, TuningBackend& backend,
                                                const TuneOptions& options, const Progress& progress) {
  const std::vector<CompileOutcome> outcomes = compile_all(list.specs, backend, options.compile_threads, progress);
  std::vector<CandidateReport> reports;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const std::optional<CompiledCandidate>& compiled = outcomes[i].candidate;
    if (!compiled) {
      reports.push_back(make_report(list.specs[i], CandidateStatus::compile_failed, outcomes[i].error));
      continue;
    }
    CandidateReport r = make_report(list.specs[i], CandidateStatus::not_timed,
                                    llvm::formatv("compiled in {0:F0} ms, {1} spill bytes", compiled->compile_ms,
                                                  compiled->spill_bytes)
                                        .str());
    r.registers = compiled->registers;
    reports.push_back(std::move(r));
  }
  reports.insert(reports.end(), list.pruned.begin(), list.pruned.end());
  return reports;
}

}  // namespace flashjit::tuner
