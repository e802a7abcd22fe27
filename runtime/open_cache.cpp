#include "runtime/open_cache.h"

#include <nlohmann/json.hpp>

#include "generator/spec_json.h"

namespace flashjit {
namespace {

// What the cache holds an entry's spec to: a kernel spec this generator reads back.
std::string kernel_spec_problem(const std::string& spec_json) {
  const nlohmann::json spec = nlohmann::json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return "not valid JSON";
  auto parsed = gen::spec_from_json(spec);
  if (!parsed) return llvm::toString(parsed.takeError());
  return {};
}

}  // namespace

llvm::Expected<std::unique_ptr<cache::TuningCache>> open_tuning_cache(const std::string& path,
                                                                      const cache::OpenOptions& options) {
  cache::OpenOptions with_specs = options;
  if (!with_specs.check_spec) with_specs.check_spec = kernel_spec_problem;
  if (path.empty()) return cache::TuningCache::open_default(with_specs);
  return cache::TuningCache::open(path, with_specs);
}

}  // namespace flashjit
