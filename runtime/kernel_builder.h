// The one way a kernel for a problem comes to be (obtain), used by forward(), `flashjit warm` and
// `flashjit warm --arch` alike: forced options, else the tuning cache (the exact device, then any
// device of its architecture), else the tuner (or, with tuning off or nothing to time on, the
// heuristic default), then the store, then the load. `flashjit tune` uses its tune, store_tuned and
// compile_candidates. It owns the device, so it owns the CUDA context, and makes it current for
// every build.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <llvm/Support/Error.h>

#include "cache/remote_cache.h"
#include "cache/tuning_cache.h"
#include "flashjit/runtime.h"
#include "generator/selector.h"
#include "problem/problem.h"
#include "runtime/build_device.h"
#include "tuner/tuner.h"

namespace flashjit {

struct BuildOptions {
  bool tune = true;
  tuner::TuneOptions tune_options;
  // Testing and debugging: bypass the cache and the tuner.
  std::optional<Variant> force_variant;
  std::optional<TileConfig> force_tiles;
};

// A kernel for a problem and where it came from.
struct BuiltKernel {
  gen::KernelSpec spec;
  KernelOrigin origin = KernelOrigin::heuristic;
  // Null on a device that cannot run kernels (a compile-only target).
  std::shared_ptr<const LaunchableKernel> kernel;
  // What storing it did; empty when nothing was stored (it came from the cache, was forced, there
  // is no cache, or the store failed: then store_error says why).
  std::optional<cache::StoreOutcome> stored;
  std::string store_error;
  // What publishing it to the fleet's remote cache did; empty when nothing was published (no
  // remote tier, or it came from a cache); publish_error says why a publish failed (never fatal).
  std::optional<cache::StoreOutcome> published;
  std::string publish_error;
};

class KernelBuilder {
 public:
  // `cache` may be null: every process then compiles or tunes again. `remote` (may be null) is the
  // fleet's tier behind it: looked up after the local cache misses (or holds only an untuned entry
  // while tuning is on), written whenever the local cache is.
  KernelBuilder(std::unique_ptr<BuildDevice> device, std::unique_ptr<cache::TuningCache> cache,
                BuildOptions options, std::unique_ptr<cache::RemoteCache> remote = nullptr);
  ~KernelBuilder();

  const BuildDevice& device() const { return *device_; }
  cache::TuningCache* cache() const { return cache_.get(); }
  cache::RemoteCache* remote() const { return remote_.get(); }

  // The kernel for `problem`. Thread-safe; the caller keeps one build per problem at a time (the
  // kernel table does).
  llvm::Expected<BuiltKernel> obtain(const Problem& problem) const;

  // The selector's choice on this device: the variant (forced by the options, if they force one),
  // its default tiles (or the forced ones over them) and why. A forced variant or tile the device
  // or problem cannot take is invalid_argument, saying why, before anything compiles.
  llvm::Expected<gen::Selection> select(const Problem& problem) const;
  // The key `problem`'s kernel has on this device (device_problem_key): what the kernel table, the
  // cache and messages name it by.
  ProblemKey key_of(const Problem& problem) const;

  // `flashjit tune`: tunes `problem` now, whatever the cache holds. The result keeps every
  // candidate's report; the winner is not stored (store_tuned does).
  llvm::Expected<tuner::TuneResult> tune(const Problem& problem, const tuner::Progress& progress = nullptr) const;
  // Stores a tuning result as the problem's entry, replacing what was there (a deliberate re-tune).
  llvm::Expected<cache::StoreResult> store_tuned(const Problem& problem, const tuner::TuneResult& result) const;
  // The same to the fleet's remote cache, replacing what it held.
  llvm::Expected<cache::StoreOutcome> publish_tuned(const Problem& problem, const tuner::TuneResult& result) const;
  // Where nothing can be timed: every candidate compiled, as reports (registers and spills, or the
  // compile error), the pruned ones after them.
  llvm::Expected<std::vector<tuner::CandidateReport>> compile_candidates(const Problem& problem,
                                                                         const tuner::Progress& progress = nullptr) const;

 private:
  // The remote entries one obtain() refused, by their Redis keys: none is fetched again in it, and
  // what it then builds replaces one that was garbage (any entry) or that computed wrong results
  // here (a tuned entry only: a tuned entry is never replaced by an untuned one for less). One that
  // only could not be checked or loaded here (out of memory, say) is left as it is.
  struct RemoteLookups {
    enum class Refusal { garbage, wrong_here, unusable_here };
    std::vector<std::pair<std::string, Refusal>> refused;
    void refuse(const cache::CacheKey& key, Refusal why);
    bool refused_key(const cache::CacheKey& key) const;
    bool replaces(const cache::CacheKey& key, bool tuned) const;
  };
  llvm::Expected<BuiltKernel> forced(const Problem& problem) const;
  // The exact entry, else one a compile-only warm-up stored for any device of this architecture.
  std::optional<cache::CacheEntry> lookup(const Problem& problem) const;
  llvm::Expected<BuiltKernel> from_cache(const cache::CacheEntry& entry, const Problem& problem) const;
  // The spec of a stored entry, checked to be a kernel for exactly `problem` on this device.
  llvm::Expected<gen::KernelSpec> spec_of(const cache::CacheEntry& entry, const Problem& problem) const;
  llvm::Expected<BuiltKernel> tuned(const Problem& problem, const RemoteLookups& lookups) const;
  llvm::Expected<BuiltKernel> heuristic(const Problem& problem, const RemoteLookups& lookups) const;
  // Loads `spec`'s cubin where kernels can run; leaves `built.kernel` null where they cannot.
  llvm::Expected<BuiltKernel> loaded(BuiltKernel built, const std::string& cubin, const std::string& symbol) const;
  // Stores `entry` locally and publishes it to the remote tier, noting in `built` what each did (a
  // failure is a warning: the kernel runs). `replace_remote`: the remote entry under this key was
  // rejected, so this one replaces it whatever it is.
  void store(const cache::CacheEntry& entry, BuiltKernel& built, bool replace_remote = false) const;

  // ---- the remote tier (kernel_builder_remote.cpp) ----
  // A verified remote entry for `problem` (the exact key, then the architecture's) that may serve
  // it (tuned, or any while not tuning), through the correctness gate when tuning, loaded and stored
  // locally; nullopt when there is none (why is logged where it matters).
  std::optional<BuiltKernel> from_remote(const Problem& problem, bool tuning, RemoteLookups& lookups) const;
  std::optional<BuiltKernel> adopt_remote(const cache::CacheEntry& entry, const Problem& problem, bool tuning,
                                          RemoteLookups& lookups) const;
  // tuned(), once across the fleet: under the problem's remote lock, or after waiting for the
  // process that holds it to publish (up to single_flight_wait_ms).
  llvm::Expected<BuiltKernel> tuned_once(const Problem& problem, RemoteLookups& lookups) const;
  void publish(const cache::CacheEntry& entry, BuiltKernel& built, bool replace) const;

  std::unique_ptr<BuildDevice> device_;
  std::unique_ptr<cache::TuningCache> cache_;
  BuildOptions options_;
  std::unique_ptr<cache::RemoteCache> remote_;
};

}  // namespace flashjit
