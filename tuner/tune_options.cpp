#include "tuner/tune_options.h"
#include "support/error.h"

#include <cmath>
#include <string>

#include <llvm/Support/FormatVariadic.h>

namespace flashjit::tuner {
namespace {

std::string options_problem(const TuneOptions& o) {
  // Written as !(x >= 0) so a NaN is rejected too.
  if (!(o.budget_ms_per_candidate >= 0.0) || std::isinf(o.budget_ms_per_candidate))
    return llvm::formatv("budget_ms_per_candidate must be a finite number of milliseconds >= 0, not {0}",
                         o.budget_ms_per_candidate);
  if (o.max_candidates < 0) return llvm::formatv("max_candidates must be 0 (no limit) or more, not {0}", o.max_candidates);
  if (o.warmup_runs < 0) return llvm::formatv("warmup_runs must be 0 or more, not {0}", o.warmup_runs);
  if (o.max_samples < 1) return llvm::formatv("max_samples must be at least 1, not {0}", o.max_samples);
  // At least one finalist: only finalists are checked for correctness before they can win.
  if (o.finalists < 1) return llvm::formatv("finalists must be at least 1, not {0}", o.finalists);
  if (!(o.tie_tolerance >= 0.0 && o.tie_tolerance < 1.0))
    return llvm::formatv("tie_tolerance must be in [0, 1), not {0}", o.tie_tolerance);
  if (o.compile_threads < 0)
    return llvm::formatv("compile_threads must be 0 (hardware concurrency) or more, not {0}", o.compile_threads);
  return {};
}

}  // namespace

llvm::Error check_options(const TuneOptions& options) {
  const std::string problem = options_problem(options);
  if (problem.empty()) return llvm::Error::success();
  return make_error(ErrorCode::invalid_argument, "invalid tuning options: " + problem);
}

}  // namespace flashjit::tuner
