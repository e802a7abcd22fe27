// The cache row target (fuzz_targets.h): a row as a damaged or hostile cache file could hold it,
// stored by a cache that checks nothing but the spec's JSON shape and read back by one that holds
// it to the entry check (runtime/cache_entry_check.h), which must refuse it, naming why, or return
// exactly that row, fit to run.
#include "fuzz/fuzz_targets.h"

#include <cmath>
#include <string>

#include <llvm/ADT/StringExtras.h>
#include <nlohmann/json.hpp>

#include "cache/codec.h"
#include "fuzz/cache_invariants.h"
#include "fuzz/row_encoding.h"
#include "fuzz/scratch_caches.h"
#include "generator/spec_json.h"
#include "runtime/cache_entry_check.h"
#include "support/quote.h"
#include "support/untrusted_input.h"

namespace flashjit::fuzz {
namespace {

// The spec's own parser on the stored text, as the CLI's `cache show` runs it: its error must be
// specific. A violation, or nothing.
std::optional<Verdict> spec_parser_violation(const std::string& spec_json) {
  auto json = parse_json(spec_json);
  if (!json) {
    Verdict verdict = rejection(json.takeError(), spec_json, "", ErrorCode::invalid_argument);
    if (verdict.outcome == Outcome::violation) return verdict;
    return std::nullopt;
  }
  auto spec = gen::spec_from_json(*json);
  if (spec) return std::nullopt;
  Verdict verdict = rejection(spec.takeError(), spec_json, "spec", ErrorCode::invalid_argument);
  if (verdict.outcome == Outcome::violation) {
    verdict.message = "spec_from_json: " + verdict.message;
    return verdict;
  }
  return std::nullopt;
}

// A timing read back: the stored value, or nothing where NaN was stored (NaN is stored as absent).
bool same_timing(const std::optional<double>& stored, const std::optional<double>& read) {
  if (!stored || std::isnan(*stored)) return !read;
  return read && *read == *stored;
}

// How the row lookup returned differs from the row stored; empty when it is the same.
std::string difference(const cache::CacheEntry& stored, const cache::CacheEntry& read) {
  if (read.key != stored.key) return "its key";
  if (read.spec_json != stored.spec_json) return "spec_json";
  if (read.kernel_symbol != stored.kernel_symbol) return "kernel_symbol";
  if (read.cubin != stored.cubin) return "the cubin";
  if (read.cubin_sha256 != stored.cubin_sha256 || read.cubin_size != stored.cubin_size) return "the cubin's digest";
  if (!same_timing(stored.median_ms, read.median_ms) || !same_timing(stored.p20_ms, read.p20_ms) ||
      !same_timing(stored.p80_ms, read.p80_ms))
    return "a timing";
  if (read.candidates_tried != stored.candidates_tried || read.tuned != stored.tuned) return "its tuning record";
  // store() fills in the current time for 0.
  if (stored.created_unix != 0 && read.created_unix != stored.created_unix) return "created_unix";
  return {};
}

}  // namespace

Verdict cache_row_target(llvm::StringRef bytes) {
  auto caches = ScratchCaches::get();
  if (!caches) return Verdict::violation("no scratch cache: " + llvm::toString(caches.takeError()));
  cache::TuningCache& unchecked = (*caches)->rows_unchecked();
  cache::TuningCache& checked = (*caches)->rows_checked();
  // Empty for every input: a row whose key lookup cannot find again would otherwise stay.
  static bool may_hold_rows = false;
  if (may_hold_rows) {
    auto cleared = unchecked.clear();
    if (!cleared) return Verdict::violation("cannot empty the scratch cache: " + llvm::toString(cleared.takeError()));
    may_hold_rows = false;
  }

  cache::CacheEntry entry = decode_row(bytes);
  // The checks lookup relies on, run on the row directly: they must not throw, and the spec
  // parser's error must say what is wrong.
  if (std::optional<Verdict> violation = spec_parser_violation(entry.spec_json)) return *violation;

  auto stored = unchecked.store(entry, cache::ReplacePolicy::always);
  may_hold_rows = true;
  if (!stored) return rejection(stored.takeError(), bytes, "", std::nullopt);
  if (stored->outcome != cache::StoreOutcome::added && stored->outcome != cache::StoreOutcome::replaced)
    return Verdict::violation(std::string("storing into the empty scratch cache was ") +
                              cache::store_outcome_name(stored->outcome));
  // What store() computed, so that the checked cache judges the row as it will read it.
  entry.cubin_sha256 = cache::sha256_hex(entry.cubin);
  entry.cubin_size = entry.cubin.size();
  const std::string reasons = checked.entry_problems(entry);
  const std::vector<std::string> check_reasons = cache_entry_problems(entry);

  auto found = checked.lookup(entry.key);
  if (!found) return Verdict::violation("lookup failed after the row was stored: " + llvm::toString(found.takeError()));
  if (!*found) {
    if (reasons.empty())
      return Verdict::violation("lookup refused a row in which its check finds nothing wrong");
    if (std::string vague = vague_error_problem(reasons, "", bytes); !vague.empty())
      return Verdict::violation("the entry check's reasons: " + vague);
    return Verdict::rejected(reasons);
  }

  const cache::CacheEntry& read = **found;
  if (!reasons.empty() || !check_reasons.empty())
    return Verdict::violation("lookup returned a row its check refuses: " +
                              quote_prefix(reasons + " | " + llvm::join(check_reasons, "; "), 400));
  if (std::string changed = difference(entry, read); !changed.empty())
    return Verdict::violation("lookup returned a row whose " + changed + " differs from the row stored");
  if (std::string problem = accepted_entry_problem(read); !problem.empty()) return Verdict::violation(problem);
  if (std::string problem = export_round_trip_problem(checked, 1, (*caches)->reimport()); !problem.empty())
    return Verdict::violation(problem);
  return Verdict::accepted();
}

}  // namespace flashjit::fuzz
