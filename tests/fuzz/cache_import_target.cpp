// The export/import document target (fuzz_targets.h).
#include "fuzz/fuzz_targets.h"

#include <string>

#include <nlohmann/json.hpp>

#include "cache/cache_json.h"
#include "fuzz/cache_invariants.h"
#include "fuzz/scratch_caches.h"
#include "support/untrusted_input.h"

namespace flashjit::fuzz {
namespace {

// How many entries the accepted document lists (it parsed, so it has an "entries" array).
size_t listed_entries(llvm::StringRef bytes) {
  auto document = parse_json(bytes);
  if (!document) {
    llvm::consumeError(document.takeError());
    return 0;
  }
  return document->at("entries").size();
}

// The entries the accepted import stored: every one must pass the accepted-entry invariant.
std::string stored_entries_problem(cache::TuningCache& cache, size_t& count) {
  std::string problem;
  llvm::Error walked = cache.for_each_entry([&](const cache::CacheEntry& entry) -> llvm::Error {
    ++count;
    if (problem.empty()) problem = accepted_entry_problem(entry);
    return llvm::Error::success();
  });
  if (walked) return "cannot read back the imported entries: " + llvm::toString(std::move(walked));
  return problem;
}

}  // namespace

Verdict cache_import_target(llvm::StringRef bytes) {
  auto caches = ScratchCaches::get();
  if (!caches) return Verdict::violation("no scratch cache: " + llvm::toString(caches.takeError()));
  cache::TuningCache& cache = (*caches)->import_target();
  // Empty for every input, so that what an import does never depends on the inputs before it.
  static bool holds_entries = false;
  if (holds_entries) {
    auto cleared = cache.clear();
    if (!cleared) return Verdict::violation("cannot empty the scratch cache: " + llvm::toString(cleared.takeError()));
    holds_entries = false;
  }

  auto summary = cache::import_from_json(cache, bytes);
  // The cache layer's errors carry no ErrorCode (the CLI prints their message); the message must
  // still say what is wrong.
  if (!summary) return rejection(summary.takeError(), bytes, "import: ", std::nullopt);
  holds_entries = true;

  const size_t listed = listed_entries(bytes);
  const size_t results = summary->added + summary->replaced + summary->kept;
  if (results != listed)
    return Verdict::violation("the import reports " + std::to_string(results) + " results for " +
                              std::to_string(listed) + " listed entries");
  size_t stored = 0;
  if (std::string problem = stored_entries_problem(cache, stored); !problem.empty())
    return Verdict::violation(problem);
  if (stored != summary->added)
    return Verdict::violation("the import added " + std::to_string(summary->added) + " entries to an empty cache, "
                              "which holds " + std::to_string(stored));
  if (std::string problem = export_round_trip_problem(cache, stored, (*caches)->reimport()); !problem.empty())
    return Verdict::violation(problem);
  return Verdict::accepted();
}

}  // namespace flashjit::fuzz
