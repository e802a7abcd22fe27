// What must hold of whatever a checked tuning cache accepts (an imported document's entries, a row
// that lookup returned): each entry is one the entry check finds nothing wrong with and its spec is
// a kernel for exactly its key's problem; and the cache exports to a document that imports again,
// entry for entry. Each returns what is broken, empty when nothing is.
#pragma once

#include <cstddef>
#include <string>

#include "cache/cache_entry.h"
#include "cache/tuning_cache.h"

namespace flashjit::fuzz {

std::string accepted_entry_problem(const cache::CacheEntry& entry);

// `from` holds `expected_entries` entries; `reimport` is emptied first.
std::string export_round_trip_problem(cache::TuningCache& from, size_t expected_entries,
                                      cache::TuningCache& reimport);

}  // namespace flashjit::fuzz
