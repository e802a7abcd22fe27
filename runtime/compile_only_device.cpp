#include "runtime/compile_only_device.h"

#include "cuda/nvrtc_choice.h"
#include "runtime/kernel_compile.h"
#include "support/error.h"

namespace flashjit {
namespace {

// No context to make current.
class NoScope : public ContextScope {};

}  // namespace

CompileOnlyDevice::CompileOnlyDevice(int compute_capability)
    : description_(gen::DeviceDescription::for_arch(compute_capability)) {}

// No driver to satisfy: any NVRTC that targets the architecture will do, the newest first.
const gen::CompilerTargets& CompileOnlyDevice::compiler() const {
  return cuda::nvrtc_targets_for_arch(description_.compute_capability());
}

llvm::Expected<std::unique_ptr<ContextScope>> CompileOnlyDevice::enter() const { return std::make_unique<NoScope>(); }

llvm::Expected<tuner::CompiledCandidate> CompileOnlyDevice::compile(const gen::KernelSpec& spec) const {
  auto nvrtc = cuda::nvrtc_for_arch(spec.arch);
  if (!nvrtc) return nvrtc.takeError();
  return compile_candidate(spec, *nvrtc);
}

llvm::Expected<std::shared_ptr<const LaunchableKernel>> CompileOnlyDevice::load(const gen::KernelSpec&,
                                                                                const std::string&,
                                                                                const std::string&) const {
  return make_error(ErrorCode::no_device, "no GPU: kernels for " + description_.name + " are compiled, not loaded");
}

std::unique_ptr<tuner::TuningBackend> CompileOnlyDevice::tuning_backend(const Problem&) const { return nullptr; }

}  // namespace flashjit
