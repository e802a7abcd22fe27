// Private helpers for CandidateReport: building one, and summarizing why candidates failed for the
// error returned when none is left.
#pragma once

#include <string>
#include <vector>

#include "tuner/tuner.h"

namespace flashjit::tuner {

// A report for `spec` with its launch key (its canonical key, and a tuned split count) and no timing
// (+inf median).
CandidateReport make_report(const gen::KernelSpec& spec, CandidateStatus status, std::string detail = {});

// "48 candidates: 47 pruned, 1 compile_failed; generic_...: why; ..." naming each candidate's
// reason (first line of it) up to a limit, so a failed tune says why without a wall of logs.
std::string failure_summary(const std::vector<CandidateReport>& reports);

}  // namespace flashjit::tuner
