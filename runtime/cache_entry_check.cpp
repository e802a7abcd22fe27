#include "runtime/cache_entry_check.h"

#include <algorithm>

#include <llvm/ADT/StringExtras.h>
#include <nlohmann/json.hpp>

#include "cache/entry_fields.h"
#include "cuda/cubin_elf.h"
#include "generator/decode_splits.h"
#include "generator/device_description.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "problem/problem.h"
#include "support/quote.h"

namespace flashjit {
namespace {

// The NVRTC of the key, able to target the key's architecture (the cubin is the proof).
gen::CompilerTargets targets_of(const cache::CacheKey& key) {
  gen::CompilerTargets targets;
  targets.nvrtc_major = key.nvrtc_version / 1000;
  targets.nvrtc_minor = key.nvrtc_version % 1000 / 10;
  targets.archs = {key.compute_capability};
  return targets;
}

// The spec against the key: the same problem, the same architecture, and a kernel the rules would
// build for that problem on that architecture.
void spec_problems_for_key(const gen::KernelSpec& spec, const cache::CacheKey& key, const ProblemKey& problem_key,
                           std::vector<std::string>& problems) {
  if (spec.features() != problem_key.features) {
    problems.push_back("spec is a kernel for " + shape_key(spec.features()) + "_" + modifier_key(spec.features()) +
                       ", not for the key's problem " + key.problem_key);
    return;
  }
  if (spec.arch != key.compute_capability) {
    problems.push_back("spec targets " + gen::target_name(spec) + ", not the key's compute capability " +
                       std::to_string(key.compute_capability));
    return;
  }
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(key.compute_capability);
  if (std::vector<std::string> tile = gen::spec_problems(spec, device); !tile.empty()) {
    problems.push_back("spec " + gen::canonical_key(spec) + ": " + llvm::join(tile, "; "));
    return;
  }
  // A tuned split count is one the tuner could have chosen for the key: its heuristic count's range,
  // which is what Runtime::workspace_size sized the caller's workspace for.
  if (spec.splits > 0 && (problem_key.splits <= 1 || spec.splits > gen::split_ceiling(problem_key.splits))) {
    problems.push_back(problem_key.splits <= 1
                           ? "spec has a tuned split count (" + std::to_string(spec.splits) +
                                 ") but the key's problem " + key.problem_key + " is not split"
                           : "spec's split count " + std::to_string(spec.splits) + " is beyond the " +
                                 std::to_string(gen::split_ceiling(problem_key.splits)) +
                                 " the tuner tries for the key's " + std::to_string(problem_key.splits));
    return;
  }
  const gen::VariantVerdict verdict =
      gen::judge_variant(spec.variant, device, Problem::of_key(problem_key), targets_of(key));
  if (!verdict.usable)
    problems.push_back("spec's variant " + std::string(variant_name(spec.variant)) + " cannot serve " +
                       key.problem_key + ": " + verdict.reason);
}

// A stored spec is exactly what spec_to_json writes for the kernel it describes: a field this
// FlashJIT does not read, or a key that disagrees with the fields, is not something it stored.
std::string not_as_written(const nlohmann::json& stored, const nlohmann::json& written) {
  if (stored == written) return {};
  for (auto it = stored.begin(); it != stored.end(); ++it)
    if (!written.contains(it.key())) return "spec has a field this FlashJIT does not write: '" + quote_prefix(it.key()) + "'";
  for (auto it = written.begin(); it != written.end(); ++it) {
    if (!stored.contains(it.key())) return "spec lacks field '" + it.key() + "'";
    if (stored[it.key()] == *it) continue;
    if (it.key() == "key")
      return "spec field 'key' is " + quote_prefix(stored["key"].dump(), 120) + ", but its fields describe " +
             quote_prefix(it->dump(), 120);
    return "spec field '" + it.key() + "' is " + quote_prefix(stored[it.key()].dump()) + ", not " +
           quote_prefix(it->dump()) + " as this FlashJIT writes it";
  }
  return "spec is not as this FlashJIT writes it";
}

void cubin_problems(const cache::CacheEntry& entry, std::vector<std::string>& problems) {
  auto cubin = cuda::read_cubin(entry.cubin);
  if (!cubin) {
    problems.push_back("cubin is not a CUDA binary: " + llvm::toString(cubin.takeError()));
    return;
  }
  if (cubin->arch != entry.key.compute_capability)
    problems.push_back("cubin is for sm_" + std::to_string(cubin->arch) + ", not the key's compute capability " +
                       std::to_string(entry.key.compute_capability));
  if (std::find(cubin->functions.begin(), cubin->functions.end(), entry.kernel_symbol) == cubin->functions.end())
    problems.push_back("cubin has no kernel named '" + quote_prefix(entry.kernel_symbol, 256) + "'");
}

}  // namespace

std::vector<std::string> cache_entry_problems(const cache::CacheEntry& entry) {
  // The rules every row meets before its meaning is judged (the cache applies them first too).
  std::vector<std::string> problems = cache::entry_field_problems(entry);
  if (!problems.empty()) return problems;
  auto problem_key = parse_problem_key(entry.key.problem_key);
  if (!problem_key) problems.push_back(llvm::toString(problem_key.takeError()));

  // Well-formed and shallow: entry_field_problems parsed it with its nesting bounded.
  const nlohmann::json json = nlohmann::json::parse(entry.spec_json, nullptr, /*allow_exceptions=*/false);
  if (auto spec = gen::spec_from_json(json); !spec) {
    problems.push_back(llvm::toString(spec.takeError()));
  } else {
    // Which problem the kernel is for first: the reason an operator needs when an entry was moved
    // to another key; then whatever else makes it a spec this FlashJIT did not write.
    const size_t before = problems.size();
    if (problem_key) spec_problems_for_key(*spec, entry.key, *problem_key, problems);
    if (problems.size() == before)
      if (std::string written = not_as_written(json, gen::spec_to_json(*spec)); !written.empty())
        problems.push_back(written);
  }
  cubin_problems(entry, problems);
  return problems;
}

}  // namespace flashjit
