#include "runtime/kernel_provider.h"

#include "runtime/cuda/device.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>
#include <nlohmann/json.hpp>

#include "generator/selector.h"
#include "generator/spec_json.h"
#include "runtime/cuda/loaded_kernel.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/cuda_tuning_backend.h"
#include "support/log.h"
#include "support/error.h"

namespace flashjit {
namespace {

llvm::Error error(ErrorCode code, const std::string& message) { return make_error(code, message); }

llvm::Expected<ReadyKernel> load(const gen::KernelSpec& spec, const std::string& cubin, const std::string& symbol,
                                 const char* origin) {
  auto kernel = cuda::LoadedKernel::load(cubin, symbol, gen::shared_memory_bytes(spec));
  if (!kernel) return kernel.takeError();
  return ReadyKernel{spec, std::shared_ptr<cuda::LoadedKernel>(std::move(*kernel)), origin};
}

}  // namespace

cache::CacheEntry tuned_entry(const cache::CacheKey& key, const tuner::TuneResult& result) {
  cache::CacheEntry entry;
  entry.key = key;
  entry.spec_json = gen::spec_to_json(result.winner.spec).dump();
  entry.kernel_symbol = result.winner.symbol;
  entry.cubin = result.winner.cubin;
  entry.median_ms = result.timing.median_ms;
  entry.p20_ms = result.timing.p20_ms;
  entry.p80_ms = result.timing.p80_ms;
  entry.candidates_tried = static_cast<int>(result.candidates.size());
  entry.tuned = true;
  return entry;
}

cache::CacheEntry untuned_entry(const cache::CacheKey& key, const gen::KernelSpec& spec,
                                const tuner::CompiledCandidate& compiled) {
  cache::CacheEntry entry;
  entry.key = key;
  entry.spec_json = gen::spec_to_json(spec).dump();
  entry.kernel_symbol = compiled.symbol;
  entry.cubin = compiled.cubin;
  entry.candidates_tried = 1;
  entry.tuned = false;
  return entry;
}

KernelProvider::KernelProvider(const gen::DeviceDescription& device, const cuda::PrimaryContext& context,
                               cache::TuningCache* cache, ProviderOptions options)
    : device_(device), context_(context), cache_(cache), options_(std::move(options)) {}

cache::CacheKey make_cache_key(const gen::DeviceDescription& device, const Problem& problem) {
  gen::KernelSpec target;
  target.arch = device.compute_capability();
  const gen::CompilerTargets& nvrtc = cuda::nvrtc_targets();
  cache::CacheKey key;
  key.compute_capability = device.compute_capability();
  if (!device.nominal) {
    key.device_name = device.name;
    key.sm_count = device.sm_count;
    key.driver_version = device.driver_version;
  }
  key.nvrtc_version = cache::nvrtc_version_number(nvrtc.nvrtc_major, nvrtc.nvrtc_minor);
  key.generator_hash = gen::generator_hash();
  key.compile_options = llvm::join(cuda::compile_options(target), " ");
  key.problem_key = problem.key().str();
  return key;
}

std::optional<cache::CacheEntry> KernelProvider::lookup(const cache::CacheKey& key, const Problem& problem) const {
  for (const cache::CacheKey& k :
       {key, make_cache_key(gen::DeviceDescription::for_arch(device_.compute_capability()), problem)}) {
    auto hit = cache_->lookup(k);
    if (!hit) {
      log::warning("tuning cache lookup failed, continuing without it: " + llvm::toString(hit.takeError()));
      return std::nullopt;
    }
    if (*hit) return std::move(**hit);
  }
  return std::nullopt;
}

llvm::Expected<ReadyKernel> KernelProvider::obtain(const Problem& problem) const {
  if (options_.force_variant || options_.force_tiles) return forced(problem);
  const cache::CacheKey key = make_cache_key(device_, problem);
  if (cache_) {
    std::optional<cache::CacheEntry> hit = lookup(key, problem);
    if (hit && (hit->tuned || !options_.tune)) {
      auto ready = from_cache(*hit);
      if (ready) return ready;
      log::warning("cached kernel for " + key.problem_key + " is unusable (" + llvm::toString(ready.takeError()) +
                   "); compiling again");
    } else if (hit) {
      log::info("cached kernel for " + key.problem_key + " is untuned; tuning it on this GPU");
    }
  }
  if (!options_.tune) return heuristic(problem, key);
  auto result = tuned(problem, key);
  if (result) return result;
  // A kernel fault took the context down: nothing more can run here, so no fallback is compiled
  // (or stored in the cache); the caller reports the lost context.
  if (!cuda::context_fault().empty()) return result.takeError();
  // Tuning can fail where the kernel itself would run (no memory for its input sets, say): the
  // caller still gets attention, from the heuristic default, and is told why.
  log::warning("tuning " + key.problem_key + " failed, using the heuristic default: " +
               llvm::toString(result.takeError()));
  return heuristic(problem, key);
}

llvm::Expected<ReadyKernel> KernelProvider::forced(const Problem& problem) const {
  auto selection = gen::select_variant(device_, problem, cuda::nvrtc_targets(), options_.force_variant);
  if (!selection) return selection.takeError();
  gen::KernelSpec spec = selection->spec;
  if (const auto& tiles = options_.force_tiles) {
    if (tiles->block_m) spec.block_m = tiles->block_m;
    if (tiles->block_n) spec.block_n = tiles->block_n;
    if (tiles->warps) spec.warps = tiles->warps;
    if (tiles->stages) spec.stages = tiles->stages;
    std::vector<std::string> problems = gen::spec_problems(spec, device_);
    if (!problems.empty())
      return error(ErrorCode::invalid_argument, llvm::formatv("forced tiles give spec {0}, which cannot run on {1}: {2}", gen::canonical_key(spec),
                                 device_.name, llvm::join(problems, "; ")));
  }
  auto compiled = compile_candidate(spec);
  if (!compiled) return compiled.takeError();
  return load(spec, compiled->cubin, compiled->symbol, "forced");
}

llvm::Expected<ReadyKernel> KernelProvider::from_cache(const cache::CacheEntry& entry) const {
  auto json = nlohmann::json::parse(entry.spec_json, nullptr, false);
  if (json.is_discarded()) return error(ErrorCode::internal, "its spec is not valid JSON");
  auto spec = gen::spec_from_json(json);
  if (!spec) return spec.takeError();
  if (llvm::Error err = gen::validate_spec(*spec, device_)) return err;
  return load(*spec, entry.cubin, entry.kernel_symbol, "cache");
}

llvm::Expected<ReadyKernel> KernelProvider::tuned(const Problem& problem, const cache::CacheKey& key) const {
  auto list = tuner::candidates(device_, problem, cuda::nvrtc_targets());
  if (!list) return list.takeError();
  CudaTuningBackend backend(context_, problem, device_.l2_bytes, device_.sm_count);
  auto result = tuner::tune(*list, backend, options_.tune_options);
  if (!result) return result.takeError();
  log::info(llvm::formatv("tuned {0}: {1} at {2:F4} ms over {3} candidates", key.problem_key, result->winner.key,
                          result->timing.median_ms, result->candidates.size()));

  const cache::CacheEntry entry = tuned_entry(key, *result);
  store(entry);
  auto kernel = std::static_pointer_cast<cuda::LoadedKernel>(result->winner.loaded);
  return ReadyKernel{result->winner.spec, std::move(kernel), "tuned"};
}

llvm::Expected<ReadyKernel> KernelProvider::heuristic(const Problem& problem, const cache::CacheKey& key) const {
  auto selection = gen::select_variant(device_, problem, cuda::nvrtc_targets());
  if (!selection) return selection.takeError();
  auto compiled = compile_candidate(selection->spec);
  if (!compiled) return compiled.takeError();
  const cache::CacheEntry entry = untuned_entry(key, selection->spec, *compiled);
  store(entry);
  return load(selection->spec, compiled->cubin, compiled->symbol, "heuristic");
}

void KernelProvider::store(const cache::CacheEntry& entry) const {
  if (!cache_) return;
  auto stored = cache_->store(entry);
  if (!stored) {
    log::warning("could not store " + entry.key.problem_key + " in the tuning cache: " + llvm::toString(stored.takeError()));
    return;
  }
  if (stored->outcome == cache::StoreOutcome::read_only)
    log::info("tuning cache is read-only; " + entry.key.problem_key + " was not stored");
}

}  // namespace flashjit
