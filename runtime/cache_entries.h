// What the kernel builder reads from and writes to the tuning cache: the key of a problem on a
// device, and the rows for a tuned winner and for an untuned (heuristic) compile.
#pragma once

#include "cache/cache_entry.h"
#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "problem/problem.h"
#include "tuner/tuner.h"

namespace flashjit {

// Every invalidator of a kernel for `problem` built on `device` by `compiler`. A nominal device (a
// compile-only warm-up for an architecture, with no GPU) gives the "any device of this compute
// capability" key: no name, SM count or driver; a GPU falls back to it when its exact key misses.
cache::CacheKey cache_key_for(const gen::DeviceDescription& device, const gen::CompilerTargets& compiler,
                              const Problem& problem);

cache::CacheEntry tuned_entry(const cache::CacheKey& key, const tuner::TuneResult& result);
cache::CacheEntry untuned_entry(const cache::CacheKey& key, const tuner::CompiledCandidate& compiled);

}  // namespace flashjit
