// First use of a problem on a device, as in DESIGN.md's data flow: cache lookup (hit: load the
// stored cubin, no NVRTC) -> tune the candidates (or, with tuning off, compile the heuristic
// default) -> store the winner -> the loaded kernel. Forced variants or tiles (debugging) bypass
// the cache and the tuner.
#pragma once

#include <optional>
#include <string>

#include <llvm/Support/Error.h>

#include "cache/tuning_cache.h"
#include "flashjit/runtime.h"
#include "generator/device_description.h"
#include "problem/problem.h"
#include "runtime/cuda/device.h"
#include "runtime/kernel_table.h"
#include "tuner/tuner.h"

namespace flashjit {

struct ProviderOptions {
  bool tune = true;
  tuner::TuneOptions tune_options;
  std::optional<Variant> force_variant;
  std::optional<TileConfig> force_tiles;
};

// The cache key of `problem` on `device`. A nominal device (a compile-only warm-up for an arch, with
// no GPU) gives the "any device of this compute capability" key: empty name, no SM count, no
// driver; the runtime falls back to it when its exact key misses.
cache::CacheKey make_cache_key(const gen::DeviceDescription& device, const Problem& problem);

// Cache rows for a tuned winner and for an untuned (heuristic) compile.
cache::CacheEntry tuned_entry(const cache::CacheKey& key, const tuner::TuneResult& result);
cache::CacheEntry untuned_entry(const cache::CacheKey& key, const gen::KernelSpec& spec,
                                const tuner::CompiledCandidate& compiled);

class KernelProvider {
 public:
  // `cache` may be null (no cache: every process compiles or tunes again).
  KernelProvider(const gen::DeviceDescription& device, const cuda::PrimaryContext& context,
                 cache::TuningCache* cache, ProviderOptions options);

  // A ready kernel for `problem`.
  llvm::Expected<ReadyKernel> obtain(const Problem& problem) const;

 private:
  // The exact entry, else one a compile-only warm-up stored for any device of this arch.
  std::optional<cache::CacheEntry> lookup(const cache::CacheKey& key, const Problem& problem) const;
  llvm::Expected<ReadyKernel> forced(const Problem& problem) const;
  llvm::Expected<ReadyKernel> from_cache(const cache::CacheEntry& entry) const;
  llvm::Expected<ReadyKernel> tuned(const Problem& problem, const cache::CacheKey& key) const;
  llvm::Expected<ReadyKernel> heuristic(const Problem& problem, const cache::CacheKey& key) const;
  void store(const cache::CacheEntry& entry) const;

  const gen::DeviceDescription& device_;
  const cuda::PrimaryContext& context_;
  cache::TuningCache* cache_;
  ProviderOptions options_;
};

}  // namespace flashjit
