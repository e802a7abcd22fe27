// CacheKey: everything that can make a stored kernel wrong or slow for the caller. A row is reused
// only when every field matches, so each field is something that, when it changes, must force a
// recompile (docs/ARCHITECTURE.md, "Contracts"). NVRTC output is never part of it.
#pragma once

#include <cstdint>
#include <string>

namespace flashjit::cache {

struct CacheKey {
  std::string device_name;     // as the driver reports it: "NVIDIA H100 80GB HBM3"
  int compute_capability = 0;  // major * 10 + minor: 90 for 9.0
  int sm_count = 0;
  int driver_version = 0;      // as cuDriverGetVersion: 12040 = CUDA 12.4; 0 when compiled without one
  int nvrtc_version = 0;       // the same encoding; see nvrtc_version_number()
  std::string generator_hash;  // gen::generator_hash(): generator version and SHA-256 of the templates
  std::string compile_options; // the NVRTC options, joined with single spaces
  std::string problem_key;     // what the problem is (Problem::key().str()); opaque here

  bool operator==(const CacheKey& other) const;
  bool operator!=(const CacheKey& other) const { return !(*this == other); }
};

// NVRTC reports (major, minor); the key stores them in the driver's encoding: (12, 4) -> 12040.
int nvrtc_version_number(int major, int minor);

// One line naming every key field, "problem=...;device=...;cc=90;sms=132;driver=12040;nvrtc=12040;
// generator=...;options=...": shown by `flashjit cache list` and accepted by find_entry().
std::string key_string(const CacheKey& key);

}  // namespace flashjit::cache
