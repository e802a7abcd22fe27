// One CacheEntry <-> one JSON object of the export file. The cubin travels base64-encoded with its
// SHA-256, the spec as a JSON object, timings as numbers or null.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <llvm/Support/Error.h>

#include "cache/cache_entry.h"

namespace flashjit::cache {

// An error when the stored spec_json is not JSON (export leaves such rows out).
llvm::Expected<nlohmann::json> entry_to_json(const CacheEntry& entry);

// Checks every field, and that no unknown field is present; an error names the field and what is
// wrong with it: "field 'cubin_sha256' does not match the cubin". The returned entry has id 0.
llvm::Expected<CacheEntry> entry_from_json(const nlohmann::json& json);

}  // namespace flashjit::cache
