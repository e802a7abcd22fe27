// What every stored row must be, whatever it holds: the rules that let a row be looked up, listed,
// exported and imported again. A cache file is untrusted bytes (shared by processes, copied between
// machines, damaged by a crash or written by hand), and a row that breaks one of these cannot travel:
// a symbol that is not UTF-8 throws in the JSON writer, a spec nested thousands deep overflows the
// stack of any recursive reader, an empty cubin or a negative timing is one that import refuses.
// So TuningCache holds every row it reads to these before anything else (lookup deletes, verify
// reports, export leaves out, import refuses); which kernel may serve which problem is the business
// of the layers above (OpenOptions::check_entry).
#pragma once

#include <string>
#include <vector>

#include "cache/cache_entry.h"

namespace flashjit::cache {

// How deep a stored spec's JSON may nest. A spec is one level deep; an export puts three levels
// around it, so even this bound stays far inside what import reads (support/untrusted_input.h).
inline constexpr int kMaxSpecJsonDepth = 8;

// Every field of `entry` (read with its cubin) that breaks a rule, in field order; empty when none.
// "kernel_symbol '\xff\xfe_Z...' holds bytes that are not printable", "median_ms is -1.000000, not
// a non-negative number of milliseconds".
std::vector<std::string> entry_field_problems(const CacheEntry& entry);

// The cubin against the size and SHA-256 its row records (store() computes both): empty when they
// agree. A stored row that disagrees was damaged or edited after it was written.
std::vector<std::string> cubin_digest_problems(const CacheEntry& entry);

}  // namespace flashjit::cache
