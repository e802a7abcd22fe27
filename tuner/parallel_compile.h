// Compiling every candidate at once on a thread pool: NVRTC is CPU-bound and single-threaded per
// program, so the compile phase (usually most of a tune) scales with the cores.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tuner/tuner.h"

namespace flashjit::tuner {

// One spec's compile: the candidate, or why it failed.
struct CompileOutcome {
  std::optional<CompiledCandidate> candidate;
  std::string error;
};

// Compiles each spec exactly once on up to `threads` workers (0: hardware concurrency). Outcomes
// come back in the order of `specs`; progress is reported from the calling thread, in that order.
std::vector<CompileOutcome> compile_all(const std::vector<gen::KernelSpec>& specs, TuningBackend& backend,
                                        int threads, const Progress& progress);

}  // namespace flashjit::tuner
