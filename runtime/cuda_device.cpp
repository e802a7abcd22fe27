#include "runtime/cuda_device.h"

#include <llvm/Support/FormatVariadic.h>

#include "generator/selector.h"
#include "cuda/nvrtc_choice.h"
#include "runtime/cuda_tuning_backend.h"
#include "runtime/kernel_compile.h"
#include "support/log.h"

namespace flashjit {
namespace {

class CudaScope : public ContextScope {
 public:
  explicit CudaScope(cuda::ScopedContext scope) : scope_(std::move(scope)) {}

 private:
  cuda::ScopedContext scope_;
};

// A module in the device's context (which it makes current to load and to unload).
class CudaKernel : public LaunchableKernel {
 public:
  explicit CudaKernel(std::unique_ptr<cuda::LoadedKernel> kernel) : kernel_(std::move(kernel)) {}

  llvm::Error launch(const cuda::LaunchShape& shape, CUstream stream, void** arguments) const override {
    return kernel_->launch(shape, stream, arguments);
  }
  llvm::Error launch_combine(const cuda::LaunchShape& shape, CUstream stream, void** arguments) const override {
    return kernel_->launch_combine(shape, stream, arguments);
  }

 private:
  std::unique_ptr<cuda::LoadedKernel> kernel_;
};

}  // namespace

llvm::Expected<std::unique_ptr<CudaDevice>> CudaDevice::open(int index) {
  auto device = cuda::describe_device(index);
  if (!device) return device.takeError();
  // The newest NVRTC that targets the GPU and whose cubins its driver loads; or why there is none.
  auto nvrtc = cuda::nvrtc_for_arch(device->compute_capability(), device->driver_version);
  if (!nvrtc) return nvrtc.takeError();
  auto context = cuda::PrimaryContext::retain(index);
  if (!context) return context.takeError();
  log::info(llvm::formatv("using {0} (sm_{1}, {2} SMs), compiling with {3}", device->name,
                          device->compute_capability(), device->sm_count, nvrtc->describe()));
  return std::unique_ptr<CudaDevice>(new CudaDevice(index, std::move(*device), std::move(*context), *nvrtc));
}

// nvrtc_'s targets (the same choice open() made), with the reason it was chosen for the selector.
const gen::CompilerTargets& CudaDevice::compiler() const {
  return cuda::nvrtc_targets_for_arch(description_.compute_capability(), description_.driver_version);
}

llvm::Expected<std::unique_ptr<ContextScope>> CudaDevice::enter() const {
  auto scope = cuda::ScopedContext::enter(*context_);
  if (!scope) return scope.takeError();
  return std::make_unique<CudaScope>(std::move(*scope));
}

llvm::Expected<tuner::CompiledCandidate> CudaDevice::compile(const gen::KernelSpec& spec) const {
  return compile_candidate(spec, nvrtc_);
}

llvm::Expected<std::shared_ptr<const LaunchableKernel>> CudaDevice::load(const gen::KernelSpec& spec,
                                                                         const std::string& cubin,
                                                                         const std::string& symbol) const {
  auto kernel = cuda::LoadedKernel::load(*context_, spec, cubin, symbol);
  if (!kernel) return kernel.takeError();
  return std::make_shared<CudaKernel>(std::move(*kernel));
}

std::unique_ptr<tuner::TuningBackend> CudaDevice::tuning_backend(const Problem& problem) const {
  return std::make_unique<CudaTuningBackend>(*context_, nvrtc_, problem, description_.l2_bytes, description_.sm_count);
}

std::string CudaDevice::fault() const {
  auto scope = cuda::ScopedContext::enter(*context_);
  if (!scope) return llvm::toString(scope.takeError());
  return cuda::context_fault();
}

}  // namespace flashjit
