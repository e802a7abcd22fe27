#include "runtime/cache_entries.h"

#include <llvm/ADT/StringExtras.h>
#include <nlohmann/json.hpp>

#include "generator/emit.h"
#include "generator/spec_json.h"
#include "cuda/nvrtc_compiler.h"
#include "runtime/split_kv.h"

namespace flashjit {

cache::CacheKey cache_key_for(const gen::DeviceDescription& device, const gen::CompilerTargets& compiler,
                              const Problem& problem) {
  gen::KernelSpec target;
  target.arch = device.compute_capability();
  cache::CacheKey key;
  key.compute_capability = device.compute_capability();
  if (!device.nominal) {
    key.device_name = device.name;
    key.sm_count = device.sm_count;
    key.driver_version = device.driver_version;
  }
  key.nvrtc_version = cache::nvrtc_version_number(compiler.nvrtc_major, compiler.nvrtc_minor);
  key.generator_hash = gen::generator_hash();
  key.compile_options = llvm::join(cuda::compile_options(target), " ");
  key.problem_key = device_problem_key(problem, device).str();
  return key;
}

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

cache::CacheEntry untuned_entry(const cache::CacheKey& key, const tuner::CompiledCandidate& compiled) {
  cache::CacheEntry entry;
  entry.key = key;
  entry.spec_json = gen::spec_to_json(compiled.spec).dump();
  entry.kernel_symbol = compiled.symbol;
  entry.cubin = compiled.cubin;
  entry.candidates_tried = 1;
  entry.tuned = false;
  return entry;
}

}  // namespace flashjit
