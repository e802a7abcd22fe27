#include "runtime/cuda_backend.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "generator/emit.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/kernel_dump.h"
#include "runtime/launch_params.h"
#include "runtime/log.h"
#include "runtime/status_from_error.h"

namespace flashjit {
namespace {

llvm::Error error(const std::string& message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

gen::KernelSpec apply_tiles(gen::KernelSpec spec, const TileConfig& tiles) {
  if (tiles.block_m) spec.block_m = tiles.block_m;
  if (tiles.block_n) spec.block_n = tiles.block_n;
  if (tiles.warps) spec.warps = tiles.warps;
  if (tiles.stages) spec.stages = tiles.stages;
  return spec;
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
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(*device), std::move(*context), options));
}

CudaBackend::~CudaBackend() {
  // The loaded modules are unloaded after this body, from the current context: make it ours.
  if (llvm::Error err = context_->make_current()) llvm::consumeError(std::move(err));
}

llvm::Expected<KernelPlan> CudaBackend::make_plan(const gen::ProblemClass& problem) const {
  auto selection = gen::select_variant(device_, problem, cuda::nvrtc_targets(), options_.force_variant);
  if (!selection) return selection.takeError();
  KernelPlan plan{selection->spec, selection->reason};
  if (options_.force_tiles) {
    plan.spec = apply_tiles(plan.spec, *options_.force_tiles);
    std::vector<std::string> problems = gen::spec_problems(plan.spec, device_);
    if (!problems.empty())
      return error(llvm::formatv("forced tiles give spec {0}, which cannot run on {1}: {2}",
                                 gen::canonical_key(plan.spec), device_.name, llvm::join(problems, "; ")));
    plan.reason += "; tiles forced by options";
  }
  return plan;
}

llvm::Expected<KernelPlan> CudaBackend::plan(const AttentionArgs& args) {
  const auto key = std::make_tuple(args.q.dtype, args.head_dim, args.mask);
  std::lock_guard<std::mutex> lock(plan_mutex_);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  auto plan = make_plan(gen::ProblemClass{args.q.dtype, args.head_dim, args.mask});
  if (!plan) return plan.takeError();
  plans_.emplace(key, *plan);
  return plan;
}

llvm::Expected<std::unique_ptr<cuda::LoadedKernel>> CudaBackend::build(const gen::KernelSpec& spec) const {
  auto emitted = gen::emit(spec);
  if (!emitted) return emitted.takeError();
  auto compiled = cuda::compile_kernel(*emitted, spec);
  const std::string dump_dir = dump_directory();
  if (!compiled) {
    std::string message = llvm::toString(compiled.takeError());
    if (!dump_dir.empty()) dump_kernel(dump_dir, spec, *emitted, nullptr, message);
    return error(message);
  }
  if (!dump_dir.empty()) dump_kernel(dump_dir, spec, *emitted, &*compiled, "");
  if (compiled->resources.spills())
    log::warning(llvm::formatv("{0} spills {1} bytes to local memory", compiled->key,
                               compiled->resources.spill_store_bytes));
  log::info(llvm::formatv("compiled {0} in {1:F1} ms ({2} registers)", compiled->key,
                          compiled->compile_ms, compiled->resources.registers));
  return cuda::LoadedKernel::load(compiled->cubin, compiled->lowered_name, gen::shared_memory_bytes(spec));
}

Status CudaBackend::check_device_pointers(const AttentionArgs& args) const {
  const cuda::DriverApi& api = *cuda::driver_api();
  const std::pair<const char*, const void*> pointers[] = {
      {"q", args.q.data}, {"k", args.k.data}, {"v", args.v.data}, {"out", args.out.data}, {"lse", args.lse}};
  for (auto [name, pointer] : pointers) {
    if (pointer == nullptr) continue;
    unsigned int memory_type = 0;
    // Device, managed and registered host memory are all known to the driver; plain host memory
    // (malloc, std::vector) is not, and would fault inside the kernel.
    CUresult r = api.cuPointerGetAttribute(&memory_type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                           reinterpret_cast<CUdeviceptr>(pointer));
    if (r != CUDA_SUCCESS)
      return Status(ErrorCode::invalid_argument,
                    llvm::formatv("{0} ({1}) is not memory the CUDA driver knows; the CUDA backend "
                                  "needs device memory (a host pointer?)",
                                  name, pointer));
  }
  return Status::success();
}

Status CudaBackend::forward(const AttentionArgs& args, CUstream stream) {
  auto scoped = cuda::ScopedContext::enter(*context_);
  if (!scoped) return status_from(scoped.takeError(), ErrorCode::driver_error);
  if (Status s = check_device_pointers(args); !s.ok()) return s;
  auto planned = plan(args);
  if (!planned) return status_from(planned.takeError(), ErrorCode::unsupported);
  const gen::KernelSpec& spec = planned->spec;
  auto ready = kernels_.get_or_build(gen::canonical_key(spec), [&]() -> llvm::Expected<ReadyKernel> {
    auto kernel = build(spec);
    if (!kernel) return kernel.takeError();
    return ReadyKernel{spec, std::move(*kernel), options_.force_variant || options_.force_tiles ? "forced" : "heuristic"};
  });
  if (!ready) return status_from(ready.takeError(), ErrorCode::compile_error);
  AttentionParams params = make_params(args);
  return status_from((*ready)->kernel->launch(launch_shape((*ready)->spec, args), stream, &params),
                     ErrorCode::launch_error);
}

}  // namespace flashjit
