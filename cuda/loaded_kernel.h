// A compiled kernel loaded into a context: the module, the function, its launch shape. Modules
// load into and unload from the current context, so the kernel makes its own context current for
// both, whatever the calling or destroying thread has current.
#pragma once

#include <memory>
#include <string>

#include <cuda.h>

#include <llvm/Support/Error.h>

#include "cuda/device.h"
#include "cuda/driver_api.h"
#include "generator/kernel_spec.h"

namespace flashjit::cuda {

struct LaunchShape {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned dynamic_shared_bytes = 0;
};

class LoadedKernel {
 public:
  // Loads `cubin`, compiled from `spec`, into `context` and finds `symbol`; refuses (unsupported) a
  // kernel whose register count (CU_FUNC_ATTRIBUTE_NUM_REGS) is not the one the spec requires
  // (cuda/entry_registers.h); opts the function in to the spec's dynamic shared memory when that is
  // above the 48 KB default. The context must outlive the kernel.
  // A KV-cache kernel's module must also hold `combine_symbol` (its split-KV combine step).
  static llvm::Expected<std::unique_ptr<LoadedKernel>> load(const PrimaryContext& context, const gen::KernelSpec& spec,
                                                            const std::string& cubin, const std::string& symbol,
                                                            const char* combine_symbol = "flashjit_split_combine");
  ~LoadedKernel();
  LoadedKernel(const LoadedKernel&) = delete;
  LoadedKernel& operator=(const LoadedKernel&) = delete;

  // Queues the kernel with one by-value parameter block.
  // `arguments`: a pointer to each kernel parameter, as cuLaunchKernel takes them.
  llvm::Error launch(const LaunchShape& shape, CUstream stream, void** arguments) const;
  // Queues the module's split-KV combine step (a KV-cache kernel's; load() found it, named
  // `combine_symbol`); an error for another kernel.
  llvm::Error launch_combine(const LaunchShape& shape, CUstream stream, void** arguments) const;
  const std::string& symbol() const { return symbol_; }

 private:
  LoadedKernel(const DriverApi& api, const PrimaryContext& context, CUmodule module, CUfunction function,
               std::string symbol)
      : api_(api), context_(context), module_(module), function_(function), symbol_(std::move(symbol)) {}
  const DriverApi& api_;
  const PrimaryContext& context_;
  CUmodule module_;
  CUfunction function_;
  CUfunction combine_ = nullptr;
  std::string symbol_;
};

}  // namespace flashjit::cuda
