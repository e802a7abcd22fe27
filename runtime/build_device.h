// What the kernel builder needs of the device it builds for, behind one interface: CudaDevice is a
// real GPU (its primary context, NVRTC, the driver), CompileOnlyDevice a nominal architecture on a
// machine without one (compiles, never loads), and the tests script a fake. The builder owns the
// device, so it owns the context: every build makes it current first.
#pragma once

#include <memory>
#include <string>

#include <cuda.h>

#include <llvm/Support/Error.h>

#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "problem/problem.h"
#include "cuda/loaded_kernel.h"
#include "tuner/tuning_backend.h"

namespace flashjit {

// A kernel loaded into a device's context, ready to launch.
class LaunchableKernel {
 public:
  virtual ~LaunchableKernel() = default;
  // Queues the kernel with its one by-value parameter block.
  virtual llvm::Error launch(const cuda::LaunchShape& shape, CUstream stream, void** arguments) const = 0;
  // Queues a KV-cache kernel's split-KV combine step (the same module's); an error for another kernel.
  virtual llvm::Error launch_combine(const cuda::LaunchShape& shape, CUstream stream, void** arguments) const = 0;
};

// Holds a device's context current on the calling thread; the thread's previous one comes back
// when it is destroyed.
class ContextScope {
 public:
  virtual ~ContextScope() = default;
};

class BuildDevice {
 public:
  virtual ~BuildDevice() = default;

  virtual const gen::DeviceDescription& description() const = 0;
  // What the NVRTC that compiles for this device can target (and its version, part of cache keys).
  virtual const gen::CompilerTargets& compiler() const = 0;
  // Whether kernels can be loaded, timed and run here; false for a compile-only target.
  virtual bool can_run() const = 0;

  // Makes this device's context current for the returned scope.
  virtual llvm::Expected<std::unique_ptr<ContextScope>> enter() const = 0;
  // Emits and compiles `spec`. May be called from several threads at once.
  virtual llvm::Expected<tuner::CompiledCandidate> compile(const gen::KernelSpec& spec) const = 0;
  // Loads a compiled kernel into the context (current: see enter()).
  virtual llvm::Expected<std::shared_ptr<const LaunchableKernel>> load(const gen::KernelSpec& spec,
                                                                        const std::string& cubin,
                                                                        const std::string& symbol) const = 0;
  // The tuner's device side for `problem`; null where nothing can be timed.
  virtual std::unique_ptr<tuner::TuningBackend> tuning_backend(const Problem& problem) const = 0;
  // Why the context can run nothing more (a kernel faulted); empty while it is healthy.
  virtual std::string fault() const = 0;
};

}  // namespace flashjit
