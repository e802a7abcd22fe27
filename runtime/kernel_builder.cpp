#include "runtime/kernel_builder.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>
#include <nlohmann/json.hpp>

#include "generator/spec_json.h"
#include "runtime/cache_entries.h"
#include "runtime/split_kv.h"
#include "support/error.h"
#include "support/log.h"

namespace flashjit {
namespace {

// The tuner's compile step through the device, with nothing to run: compile_candidates.
class CompileOnlyBackend : public tuner::TuningBackend {
 public:
  explicit CompileOnlyBackend(const BuildDevice& device) : device_(device) {}
  llvm::Expected<tuner::CompiledCandidate> compile(const gen::KernelSpec& spec) override {
    return device_.compile(spec);
  }
  llvm::Error load(tuner::CompiledCandidate&) override { return unavailable(); }
  llvm::Expected<std::vector<double>> time(const tuner::CompiledCandidate&, int, double, int) override {
    return unavailable();
  }
  llvm::Expected<std::string> check(const tuner::CompiledCandidate&) override { return unavailable(); }

 private:
  static llvm::Error unavailable() { return make_error(ErrorCode::no_device, "no GPU to run on"); }
  const BuildDevice& device_;
};

}  // namespace

KernelBuilder::KernelBuilder(std::unique_ptr<BuildDevice> device, std::unique_ptr<cache::TuningCache> cache,
                             BuildOptions options, std::unique_ptr<cache::RemoteCache> remote)
    : device_(std::move(device)), cache_(std::move(cache)), options_(std::move(options)), remote_(std::move(remote)) {}

KernelBuilder::~KernelBuilder() = default;

llvm::Expected<gen::Selection> KernelBuilder::select(const Problem& problem) const {
  auto selection = gen::select_variant(device_->description(), problem, device_->compiler(), options_.force_variant);
  if (!selection || !options_.force_tiles) return selection;
  gen::KernelSpec& spec = selection->spec;
  const TileConfig& tiles = *options_.force_tiles;
  if (tiles.block_m) spec.block_m = tiles.block_m;
  if (tiles.block_n) spec.block_n = tiles.block_n;
  if (tiles.warps) spec.warps = tiles.warps;
  if (tiles.stages) spec.stages = tiles.stages;
  // Checked before anything compiles; a tile the caller forced is theirs to change.
  std::vector<std::string> problems = gen::spec_problems(spec, device_->description());
  if (!problems.empty())
    return make_error(ErrorCode::invalid_argument,
                      llvm::formatv("forced tiles give spec {0}, which cannot run on {1}: {2}",
                                    gen::canonical_key(spec), device_->description().name, llvm::join(problems, "; "))
                          .str());
  return selection;
}

ProblemKey KernelBuilder::key_of(const Problem& problem) const {
  return device_problem_key(problem, device_->description());
}

llvm::Expected<BuiltKernel> KernelBuilder::obtain(const Problem& problem) const {
  // Loading and tuning touch the context: whoever calls (forward(), a CLI command, a thread of
  // the application's) gets ours for the build.
  auto scope = device_->enter();
  if (!scope) return scope.takeError();
  if (options_.force_variant || options_.force_tiles) return forced(problem);
  // Where nothing can be timed, an untuned entry is as good as it gets.
  const bool tuning = options_.tune && device_->can_run();
  if (cache_) {
    std::optional<cache::CacheEntry> hit = lookup(problem);
    if (hit && (hit->tuned || !tuning)) {
      auto ready = from_cache(*hit, problem);
      if (ready) return ready;
      log::warning("cached kernel for " + key_of(problem).str() + " is unusable (" + llvm::toString(ready.takeError()) +
                   "); building it again");
    } else if (hit) {
      log::info("cached kernel for " + key_of(problem).str() + " is untuned; tuning it on this GPU");
    }
  }
  RemoteLookups lookups;
  if (remote_)
    if (std::optional<BuiltKernel> fetched = from_remote(problem, tuning, lookups)) return std::move(*fetched);
  if (!tuning) return heuristic(problem, lookups);
  auto result = tuned_once(problem, lookups);
  if (result) return result;
  // A kernel fault took the context down: nothing more can run here, so no fallback is compiled
  // (or stored in the cache); the caller reports the lost context.
  if (!device_->fault().empty()) return result.takeError();
  // Tuning can fail where the kernel itself would run (no memory for its input sets, say): the
  // caller still gets attention, from the heuristic default, and is told why.
  log::warning("tuning " + key_of(problem).str() + " failed, using the heuristic default: " +
               llvm::toString(result.takeError()));
  return heuristic(problem, lookups);
}

llvm::Expected<BuiltKernel> KernelBuilder::forced(const Problem& problem) const {
  auto selection = select(problem);
  if (!selection) return selection.takeError();
  const gen::KernelSpec& spec = selection->spec;
  auto compiled = device_->compile(spec);
  if (!compiled) return compiled.takeError();
  return loaded(BuiltKernel{spec, KernelOrigin::forced, nullptr, std::nullopt, {}}, compiled->cubin,
                compiled->symbol);
}

std::optional<cache::CacheEntry> KernelBuilder::lookup(const Problem& problem) const {
  const gen::DeviceDescription& device = device_->description();
  std::vector<cache::CacheKey> keys = {cache_key_for(device, device_->compiler(), problem)};
  if (!device.nominal)
    keys.push_back(cache_key_for(gen::DeviceDescription::for_arch(device.compute_capability()), device_->compiler(),
                                 problem));
  for (const cache::CacheKey& key : keys) {
    auto hit = cache_->lookup(key);
    if (!hit) {
      log::warning("tuning cache lookup failed, continuing without it: " + llvm::toString(hit.takeError()));
      return std::nullopt;
    }
    if (*hit) return std::move(**hit);
  }
  return std::nullopt;
}

llvm::Expected<BuiltKernel> KernelBuilder::from_cache(const cache::CacheEntry& entry, const Problem& problem) const {
  auto spec = spec_of(entry, problem);
  if (!spec) return spec.takeError();
  return loaded(BuiltKernel{*spec, KernelOrigin::cache, nullptr, std::nullopt, {}}, entry.cubin, entry.kernel_symbol);
}

llvm::Expected<gen::KernelSpec> KernelBuilder::spec_of(const cache::CacheEntry& entry, const Problem& problem) const {
  auto json = nlohmann::json::parse(entry.spec_json, nullptr, false);
  if (json.is_discarded()) return make_error(ErrorCode::internal, "its spec is not valid JSON");
  auto spec = gen::spec_from_json(json);
  if (!spec) return spec.takeError();
  // The cache checked the entry against its key (cache_entry_check.h); this is the last line
  // between a cubin and a call it was not built for, so the call's own features are compared too.
  if (spec->features() != problem.features())
    return make_error(ErrorCode::internal, "its spec " + gen::canonical_key(*spec) + " is not a kernel for " +
                                               key_of(problem).str());
  if (llvm::Error err = gen::validate_spec(*spec, device_->description())) return err;
  return spec;
}

llvm::Expected<BuiltKernel> KernelBuilder::tuned(const Problem& problem, const RemoteLookups& lookups) const {
  auto result = tune(problem);
  if (!result) return result.takeError();
  log::info(llvm::formatv("tuned {0}: {1} at {2:F4} ms over {3} candidates", key_of(problem).str(), result->winner.key,
                          result->timing.median_ms, result->candidates.size()));
  const cache::CacheKey key = cache_key_for(device_->description(), device_->compiler(), problem);
  BuiltKernel built{result->winner.spec, KernelOrigin::tuned, nullptr, std::nullopt, {}};
  store(tuned_entry(key, *result), built, lookups.replaces(key, /*tuned=*/true));
  // Loaded from its cubin as a cache hit would be; the tuner's own module goes with its results.
  return loaded(std::move(built), result->winner.cubin, result->winner.symbol);
}

llvm::Expected<BuiltKernel> KernelBuilder::heuristic(const Problem& problem, const RemoteLookups& lookups) const {
  auto selection = select(problem);
  if (!selection) return selection.takeError();
  auto compiled = device_->compile(selection->spec);
  if (!compiled) return compiled.takeError();
  const cache::CacheKey key = cache_key_for(device_->description(), device_->compiler(), problem);
  BuiltKernel built{selection->spec, KernelOrigin::heuristic, nullptr, std::nullopt, {}};
  store(untuned_entry(key, *compiled), built, lookups.replaces(key, /*tuned=*/false));
  return loaded(std::move(built), compiled->cubin, compiled->symbol);
}

llvm::Expected<BuiltKernel> KernelBuilder::loaded(BuiltKernel built, const std::string& cubin,
                                                  const std::string& symbol) const {
  if (!device_->can_run()) return built;
  auto kernel = device_->load(built.spec, cubin, symbol);
  if (!kernel) return kernel.takeError();
  built.kernel = std::move(*kernel);
  return built;
}

void KernelBuilder::store(const cache::CacheEntry& entry, BuiltKernel& built, bool replace_remote) const {
  publish(entry, built, replace_remote);
  if (!cache_) return;
  auto stored = cache_->store(entry);
  if (!stored) {
    built.store_error = llvm::toString(stored.takeError());
    log::warning("could not store " + entry.key.problem_key + " in the tuning cache: " + built.store_error);
    return;
  }
  if (stored->outcome == cache::StoreOutcome::read_only)
    log::info("tuning cache is read-only; " + entry.key.problem_key + " was not stored");
  built.stored = stored->outcome;
}

llvm::Expected<tuner::TuneResult> KernelBuilder::tune(const Problem& problem, const tuner::Progress& progress) const {
  auto scope = device_->enter();
  if (!scope) return scope.takeError();
  auto list = tuner::candidates(device_->description(), problem, device_->compiler());
  if (!list) return list.takeError();
  std::unique_ptr<tuner::TuningBackend> backend = device_->tuning_backend(problem);
  if (!backend)
    return make_error(ErrorCode::no_device,
                      "nothing can be timed on " + device_->description().name + ": tuning needs a GPU");
  return tuner::tune(*list, *backend, options_.tune_options, progress);
}

llvm::Expected<cache::StoreResult> KernelBuilder::store_tuned(const Problem& problem,
                                                              const tuner::TuneResult& result) const {
  if (!cache_) return make_error(ErrorCode::invalid_argument, "there is no tuning cache to store the winner in");
  const cache::CacheKey key = cache_key_for(device_->description(), device_->compiler(), problem);
  return cache_->store(tuned_entry(key, result), cache::ReplacePolicy::always);
}

llvm::Expected<cache::StoreOutcome> KernelBuilder::publish_tuned(const Problem& problem,
                                                                 const tuner::TuneResult& result) const {
  if (!remote_) return make_error(ErrorCode::invalid_argument, "there is no remote tuning cache to publish to");
  const cache::CacheKey key = cache_key_for(device_->description(), device_->compiler(), problem);
  return remote_->publish(tuned_entry(key, result), cache::ReplacePolicy::always);
}

llvm::Expected<std::vector<tuner::CandidateReport>> KernelBuilder::compile_candidates(
    const Problem& problem, const tuner::Progress& progress) const {
  auto list = tuner::candidates(device_->description(), problem, device_->compiler());
  if (!list) return list.takeError();
  CompileOnlyBackend backend(*device_);
  return tuner::compile_candidates(*list, backend, options_.tune_options, progress);
}

}  // namespace flashjit
