// The tuner's device side on a real GPU: NVRTC compiles, driver loads, event timing on inputs of
// the problem's real shape (capped in size) rotated across several buffers so L2 does not flatter,
// and a correctness check against the CPU backend on a small odd-shaped problem. A problem with a
// ragged batch or score modifiers is timed and checked with them: its window bounds and softcap,
// ALiBi's geometric slopes and a ragged batch's offsets on the device (problem/modifier_data.h).
#pragma once

#include <memory>
#include <vector>

#include "flashjit/types.h"
#include "problem/problem.h"
#include "cuda/device.h"
#include "runtime/device_modifier_data.h"
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
  int timed_split_count() const override;

 private:
  struct InputSet;
  llvm::Error prepare_inputs();

  const cuda::PrimaryContext& context_;
  const cuda::NvrtcLibrary& nvrtc_;
  Problem problem_;
  int l2_bytes_;
  int sm_count_;
  std::vector<std::unique_ptr<InputSet>> sets_;
  // The timed problem's offsets and slopes, read (never written) by every input set.
  DeviceModifierData modifiers_;
  // Split-KV's partials for the launches (timing and checks run one at a time).
  cuda::DeviceBuffer workspace_;
};

// The small problem a candidate's correctness check runs: 77 query and 133 key rows (tails in
// both), the tuned problem's features, score-modifier values (a window's bounded sides at most 32
// keys, so both its edges fall inside) and GQA ratio (2 KV heads). A ragged
// one is four sequences of 77/133, 0/5, 1/0 and 30/61 query/key rows: an empty sequence, a row that
// sees no key and odd tails, as its offsets on the device describe them.
struct CheckProblem {
  Problem problem;
  std::vector<int> q_lengths, k_lengths;  // empty unless ragged

  // Rows of the q/out and k/v tensors over all batch entries (the packed tokens when ragged).
  int64_t q_rows() const;
  int64_t k_rows() const;
};
llvm::Expected<CheckProblem> correctness_check_problem(const Problem& tuned);

// The problem timed: `problem` with the batch reduced until one input set fits in `max_bytes`.
Problem capped_tuning_problem(const Problem& problem, int64_t max_bytes);
// How many input sets to rotate through so that together they exceed the L2 several times.
int rotation_sets(int64_t bytes_per_set, int l2_bytes);

}  // namespace flashjit
