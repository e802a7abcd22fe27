// The in-memory table of loaded kernels, per device, keyed by canonical spec key. Thread-safe and
// single-flight: when several threads ask for the same new key, one builds it and the others wait
// for that result. A build that failed stays failed (with its message) for the process lifetime,
// so a broken spec is not recompiled on every call.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <llvm/Support/Error.h>

#include "runtime/cuda/loaded_kernel.h"

namespace flashjit {

class KernelTable {
 public:
  using Builder = std::function<llvm::Expected<std::unique_ptr<cuda::LoadedKernel>>()>;

  llvm::Expected<const cuda::LoadedKernel*> get_or_build(const std::string& key, const Builder& build);
  size_t size() const;

 private:
  struct Slot {
    std::mutex build_mutex;  // held while building, so waiters block on it
    bool built = false;
    std::unique_ptr<cuda::LoadedKernel> kernel;
    std::string error;
  };
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

}  // namespace flashjit
