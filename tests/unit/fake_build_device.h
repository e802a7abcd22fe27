// A scripted GPU for the kernel builder's tests: a device description, fake compiles and loads, and
// the tuner's scripted FakeBackend as its tuning side. Like a real context, a load fails unless the
// device's context was made current (enter()), which is how a builder that forgets to make it
// current shows. Everything it is asked is counted in a Record the test keeps after the builder
// took the device.
#pragma once

#include <chrono>
#include <map>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "generator/kernel_spec.h"
#include "runtime/build_device.h"
#include "support/error.h"
#include "unit/tuner_fake_backend.h"

namespace flashjit::testing {

struct FakeDeviceRecord {
  int current = 0;  // scopes entered and not left: the context is current while > 0
  int enters = 0;
  int compiles = 0;
  int loads = 0;
  int tuning_backends = 0;  // tuning runs, and correctness checks of kernels from elsewhere
  int timed_backends = 0;   // tuning runs that timed something: real tunings
  // How long each time() call takes, so that a tuning lasts long enough for others to see it.
  std::chrono::milliseconds time_delay{0};
  std::vector<Problem> tuned_problems;  // what each tuning run was asked to time, in order
  std::vector<std::string> loaded_keys;
  // Scripts handed to every tuning backend (by canonical key); see tuner_fake_backend.h.
  std::map<std::string, tuner::testing::Script> scripts;
  // What fault() says once a tuning backend faulted (Script::faults_device).
  std::string fault_after_tuning = "fake CUDA_ERROR_ILLEGAL_ADDRESS";
  bool faulted = false;
};

class FakeKernel : public LaunchableKernel {
 public:
  llvm::Error launch(const cuda::LaunchShape&, CUstream, void**) const override { return llvm::Error::success(); }
  llvm::Error launch_combine(const cuda::LaunchShape&, CUstream, void**) const override {
    return llvm::Error::success();
  }
};

class FakeBuildDevice : public BuildDevice {
 public:
  // An H100 unless told otherwise; `can_run` false makes it a compile-only target (nominal).
  explicit FakeBuildDevice(std::shared_ptr<FakeDeviceRecord> record, bool can_run = true)
      : record_(std::move(record)), can_run_(can_run) {
    description_ = gen::DeviceDescription::for_arch(90);
    if (can_run_) {
      description_.name = "Fake H100";
      description_.nominal = false;
      description_.sm_count = 132;
      description_.driver_version = 13000;
      description_.l2_bytes = 50 << 20;
    }
  }

  const gen::DeviceDescription& description() const override { return description_; }
  const gen::CompilerTargets& compiler() const override { return compiler_; }
  bool can_run() const override { return can_run_; }

  llvm::Expected<std::unique_ptr<ContextScope>> enter() const override {
    ++record_->enters;
    return std::make_unique<Scope>(record_);
  }

  llvm::Expected<tuner::CompiledCandidate> compile(const gen::KernelSpec& spec) const override {
    ++record_->compiles;
    tuner::testing::FakeBackend naming;  // the same fake cubin and symbol the tuning side makes
    return naming.compile(spec);
  }

  llvm::Expected<std::shared_ptr<const LaunchableKernel>> load(const gen::KernelSpec& spec, const std::string& cubin,
                                                                const std::string& symbol) const override {
    if (!can_run_) return make_error(ErrorCode::no_device, "compile-only fake: nothing loads");
    if (record_->current == 0)
      return make_error(ErrorCode::launch_error,
                        "cuModuleLoadData failed: CUDA_ERROR_INVALID_CONTEXT (invalid device context)");
    const std::string key = gen::canonical_key(spec);
    if (cubin != flashjit::testing::minimal_cubin(spec.arch, {"fake_" + key}) || symbol != "fake_" + key)
      return make_error(ErrorCode::launch_error, "cuModuleGetFunction failed: " + symbol + " is not in the cubin");
    ++record_->loads;
    record_->loaded_keys.push_back(key);
    return std::make_shared<FakeKernel>();
  }

  std::unique_ptr<tuner::TuningBackend> tuning_backend(const Problem& problem) const override {
    if (!can_run_) return nullptr;
    ++record_->tuning_backends;
    record_->tuned_problems.push_back(problem);
    auto backend = std::make_unique<Backend>(record_);
    backend->scripts = record_->scripts;
    return backend;
  }

  std::string fault() const override { return record_->faulted ? record_->fault_after_tuning : std::string(); }

 private:
  class Scope : public ContextScope {
   public:
    explicit Scope(std::shared_ptr<FakeDeviceRecord> record) : record_(std::move(record)) { ++record_->current; }
    ~Scope() override { --record_->current; }

   private:
    std::shared_ptr<FakeDeviceRecord> record_;
  };

  // The tuner's fake, telling the device when a candidate took the context down.
  class Backend : public tuner::testing::FakeBackend {
   public:
    explicit Backend(std::shared_ptr<FakeDeviceRecord> record) : record_(std::move(record)) {}
    llvm::Expected<std::vector<double>> time(const tuner::CompiledCandidate& candidate, int warmup, double budget,
                                             int samples) override {
      if (!timed_) record_->timed_backends++;
      timed_ = true;
      std::this_thread::sleep_for(record_->time_delay);
      return FakeBackend::time(candidate, warmup, budget, samples);
    }
    std::string device_lost() override {
      std::string lost = FakeBackend::device_lost();
      if (!lost.empty()) record_->faulted = true;
      return lost;
    }

   private:
    std::shared_ptr<FakeDeviceRecord> record_;
    bool timed_ = false;
  };

  std::shared_ptr<FakeDeviceRecord> record_;
  bool can_run_;
  gen::DeviceDescription description_;
  gen::CompilerTargets compiler_{13, 0, {75, 80, 86, 89, 90, 100, 120}};
};

}  // namespace flashjit::testing
