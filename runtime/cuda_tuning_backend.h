// The tuner's device side on a real GPU: NVRTC compiles, driver loads, event timing on inputs of
// the problem's real shape (capped in size) rotated across several buffers so L2 does not flatter,
// and a correctness check against the CPU backend on a small odd-shaped problem.
#pragma once

#include <memory>
#include <vector>

#include "flashjit/types.h"
#include "problem/problem.h"
#include "cuda/device.h"
#include "cuda/nvrtc_library.h"
#include "tuner/tuning_backend.h"

namespace flashjit {

class CudaTuningBackend : public tuner::TuningBackend {
 public:
  // Candidates are timed on contiguous inputs of `problem`'s shape (its batch capped).
  // `l2_bytes` sizes the rotation; `sm_count` bounds the grid of persistent kernels.
  // `nvrtc` compiles the candidates (the device's choice for its architecture and driver).
  CudaTuningBackend(const cuda::PrimaryContext& context, const cuda::NvrtcLibrary& nvrtc, const Problem& problem,
                    int l2_bytes, int sm_count);
  ~CudaTuningBackend() override;

  llvm::Expected<tuner::CompiledCandidate> compile(const gen::KernelSpec& spec) override;
  llvm::Error load(tuner::CompiledCandidate& candidate) override;
  llvm::Expected<std::vector<double>> time(const tuner::CompiledCandidate& candidate, int warmup,
                                           double budget_ms, int max_samples) override;
  llvm::Expected<std::string> check(const tuner::CompiledCandidate& candidate) override;
  std::string device_lost() override;

 private:
  struct InputSet;
  llvm::Error prepare_inputs();

  const cuda::PrimaryContext& context_;
  const cuda::NvrtcLibrary& nvrtc_;
  Problem problem_;
  int l2_bytes_;
  int sm_count_;
  std::vector<std::unique_ptr<InputSet>> sets_;
};

// The problem timed: `problem` with the batch reduced until one input set fits in `max_bytes`.
Problem capped_tuning_problem(const Problem& problem, int64_t max_bytes);
// How many input sets to rotate through so that together they exceed the L2 several times.
int rotation_sets(int64_t bytes_per_set, int l2_bytes);

}  // namespace flashjit
