// What the tuner needs from a device, behind an interface: the CUDA implementation compiles with
// NVRTC, loads with the driver and times with events; the unit tests use a fake with scripted
// timings, failures and wrong answers, so the whole tuner is tested without a GPU.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "generator/kernel_spec.h"

namespace flashjit::tuner {

// A compiled candidate, opaque to the tuner apart from its spec and resources.
struct CompiledCandidate {
  gen::KernelSpec spec;
  std::string key;           // canonical spec key
  std::string symbol;        // lowered kernel name
  std::string cubin;
  int registers = 0;
  int spill_bytes = 0;
  double compile_ms = 0.0;
  // Backend-specific state (e.g. the loaded module); null until load().
  std::shared_ptr<void> loaded;
};

class TuningBackend {
 public:
  virtual ~TuningBackend() = default;

  // Emits and compiles a candidate. Called concurrently from the tuner's thread pool.
  virtual llvm::Expected<CompiledCandidate> compile(const gen::KernelSpec& spec) = 0;
  // Loads a compiled candidate so it can run. Called from one thread.
  virtual llvm::Error load(CompiledCandidate& candidate) = 0;
  // Runs the candidate on the tuning problem: `warmup` untimed runs, then timed runs (one sample
  // per run, in milliseconds, rotating input sets) until `budget_ms` of samples or `max_samples`.
  virtual llvm::Expected<std::vector<double>> time(const CompiledCandidate& candidate, int warmup,
                                                   double budget_ms, int max_samples) = 0;
  // Whether the candidate's output on a small odd-shaped problem matches the reference: an empty
  // string when it does, otherwise how far off it was. An error when the check could not run.
  virtual llvm::Expected<std::string> check(const CompiledCandidate& candidate) = 0;
  // Asked after a load, time or check failed: why the device can run nothing more (a kernel fault
  // that poisons the whole context), or empty when only that candidate failed. A lost device
  // stops the tuning at once: every later candidate would fail the same way.
  virtual std::string device_lost() { return {}; }
  // The split-KV count the heuristic gives the problem it times (1 when unsplit; 0 without a KV
  // cache). The tuner sweeps a KV key's split counts only when this is the key's own count: timing
  // runs capped to a smaller batch split differently, and their best count would not be the key's.
  virtual int timed_split_count() const { return 0; }
};

}  // namespace flashjit::tuner
