// A scripted TuningBackend for the tuner's unit tests: per canonical key it says whether the
// compile or load fails, how many registers the kernel uses, which samples each time() call
// returns (or that the launch fails), and whether check() finds a wrong result. It records every
// call, so tests can see what the tuner did, in which order and on which thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <llvm/Support/Error.h>

#include "generator/kernel_spec.h"
#include "helpers/minimal_cubin.h"
#include "tuner/tuning_backend.h"

namespace flashjit::tuner::testing {

struct Script {
  bool compile_fails = false;
  int registers = 32;
  bool load_fails = false;
  bool time_fails = false;
  // Samples returned by the n-th time() call of this candidate; the last entry repeats.
  std::vector<std::vector<double>> rounds = {{5.0}};
  std::string mismatch;      // non-empty: check() reports this wrong result
  bool check_fails = false;  // check() itself cannot run
  // time() fails with a kernel fault that takes the device down: device_lost() says so from then on.
  bool faults_device = false;
};

class FakeBackend : public TuningBackend {
 public:
  std::map<std::string, Script> scripts;  // by launch key; unscripted keys get Script{}
  int timed_splits = 0;                   // timed_split_count(): the timing problem's split count
  // When set, the first compile waits (up to 5 s) until a second compile runs beside it, which
  // proves the compiles overlap without relying on timing luck.
  bool require_overlap = false;

  // What happened.
  std::map<std::string, int> compile_counts;
  int max_in_flight = 0;
  std::vector<std::string> calls;                   // "load K", "time K", "check K", in order
  std::vector<std::thread::id> sequential_threads;  // the thread of each load/time/check call

  llvm::Expected<CompiledCandidate> compile(const gen::KernelSpec& spec) override {
    const std::string key = gen::canonical_key(spec);
    std::unique_lock<std::mutex> lock(mutex_);
    ++compile_counts[key];
    ++in_flight_;
    max_in_flight = std::max(max_in_flight, in_flight_);
    overlap_.notify_all();
    if (require_overlap && !gate_used_) {
      gate_used_ = true;
      overlap_.wait_for(lock, std::chrono::seconds(5), [&] { return max_in_flight >= 2; });
    }
    --in_flight_;
    const Script script = script_for(key);
    if (script.compile_fails)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "fake compile error in " + key);
    CompiledCandidate candidate;
    candidate.spec = spec;
    candidate.key = key;
    candidate.symbol = "fake_" + key;
    candidate.cubin = flashjit::testing::minimal_cubin(spec.arch, {candidate.symbol});
    candidate.registers = script.registers;
    return candidate;
  }

  llvm::Error load(CompiledCandidate& candidate) override {
    record("load", candidate.key);
    if (script_for(candidate.key).load_fails)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "fake load error in " + candidate.key);
    candidate.loaded = std::make_shared<std::string>("module " + candidate.key);
    return llvm::Error::success();
  }

  llvm::Expected<std::vector<double>> time(const CompiledCandidate& candidate, int, double, int) override {
    record("time", candidate.key);
    const Script script = script_for(candidate.key);
    if (!candidate.loaded)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "timed before load: " + candidate.key);
    if (script.faults_device) {
      lost_ = "fake CUDA_ERROR_ILLEGAL_ADDRESS";
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "fake fault in " + candidate.key);
    }
    if (script.time_fails)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "fake launch error in " + candidate.key);
    const size_t round = static_cast<size_t>(time_calls_[candidate.key]++);
    return script.rounds[std::min(round, script.rounds.size() - 1)];
  }

  llvm::Expected<std::string> check(const CompiledCandidate& candidate) override {
    record("check", candidate.key);
    const Script script = script_for(candidate.key);
    if (script.check_fails)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "fake check launch error in " + candidate.key);
    return script.mismatch;
  }

  std::string device_lost() override {
    record("device_lost?", "");
    return lost_;
  }

  int timed_split_count() const override { return timed_splits; }

  int total_compiles() const {
    int total = 0;
    for (const auto& entry : compile_counts) total += entry.second;
    return total;
  }
  // The calls of one kind ("time", "check", ...), as keys, in order.
  std::vector<std::string> calls_of(const std::string& kind) const {
    std::vector<std::string> keys;
    for (const std::string& call : calls)
      if (call.rfind(kind + " ", 0) == 0) keys.push_back(call.substr(kind.size() + 1));
    return keys;
  }

 private:
  Script script_for(const std::string& key) const {
    auto it = scripts.find(key);
    return it == scripts.end() ? Script{} : it->second;
  }
  void record(const std::string& kind, const std::string& key) {
    calls.push_back(kind + " " + key);
    sequential_threads.push_back(std::this_thread::get_id());
  }

  std::mutex mutex_;
  std::condition_variable overlap_;
  int in_flight_ = 0;
  bool gate_used_ = false;
  std::map<std::string, int> time_calls_;
  std::string lost_;
};

}  // namespace flashjit::tuner::testing
