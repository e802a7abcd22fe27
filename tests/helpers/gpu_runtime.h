// What the GPU tests share: one CUDA runtime per option set for the whole run (as an application
// would keep one), the device's compute capability, and running a problem on the GPU against the
// CPU backend.
#pragma once

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "helpers/test_problem.h"

namespace flashjit::test {

// A CUDA runtime for `options` (backend cuda; tuning and the cache off, so a test checks the
// heuristic or forced kernel itself), created at the first call for the same force_variant and
// force_tiles and kept for the run; null, with the reason in *why_not, where no GPU is usable.
Runtime* shared_gpu_runtime(const RuntimeOptions& options, std::string* why_not);

// Compute capability of device 0 as XY (90 for 9.0), or 0 with the reason in *why_not.
int gpu_compute_capability(std::string* why_not);

// Why a GPU of compute capability `cc` (XY) cannot run `variant`, a GPU test's skip reason; empty
// when it can. From the issues rather than from the generator's rules, so that a rule that wrongly
// refused a capable GPU fails the tests instead of skipping them. scripts/gpu_check.sh counts the
// wgmma_sm90 reason ("... needs compute capability 9.0 ...") as an expected skip elsewhere.
std::string architecture_skip(Variant variant, int cc);

// The shared GPU runtime forcing `variant` (empty: the selector's choice), or null with why the test
// must skip: no GPU, or one the forced variant does not run on (architecture_skip).
Runtime* variant_runtime(std::optional<Variant> variant, std::string* skip);

// Runs `p` through `runtime` on the GPU (out and lse poisoned first by make_problem) and compares
// the output with the CPU backend's: every element within output_tolerance and, unless the shape
// asks for no lse, every lse value within kKernelLseTolerance.
testing::AssertionResult device_matches_cpu(Runtime& runtime, HostProblem& p);

}  // namespace flashjit::test
