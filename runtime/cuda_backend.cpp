#include "runtime/cuda_backend.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "cuda/device.h"
#include "cuda/device_argument_check.h"
#include "cuda/pointer_checks.h"
#include "cuda/tensor_map_encoder.h"
#include "runtime/launch_params.h"
#include "runtime/open_cache.h"
#include "support/error.h"
#include "support/log.h"

namespace flashjit {
namespace {

BuildOptions build_options(const RuntimeOptions& options) {
  BuildOptions b;
  b.tune = options.tune;
  b.tune_options.budget_ms_per_candidate = options.tune_budget_ms;
  b.tune_options.max_candidates = options.tune_max_candidates;
  b.force_variant = options.force_variant;
  b.force_tiles = options.force_tiles;
  return b;
}

std::string origin_text(KernelOrigin origin) {
  switch (origin) {
    case KernelOrigin::cache: return "loaded from the tuning cache";
    case KernelOrigin::remote: return "fetched from the fleet's remote tuning cache";
    case KernelOrigin::tuned: return "tuned at first use";
    case KernelOrigin::heuristic: return "heuristic default, tuning off";
    case KernelOrigin::forced: return "forced by options";
    case KernelOrigin::planned:
    case KernelOrigin::cpu: break;
  }
  return kernel_origin_name(origin);
}

// The tuning cache, or none (with a warning) when it cannot be opened: never fatal.
std::unique_ptr<cache::TuningCache> open_cache(const RuntimeOptions& options) {
  if (!options.use_cache) return nullptr;
  auto opened = open_tuning_cache(options.cache_path);
  if (!opened) {
    log::warning("running without the tuning cache: " + llvm::toString(opened.takeError()));
    return nullptr;
  }
  return std::move(*opened);
}

// The fleet's remote tier, or none (with a warning) when its secrets cannot be read: never fatal.
std::unique_ptr<cache::RemoteCache> open_remote(const RuntimeOptions& options) {
  auto opened = open_remote_cache(options.remote_cache);
  if (!opened) {
    log::warning("running without the remote tuning cache: " + llvm::toString(opened.takeError()));
    return nullptr;
  }
  if (*opened && !(*opened)->settings().reads_allowed())
    log::warning("remote tuning cache " + (*opened)->settings().endpoint.describe() + ": " +
                 (*opened)->settings().signing() + "; nothing is read from or written to it");
  return std::move(*opened);
}

}  // namespace

llvm::Expected<std::unique_ptr<CudaBackend>> CudaBackend::create(const RuntimeOptions& options) {
  auto device = CudaDevice::open(options.device_index);
  if (!device) return device.takeError();
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(*device), options));
}

CudaBackend::CudaBackend(std::unique_ptr<CudaDevice> device, const RuntimeOptions& options)
    : device_(*device), options_(options), builder_(std::move(device), open_cache(options), build_options(options), open_remote(options)) {}

CudaBackend::~CudaBackend() = default;

llvm::Expected<KernelPlan> CudaBackend::plan(const AttentionArgs& args) const {
  const Problem problem = Problem::of_call(args);
  const ProblemKey key = device_problem_key(problem, device_.description());
  if (const BuiltKernel* ready = kernels_.find(key))
    return KernelPlan{ready->spec, "in use for " + key.str() + " (" + origin_text(ready->origin) + ")", ready->origin};
  auto selection = builder_.select(problem);
  if (!selection) return selection.takeError();
  KernelPlan plan{selection->spec, selection->reason, KernelOrigin::planned};
  if (!selection->compiled_by.empty()) plan.reason += "; compiled by " + selection->compiled_by;
  if (options_.force_variant || options_.force_tiles) plan.reason += "; forced by options";
  else if (options_.tune) plan.reason += "; tiles are tuned at first use (or taken from the tuning cache)";
  return plan;
}

Status CudaBackend::refuse_build_during_capture(const ProblemKey& key, CUstream stream) const {
  if (!cuda::stream_is_capturing(stream)) return Status::success();
  // The first use in a process compiles (or loads from the cache), loads and may tune: allocations,
  // launches and waits on other streams, none of which may happen while a graph is being captured.
  return Status(ErrorCode::invalid_argument,
                llvm::formatv("the first forward() of problem {0} in this process builds its kernel, which "
                              "cannot happen while a CUDA graph is being captured: call forward() once for "
                              "this problem before capturing",
                              key.str()));
}

Status CudaBackend::context_lost_error() const {
  if (!lost_flag_.load(std::memory_order_acquire)) return Status::success();  // every call: no lock
  std::lock_guard<std::mutex> lock(lost_mutex_);
  if (lost_.empty()) return Status::success();
  return Status(ErrorCode::driver_error,
                "the CUDA context of GPU " + std::to_string(options_.device_index) +
                    " is unusable: a kernel faulted (" + lost_ +
                    "), which poisons the context until the process ends; restart the process. If it was a "
                    "FlashJIT kernel, set FLASHJIT_DUMP_DIR to keep its source and report it");
}

Status CudaBackend::unless_context_lost(Status failed, CUstream stream) {
  // Finding out waits for the whole context, which a capture in progress must not see; a fault
  // then shows at the next call outside the capture.
  if (cuda::stream_is_capturing(stream)) return failed;
  std::string fault = cuda::context_fault();
  if (fault.empty()) return failed;
  {
    std::lock_guard<std::mutex> lock(lost_mutex_);
    if (lost_.empty()) lost_ = fault;
  }
  lost_flag_.store(true, std::memory_order_release);
  return context_lost_error();
}

Status CudaBackend::forward(const AttentionArgs& args, CUstream stream) {
  if (Status lost = context_lost_error(); !lost.ok()) return lost;
  auto scoped = cuda::ScopedContext::enter(device_.context());
  if (!scoped) return to_status(scoped.takeError());
  if (Status s = cuda::check_device_pointers(args, options_.device_index); !s.ok())
    return unless_context_lost(std::move(s), stream);
  if (options_.check_args)
    if (Status s = cuda::check_device_arguments(args, stream); !s.ok()) return unless_context_lost(std::move(s), stream);
  const Problem problem = Problem::of_call(args);
  const ProblemKey key = device_problem_key(problem, device_.description());
  const BuiltKernel* ready = kernels_.find(key);
  if (!ready) {
    if (Status s = refuse_build_during_capture(key, stream); !s.ok()) return s;
    auto built = kernels_.get_or_build(key, [&] { return builder_.obtain(problem); });
    if (!built) return unless_context_lost(to_status(built.takeError()), stream);
    ready = *built;
  }
  Status launched = launch(*ready, args, stream);
  if (!launched.ok()) return unless_context_lost(std::move(launched), stream);
  return launched;
}

llvm::Expected<void*> CudaBackend::split_workspace(const AttentionArgs& args, const SplitKv& split,
                                                   CUstream stream) {
  if (args.workspace != nullptr) return args.workspace;  // its size: check_workspace
  if (cuda::stream_is_capturing(stream))
    return make_error(ErrorCode::invalid_argument,
                      llvm::formatv("this call splits its keys over {0} blocks (split-KV) and needs {1} bytes of "
                                    "workspace, which the runtime cannot allocate while the stream captures a CUDA "
                                    "graph: pass args.workspace (Runtime::workspace_size gives its size)",
                                    split.splits, split.workspace_bytes));
  std::lock_guard<std::mutex> lock(workspace_mutex_);
  cuda::DeviceBuffer& buffer = workspaces_[stream];
  if (buffer.size() >= split.workspace_bytes) return buffer.pointer();
  // The stream's earlier calls may still read the old buffer: they finish before it is freed.
  if (buffer.pointer() != nullptr)
    if (llvm::Error err = cuda::synchronize_stream(stream)) return err;
  buffer = cuda::DeviceBuffer();
  auto grown = cuda::DeviceBuffer::allocate(split.workspace_bytes);
  if (!grown) return grown.takeError();
  buffer = std::move(*grown);
  return buffer.pointer();
}

Status CudaBackend::launch(const BuiltKernel& ready, const AttentionArgs& args, CUstream stream) {
  const int sm_count = device_.description().sm_count;
  const SplitKv split = kernel_split(ready.spec, args, sm_count);
  if (Status s = check_workspace(args, split); !s.ok()) return s;
  void* workspace = nullptr;
  if (split.splits > 1) {
    auto found = split_workspace(args, split, stream);
    if (!found) return to_status(found.takeError());
    workspace = *found;
  }
  auto params = make_kernel_parameters(ready.spec, args, cuda::encode_tensor_map);
  if (!params) return to_status(params.takeError());
  if (ready.spec.kv_cache) params->set_split(split, workspace);
  if (Status s = to_status(ready.kernel->launch(launch_shape(ready.spec, args, sm_count, split.splits), stream,
                                                params->arguments()));
      !s.ok())
    return s;
  if (split.splits <= 1) return Status::success();
  AttentionParams attention = make_params(args);
  SplitPartials partials = split_partials(split, workspace, args);
  void* combine_arguments[] = {&attention, &partials};
  return to_status(ready.kernel->launch_combine(combine_launch_shape(ready.spec, split), stream, combine_arguments));
}

}  // namespace flashjit
