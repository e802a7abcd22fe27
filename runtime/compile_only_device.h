// A GPU architecture without a GPU: what a build machine pre-warms a deployment's cache for
// (`flashjit warm --arch`) and what `flashjit tune` lists and compiles where no GPU is usable. It
// has the architecture's nominal limits and the newest NVRTC found that targets it; nothing is
// loaded, timed or run.
#pragma once

#include "runtime/build_device.h"

namespace flashjit {

class CompileOnlyDevice : public BuildDevice {
 public:
  explicit CompileOnlyDevice(int compute_capability);

  const gen::DeviceDescription& description() const override { return description_; }
  const gen::CompilerTargets& compiler() const override;
  bool can_run() const override { return false; }
  llvm::Expected<std::unique_ptr<ContextScope>> enter() const override;
  llvm::Expected<tuner::CompiledCandidate> compile(const gen::KernelSpec& spec) const override;
  // An error: there is no GPU to load into.
  llvm::Expected<std::shared_ptr<const LaunchableKernel>> load(const gen::KernelSpec& spec, const std::string& cubin,
                                                                const std::string& symbol) const override;
  std::unique_ptr<tuner::TuningBackend> tuning_backend(const Problem& problem) const override;
  std::string fault() const override { return {}; }

 private:
  gen::DeviceDescription description_;
};

}  // namespace flashjit
