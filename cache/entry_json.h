// One cache entry as a JSON object: the form an entry travels in, in the export file
// (cache_json.h) and in the fleet's remote tier (remote_cache.h) alike. The cubin is
// base64-encoded beside its SHA-256, the spec is an object, timings are numbers or null.
#pragma once

#include <functional>
#include <string>

#include <llvm/Support/Error.h>
#include <nlohmann/json.hpp>

#include "cache/cache_entry.h"

namespace flashjit::cache {

// Everything wrong with an entry that parsed (TuningCache::entry_problems: the rule every lookup
// applies), joined; empty when nothing is.
using EntryProblems = std::function<std::string(const CacheEntry& entry)>;

// An error when the stored spec_json is not JSON (export leaves such rows out).
llvm::Expected<nlohmann::json> entry_to_json(const CacheEntry& entry);

// Checks every field, that no unknown field is present, that the cubin matches its SHA-256, and
// then the entry as a whole by `problems_of`; an error names the field and what is wrong with it:
// "field 'cubin_sha256' does not match the cubin". The returned entry has id 0.
llvm::Expected<CacheEntry> entry_from_json(const nlohmann::json& object, const EntryProblems& problems_of);

}  // namespace flashjit::cache
