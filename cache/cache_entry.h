// CacheEntry: one row of the tuning cache, the winner for one CacheKey.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cache/cache_key.h"

namespace flashjit::cache {

struct CacheEntry {
  int64_t id = 0;               // the row id (short handle for the CLI); 0 until stored
  CacheKey key;
  std::string spec_json;        // the winning KernelSpec, as gen::spec_to_json(...).dump()
  std::string kernel_symbol;    // the lowered name to look up in the loaded cubin
  std::string cubin;            // the compiled binary (opaque bytes); empty in list() results
  std::string cubin_sha256;     // 64 hex digits; store() computes it, lookup() checks it
  uint64_t cubin_size = 0;      // bytes; filled in when read, also by list()
  // Timings of the winner, absent for an untuned entry (NaN is stored as absent).
  std::optional<double> median_ms;
  std::optional<double> p20_ms;
  std::optional<double> p80_ms;
  int candidates_tried = 0;
  // false: the heuristic choice stored by a compile-only warm-up (e.g. on a build machine without
  // a GPU), to be tuned on the target later; a tuned entry replaces it.
  bool tuned = false;
  int64_t created_unix = 0;     // seconds since 1970; store() uses the current time when 0
};

}  // namespace flashjit::cache
