// A real GPU as the kernel builder sees it: its description, its primary context (retained for the
// object's lifetime), the NVRTC chosen for its architecture and driver, module loads and the tuner's device side.
#pragma once

#include <memory>

#include "runtime/build_device.h"
#include "cuda/device.h"
#include "cuda/nvrtc_library.h"

namespace flashjit {

class CudaDevice : public BuildDevice {
 public:
  // GPU `index`, compiling with the newest NVRTC found that targets it and whose cubins its driver
  // loads (cuda/nvrtc_choice.h); or the precise reason it cannot be used: no driver, no device or
  // an index out of range (no_device); no such NVRTC, with every one found and why not (unsupported).
  static llvm::Expected<std::unique_ptr<CudaDevice>> open(int index);

  int index() const { return index_; }
  const cuda::PrimaryContext& context() const { return *context_; }

  const gen::DeviceDescription& description() const override { return description_; }
  const gen::CompilerTargets& compiler() const override;
  bool can_run() const override { return true; }
  llvm::Expected<std::unique_ptr<ContextScope>> enter() const override;
  llvm::Expected<tuner::CompiledCandidate> compile(const gen::KernelSpec& spec) const override;
  llvm::Expected<std::shared_ptr<const LaunchableKernel>> load(const gen::KernelSpec& spec, const std::string& cubin,
                                                                const std::string& symbol) const override;
  std::unique_ptr<tuner::TuningBackend> tuning_backend(const Problem& problem) const override;
  std::string fault() const override;

 private:
  CudaDevice(int index, gen::DeviceDescription description, std::unique_ptr<cuda::PrimaryContext> context,
             const cuda::NvrtcLibrary& nvrtc)
      : index_(index), description_(std::move(description)), context_(std::move(context)), nvrtc_(nvrtc) {}

  int index_;
  gen::DeviceDescription description_;
  std::unique_ptr<cuda::PrimaryContext> context_;
  const cuda::NvrtcLibrary& nvrtc_;  // one of cuda::nvrtc_libraries(), which live as long as the process
};

}  // namespace flashjit
