// A compiled kernel loaded into a context: the module, the function, its launch shape.
#pragma once

#include <memory>
#include <string>

#include <cuda.h>

#include <llvm/Support/Error.h>

#include "cuda/driver_api.h"

namespace flashjit::cuda {

struct LaunchShape {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned dynamic_shared_bytes = 0;
};

class LoadedKernel {
 public:
  // Loads `cubin` into the current context and finds `symbol`; opts the function in to
  // `dynamic_shared_bytes` of dynamic shared memory when that is above the 48 KB default.
  static llvm::Expected<std::unique_ptr<LoadedKernel>> load(const std::string& cubin,
                                                            const std::string& symbol,
                                                            int dynamic_shared_bytes);
  ~LoadedKernel();
  LoadedKernel(const LoadedKernel&) = delete;
  LoadedKernel& operator=(const LoadedKernel&) = delete;

  // Queues the kernel with one by-value parameter block.
  llvm::Error launch(const LaunchShape& shape, CUstream stream, void* params) const;
  const std::string& symbol() const { return symbol_; }

 private:
  LoadedKernel(const DriverApi& api, CUmodule module, CUfunction function, std::string symbol)
      : api_(api), module_(module), function_(function), symbol_(std::move(symbol)) {}
  const DriverApi& api_;
  CUmodule module_;
  CUfunction function_;
  std::string symbol_;
};

}  // namespace flashjit::cuda
