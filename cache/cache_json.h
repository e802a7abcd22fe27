// Export and import of the whole cache as JSON, so that a fleet can share tuned results:
//   {"format": "flashjit-tuning-cache", "format_version": 1, "entries": [{<every CacheEntry field,
//    the cubin base64-encoded with its SHA-256, the spec as an object>}, ...]}
// Import validates every entry (by TuningCache::entry_problems, which lookup applies too) before storing
// any, then merges by the rule of store() (tuning_cache.h: a tuned entry beats an untuned one,
// otherwise the existing row stays).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

#include "cache/tuning_cache.h"
#include "support/untrusted_input.h"

namespace flashjit::cache {

inline constexpr const char* kExportFormat = "flashjit-tuning-cache";
inline constexpr int kExportFormatVersion = 1;

struct ExportSummary {
  size_t exported = 0;
  size_t skipped = 0;  // rows that fail verification or cannot be read (warned about), never exported
  std::vector<std::string> left_out;  // one line per skipped row: "entry 3 (<problem key>): why"
};

struct ImportSummary {
  size_t added = 0;
  size_t replaced = 0;
  size_t kept = 0;  // the cache already had the key, and the rule kept its row
};

// The export document; `summary` (optional) receives the counts.
llvm::Expected<std::string> export_to_json(TuningCache& cache, ExportSummary* summary = nullptr);
// Writes the export to `file` through a temporary file and a rename: no reader sees half of it.
llvm::Expected<ExportSummary> export_to_file(TuningCache& cache, const std::string& file);

// Errors name the entry (its index in "entries", from 0) and the field:
// "entry 3: field 'cubin_sha256' does not match the cubin". Nothing is stored unless every entry
// is valid, and all entries are stored in one transaction. An error on a read-only cache.
llvm::Expected<ImportSummary> import_from_json(TuningCache& cache, llvm::StringRef text);
// The file must be a regular file of at most `max_bytes` bytes (support/untrusted_input.h).
llvm::Expected<ImportSummary> import_from_file(TuningCache& cache, const std::string& file,
                                               uint64_t max_bytes = kMaxImportBytes);

}  // namespace flashjit::cache
