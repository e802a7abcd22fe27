#include "helpers/gpu_runtime.h"

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <llvm/Support/Error.h>

#include "cuda/device.h"
#include "helpers/compare.h"
#include "helpers/cpu_reference.h"
#include "helpers/device_problem.h"

namespace flashjit::test {
namespace {

// Every option a test varies is in the key: two option sets that force different variants or
// tiles must never share a runtime (its kernel table would hand back the other's kernel).
std::string runtime_key(const RuntimeOptions& options) {
  std::string key = options.force_variant ? variant_name(*options.force_variant) : "selected";
  if (const auto& t = options.force_tiles)
    key += "/m" + std::to_string(t->block_m) + "n" + std::to_string(t->block_n) + "w" + std::to_string(t->warps) +
           "s" + std::to_string(t->stages);
  return key;
}

}  // namespace

Runtime* shared_gpu_runtime(const RuntimeOptions& options, std::string* why_not) {
  struct Entry {
    std::string key;
    std::unique_ptr<Runtime> runtime;
    std::string error;
  };
  static std::mutex mutex;
  static std::vector<Entry> runtimes;
  std::lock_guard<std::mutex> lock(mutex);
  const std::string key = runtime_key(options);
  for (Entry& e : runtimes)
    if (e.key == key) {
      *why_not = e.error;
      return e.runtime.get();
    }
  Entry entry{key, nullptr, ""};
  RuntimeOptions cuda_options = options;
  cuda_options.backend = Backend::cuda;
  cuda_options.tune = false;
  cuda_options.use_cache = false;
  auto created = Runtime::create(cuda_options);
  if (created)
    entry.runtime = std::move(*created);
  else
    entry.error = created.status().message();
  runtimes.push_back(std::move(entry));
  *why_not = runtimes.back().error;
  return runtimes.back().runtime.get();
}

int gpu_compute_capability(std::string* why_not) {
  auto device = cuda::describe_device(0);
  if (!device) {
    *why_not = llvm::toString(device.takeError());
    return 0;
  }
  return device->compute_capability();
}

std::string architecture_skip(Variant variant, int cc) {
  // wgmma_sm90 runs on compute capability 9.0 only (wgmma and setmaxnreg exist in sm_90a alone).
  if (variant == Variant::wgmma_sm90) {
    if (cc == 90) return {};
    return "wgmma_sm90 needs compute capability 9.0 (H100/H200, sm_90a), this GPU is sm_" + std::to_string(cc);
  }
  int minimum = 75;
  if (variant == Variant::generic) minimum = 50;
  if (variant == Variant::mma_sm70) minimum = 70;
  if (variant == Variant::mma_sm80) minimum = 80;
  if (cc >= minimum) return {};
  return std::string(variant_name(variant)) + " needs compute capability " + std::to_string(minimum) +
         ", this GPU is sm_" + std::to_string(cc);
}

Runtime* variant_runtime(std::optional<Variant> variant, std::string* skip) {
  RuntimeOptions options;
  options.force_variant = variant;
  Runtime* runtime = shared_gpu_runtime(options, skip);
  if (!runtime || !variant) return runtime;
  const int cc = gpu_compute_capability(skip);
  if (cc == 0) return nullptr;
  if (std::string why = architecture_skip(*variant, cc); !why.empty()) {
    *skip = why;
    return nullptr;
  }
  return runtime;
}

testing::AssertionResult device_matches_cpu(Runtime& runtime, HostProblem& p) {
  const ReferenceOutput reference = cpu_reference(p);
  const Status s = run_on_device(runtime, p);
  if (!s.ok()) return testing::AssertionFailure() << p.shape.name() << ": " << s.to_string();
  // Without an lse the kernel got a null pointer: writing through it faults, and the call fails.
  return matches_reference(p, reference, p.shape.with_lse, kKernelLseTolerance);
}

}  // namespace flashjit::test
