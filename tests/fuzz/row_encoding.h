// A byte encoding of one tuning cache row (cache::CacheEntry), so that a fuzzer can write any row a
// damaged or hostile cache file could hold. Decoding is total: every byte string is some entry
// (missing header bytes read as zeros, missing strings as empty), so every mutation reaches the
// cache and its entry check instead of stopping in this decoder.
//
//   header (53 bytes, little-endian):
//     int32 compute_capability, sm_count, driver_version, nvrtc_version, candidates_tried
//     uint8 flags: 1 tuned, 2 median_ms present, 4 p20_ms present, 8 p80_ms present
//     int64 created_unix
//     float64 median_ms, p20_ms, p80_ms (read only when their flag is set)
//   six strings, each ended by a 0x00 byte: problem_key, spec_json, kernel_symbol, device_name,
//     generator_hash, compile_options; inside them 0xFF escapes the next byte (0xFF 0x00 is a NUL
//     byte, 0xFF 0xFF is 0xFF), so any string, NUL bytes included, can be written
//   the cubin: every byte after the sixth string
//
// cubin_sha256 and cubin_size are not encoded: store() computes them.
#pragma once

#include <string>

#include <llvm/ADT/StringRef.h>

#include "cache/cache_entry.h"

namespace flashjit::fuzz {

inline constexpr size_t kRowHeaderBytes = 5 * 4 + 1 + 8 + 3 * 8;

cache::CacheEntry decode_row(llvm::StringRef bytes);
std::string encode_row(const cache::CacheEntry& entry);

}  // namespace flashjit::fuzz
