#include "fuzz/cache_invariants.h"

#include <llvm/ADT/StringExtras.h>
#include <nlohmann/json.hpp>

#include "cache/cache_json.h"
#include "generator/spec_json.h"
#include "problem/problem.h"
#include "runtime/cache_entry_check.h"
#include "support/quote.h"

namespace flashjit::fuzz {

std::string accepted_entry_problem(const cache::CacheEntry& entry) {
  const std::string key = quote_prefix(entry.key.problem_key, 80);
  if (std::vector<std::string> problems = cache_entry_problems(entry); !problems.empty())
    return "accepted entry " + key + " fails the entry check: " + quote_prefix(llvm::join(problems, "; "), 400);
  auto problem_key = parse_problem_key(entry.key.problem_key);
  if (!problem_key) return "accepted entry " + key + " has a key that does not parse: " +
                           llvm::toString(problem_key.takeError());
  // Parsed as the entry check parses it.
  const nlohmann::json json = nlohmann::json::parse(entry.spec_json, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return "accepted entry " + key + " has a spec that is not JSON";
  auto spec = gen::spec_from_json(json);
  if (!spec) return "accepted entry " + key + " has a spec that does not parse: " + llvm::toString(spec.takeError());
  if (spec->features() != problem_key->features)
    return "accepted entry " + key + " holds a kernel for " + shape_key(spec->features()) + "_" +
           modifier_key(spec->features());
  return {};
}

std::string export_round_trip_problem(cache::TuningCache& from, size_t expected_entries,
                                      cache::TuningCache& reimport) {
  cache::ExportSummary exported;
  auto document = cache::export_to_json(from, &exported);
  if (!document) return "exporting the accepted cache failed: " + llvm::toString(document.takeError());
  if (exported.exported != expected_entries || exported.skipped != 0)
    return "the export of " + std::to_string(expected_entries) + " accepted entries has " +
           std::to_string(exported.exported) + " and leaves out " + std::to_string(exported.skipped) + ": " +
           quote_prefix(llvm::join(exported.left_out, "; "), 400);
  auto cleared = reimport.clear();
  if (!cleared) return "cannot empty the re-import cache: " + llvm::toString(cleared.takeError());
  auto imported = cache::import_from_json(reimport, *document);
  if (!imported)
    return "the export of the accepted cache does not import again: " +
           quote_prefix(llvm::toString(imported.takeError()), 400);
  if (imported->added != expected_entries)
    return "re-importing the export added " + std::to_string(imported->added) + " of " +
           std::to_string(expected_entries) + " entries";
  return {};
}

}  // namespace flashjit::fuzz
