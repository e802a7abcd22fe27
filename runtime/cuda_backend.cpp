#include "runtime/cuda_backend.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "runtime/cuda/device.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/cuda/pointer_checks.h"
#include "runtime/cuda/tensor_map_encoder.h"
#include "runtime/launch_params.h"
#include "support/log.h"
#include "support/error.h"

namespace flashjit {
namespace {


ProviderOptions provider_options(const RuntimeOptions& options) {
  ProviderOptions p;
  p.tune = options.tune;
  p.tune_options.budget_ms_per_candidate = options.tune_budget_ms;
  p.tune_options.max_candidates = options.tune_max_candidates;
  p.force_variant = options.force_variant;
  p.force_tiles = options.force_tiles;
  return p;
}

std::string origin_text(const std::string& origin) {
  if (origin == "cache") return "loaded from the tuning cache";
  if (origin == "tuned") return "tuned at first use";
  if (origin == "heuristic") return "heuristic default, tuning off";
  return "forced by options";
}

// The tuning cache, or none (with a warning) when it cannot be opened: never fatal.
std::unique_ptr<cache::TuningCache> open_cache(const RuntimeOptions& options) {
  if (!options.use_cache) return nullptr;
  auto opened = options.cache_path.empty() ? cache::TuningCache::open_default()
                                           : cache::TuningCache::open(options.cache_path);
  if (!opened) {
    log::warning("running without the tuning cache: " + llvm::toString(opened.takeError()));
    return nullptr;
  }
  return std::move(*opened);
}

}  // namespace

llvm::Expected<std::unique_ptr<CudaBackend>> CudaBackend::create(const RuntimeOptions& options) {
  auto device = cuda::describe_device(options.device_index);
  if (!device) return device.takeError();
  const gen::CompilerTargets& nvrtc = cuda::nvrtc_targets();
  if (llvm::Error err = cuda::check_driver_compatibility(device->driver_version, nvrtc)) return err;
  if (auto target = gen::choose_target(device->compute_capability(), nvrtc); !target)
    return target.takeError();
  auto context = cuda::PrimaryContext::retain(options.device_index);
  if (!context) return context.takeError();
  log::info(llvm::formatv("using {0} (sm_{1}, {2} SMs)", device->name, device->compute_capability(),
                          device->sm_count));
  return std::unique_ptr<CudaBackend>(
      new CudaBackend(std::move(*device), std::move(*context), open_cache(options), options));
}

CudaBackend::CudaBackend(gen::DeviceDescription device, std::unique_ptr<cuda::PrimaryContext> context,
                         std::unique_ptr<cache::TuningCache> cache, const RuntimeOptions& options)
    : device_(std::move(device)),
      context_(std::move(context)),
      cache_(std::move(cache)),
      options_(options),
      provider_(device_, *context_, cache_.get(), provider_options(options)) {}

CudaBackend::~CudaBackend() {
  // The loaded modules are unloaded after this body, from the current context: make it ours.
  if (llvm::Error err = context_->make_current()) llvm::consumeError(std::move(err));
}

llvm::Expected<KernelPlan> CudaBackend::plan(const AttentionArgs& args) {
  const Problem problem = Problem::of_call(args);
  if (const ReadyKernel* ready = kernels_.find(problem.key()))
    return KernelPlan{ready->spec, "in use for " + problem.key().str() + " (" + origin_text(ready->origin) + ")",
                      ready->origin};
  auto selection = gen::select_variant(device_, problem, cuda::nvrtc_targets(),
                                       options_.force_variant);
  if (!selection) return selection.takeError();
  KernelPlan plan{selection->spec, selection->reason, "planned"};
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
  auto scoped = cuda::ScopedContext::enter(*context_);
  if (!scoped) return to_status(scoped.takeError());
  if (Status s = cuda::check_device_pointers(args, options_.device_index); !s.ok())
    return unless_context_lost(std::move(s), stream);
  const Problem problem = Problem::of_call(args);
  const ProblemKey key = problem.key();
  const ReadyKernel* ready = kernels_.find(key);
  if (!ready) {
    if (Status s = refuse_build_during_capture(key, stream); !s.ok()) return s;
    auto built = kernels_.get_or_build(key, [&] { return provider_.obtain(problem); });
    if (!built) return unless_context_lost(to_status(built.takeError()), stream);
    ready = *built;
  }
  auto params = make_kernel_parameters(ready->spec, args, cuda::encode_tensor_map);
  if (!params) return to_status(params.takeError());
  Status launched =
      to_status(ready->kernel->launch(launch_shape(ready->spec, args, device_.sm_count), stream, params->data()));
  if (!launched.ok()) return unless_context_lost(std::move(launched), stream);
  return launched;
}

}  // namespace flashjit
