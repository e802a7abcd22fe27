#include "cache/entry_check.h"

#include <vector>

#include <llvm/ADT/StringExtras.h>
#include <nlohmann/json.hpp>

#include "cache/sha256_hex.h"
#include "generator/spec_json.h"

namespace flashjit::cache {

std::string entry_problems(const CacheEntry& entry) {
  std::vector<std::string> problems;
  if (entry.cubin.size() != entry.cubin_size)
    problems.push_back("cubin is " + std::to_string(entry.cubin.size()) + " bytes, the row says " +
                       std::to_string(entry.cubin_size));
  if (sha256_hex(entry.cubin) != entry.cubin_sha256) problems.push_back("cubin does not match its sha256");
  if (entry.kernel_symbol.empty()) problems.push_back("kernel_symbol is empty");
  const nlohmann::json spec = nlohmann::json::parse(entry.spec_json, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) {
    problems.push_back("spec_json is not valid JSON");
  } else if (auto parsed = gen::spec_from_json(spec); !parsed) {
    problems.push_back("spec_json: " + llvm::toString(parsed.takeError()));
  }
  return llvm::join(problems, "; ");
}

}  // namespace flashjit::cache
