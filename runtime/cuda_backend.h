// The GPU side of the Runtime: one device, its primary context, the plan per problem class and the
// table of loaded kernels. First use of a problem: select -> emit -> compile (NVRTC) -> load.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>

#include <llvm/Support/Error.h>

#include "flashjit/runtime.h"
#include "generator/selector.h"
#include "runtime/cuda/device.h"
#include "runtime/kernel_table.h"

namespace flashjit {

struct KernelPlan {
  gen::KernelSpec spec;
  std::string reason;
};

class CudaBackend {
 public:
  // Fails with the precise reason the GPU path is unusable (no driver, no device, index out of
  // range, driver older than NVRTC's output, NVRTC unable to target the device).
  static llvm::Expected<std::unique_ptr<CudaBackend>> create(const RuntimeOptions& options);

  ~CudaBackend();

  // `args` must be validated and normalized. The caller's current context is left as it was.
  Status forward(const AttentionArgs& args, CUstream stream);
  llvm::Expected<KernelPlan> plan(const AttentionArgs& args);
  const gen::DeviceDescription& device() const { return device_; }

 private:
  CudaBackend(gen::DeviceDescription device, std::unique_ptr<cuda::PrimaryContext> context,
              const RuntimeOptions& options)
      : device_(std::move(device)), context_(std::move(context)), options_(options) {}
  llvm::Expected<KernelPlan> make_plan(const gen::ProblemClass& problem) const;
  llvm::Expected<std::unique_ptr<cuda::LoadedKernel>> build(const gen::KernelSpec& spec) const;
  Status check_device_pointers(const AttentionArgs& args) const;

  gen::DeviceDescription device_;
  std::unique_ptr<cuda::PrimaryContext> context_;
  RuntimeOptions options_;
  std::mutex plan_mutex_;
  std::map<std::tuple<DType, int, MaskKind>, KernelPlan> plans_;
  KernelTable kernels_;
};

}  // namespace flashjit
