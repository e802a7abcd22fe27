#include "runtime/cache_entry_check.h"

#include <algorithm>

#include <llvm/ADT/StringExtras.h>
#include <nlohmann/json.hpp>

#include "cuda/cubin_elf.h"
#include "generator/device_description.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "problem/problem.h"
#include "support/quote.h"

namespace flashjit {
namespace {

// Key strings are names and flags that NVIDIA's tools and this library write: printable ASCII of
// a bounded length.
std::string text_problem(const char* field, const std::string& text, size_t max_length) {
  if (text.size() > max_length)
    return std::string(field) + " is " + std::to_string(text.size()) + " bytes, more than " +
           std::to_string(max_length);
  const bool printable = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (!printable) return std::string(field) + " '" + quote_prefix(text) + "' holds bytes that are not printable";
  return {};
}

std::string range_problem(const char* field, int value, int lowest, int highest) {
  if (value >= lowest && value <= highest) return {};
  return std::string(field) + " " + std::to_string(value) + " is outside " + std::to_string(lowest) + ".." +
         std::to_string(highest);
}

void key_problems(const cache::CacheKey& key, std::vector<std::string>& problems) {
  for (std::string p : {text_problem("device_name", key.device_name, 256),
                        text_problem("generator_hash", key.generator_hash, 256),
                        text_problem("compile_options", key.compile_options, 4096),
                        range_problem("compute_capability", key.compute_capability, 10, 999),
                        range_problem("sm_count", key.sm_count, 0, 1 << 16),
                        range_problem("driver_version", key.driver_version, 0, 999999),
                        range_problem("nvrtc_version", key.nvrtc_version, 0, 999999)})
    if (!p.empty()) problems.push_back(std::move(p));
}

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
  const gen::VariantVerdict verdict =
      gen::judge_variant(spec.variant, device, Problem::of_key(problem_key), targets_of(key));
  if (!verdict.usable)
    problems.push_back("spec's variant " + std::string(variant_name(spec.variant)) + " cannot serve " +
                       key.problem_key + ": " + verdict.reason);
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
  std::vector<std::string> problems;
  key_problems(entry.key, problems);
  auto problem_key = parse_problem_key(entry.key.problem_key);
  if (!problem_key) problems.push_back(llvm::toString(problem_key.takeError()));

  const nlohmann::json json = nlohmann::json::parse(entry.spec_json, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    problems.push_back("spec is not valid JSON");
  } else if (auto spec = gen::spec_from_json(json); !spec) {
    problems.push_back(llvm::toString(spec.takeError()));
  } else if (problem_key && problems.empty()) {
    spec_problems_for_key(*spec, entry.key, *problem_key, problems);
  }
  if (!entry.cubin.empty()) cubin_problems(entry, problems);
  return problems;
}

}  // namespace flashjit
