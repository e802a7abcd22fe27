// The GPU side of the Runtime: one device, the kernel builder that owns its context, and the table
// of ready kernels per problem. First use of a problem: see KernelBuilder.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include <llvm/Support/Error.h>

#include "flashjit/runtime.h"
#include "problem/problem.h"
#include "runtime/cuda_device.h"
#include "runtime/kernel_builder.h"
#include "runtime/kernel_table.h"
#include "runtime/split_kv.h"

namespace flashjit {

struct KernelPlan {
  gen::KernelSpec spec;
  std::string reason;
  KernelOrigin origin = KernelOrigin::planned;  // the built kernel's, or planned when not built yet
};

class CudaBackend {
 public:
  // Fails with the precise reason the GPU path is unusable (no driver, no device, index out of
  // range, driver older than NVRTC's output, NVRTC unable to target the device).
  static llvm::Expected<std::unique_ptr<CudaBackend>> create(const RuntimeOptions& options);
  ~CudaBackend();

  // `args` must be validated and normalized. The caller's current context is left as it was.
  Status forward(const AttentionArgs& args, CUstream stream);
  // The kernel serving `args` if it is loaded already, else what the selector would start from.
  llvm::Expected<KernelPlan> plan(const AttentionArgs& args) const;
  const gen::DeviceDescription& device() const { return device_.description(); }

 private:
  CudaBackend(std::unique_ptr<CudaDevice> device, const RuntimeOptions& options);
  // An error when `stream` is capturing a CUDA graph, for a problem whose kernel is not built yet.
  Status refuse_build_during_capture(const ProblemKey& key, CUstream stream) const;
  // `failed` as it is, unless the context turns out to be lost to a kernel fault: then an error
  // that says so, which every later forward() returns at once.
  Status unless_context_lost(Status failed, CUstream stream);
  Status context_lost_error() const;
  // Where a split call's partials go: args.workspace, or this backend's buffer for `stream` (grown
  // outside a graph capture; refused inside one).
  llvm::Expected<void*> split_workspace(const AttentionArgs& args, const SplitKv& split, CUstream stream);
  // Queues the kernel, and a split call's combine step after it.
  Status launch(const BuiltKernel& kernel, const AttentionArgs& args, CUstream stream);

  const CudaDevice& device_;  // owned by builder_
  RuntimeOptions options_;
  KernelBuilder builder_;
  // After the builder: its kernels unload while the context is still retained.
  KernelTable kernels_;
  mutable std::mutex lost_mutex_;
  std::string lost_;                     // why the context is unusable; empty while it is healthy
  std::atomic<bool> lost_flag_{false};  // lost_ is set (read without the lock on every call)
  // Split-KV workspaces of calls that give none, one per stream: work on one stream runs in order,
  // so a stream's calls never overlap in it.
  std::mutex workspace_mutex_;
  std::map<CUstream, cuda::DeviceBuffer> workspaces_;
};

}  // namespace flashjit
