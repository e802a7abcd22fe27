// The in-memory table of loaded kernels, per device, keyed by ProblemKey (compared as a value: the
// hot path formats no string). Thread-safe and single-flight: when several threads ask for the same
// new key, one builds it and the others wait for that result. A build that failed stays failed
// (with its message and code) for the process lifetime, so a broken spec is not recompiled on
// every call.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <llvm/Support/Error.h>

#include "flashjit/status.h"
#include "problem/problem.h"
#include "runtime/kernel_builder.h"

namespace flashjit {

class KernelTable {
 public:
  using Builder = std::function<llvm::Expected<BuiltKernel>()>;

  // The kernel for `key`, built by `build` on the first call; a failure keeps its code.
  llvm::Expected<const BuiltKernel*> get_or_build(const ProblemKey& key, const Builder& build);
  size_t size() const;
  // The kernel built for `key`, or null when none was (successfully) built yet. Never builds.
  const BuiltKernel* find(const ProblemKey& key) const;

 private:
  struct Slot {
    std::mutex build_mutex;  // held while building, so waiters block on it
    bool built = false;
    std::unique_ptr<BuiltKernel> ready;
    Status error;  // why the build failed, with its code
  };
  mutable std::mutex mutex_;
  std::map<ProblemKey, std::shared_ptr<Slot>> slots_;
};

}  // namespace flashjit
