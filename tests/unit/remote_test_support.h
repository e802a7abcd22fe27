// Helpers for the remote tier's tests: fleet keys and a RemoteCache for a test server's URL,
// holding entries to FlashJIT's own rule (cache_entry_check.h), as open_remote_cache does.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <llvm/ADT/StringExtras.h>

#include "cache/remote_cache.h"
#include "runtime/cache_entry_check.h"

namespace flashjit::cache::remote_testing {

inline const std::string kFleetKey = "fleet-key-for-tests-0123456789abcdef";
inline const std::string kOtherFleetKey = "another-fleet-key-for-tests-98765432";
// What a bounded operation may take beyond its timeout on a loaded CI machine (sanitizers included).
inline constexpr double kSlackMs = 400.0;

inline std::unique_ptr<RemoteCache> remote_for(const std::string& url, const std::string& key, int timeout_ms,
                                               bool allow_unsigned = false, int backoff_ms = 30000,
                                               int lock_ms = 60000, int single_flight_wait_ms = 20000) {
  RemoteSettings settings;
  auto endpoint = parse_remote_url(url);
  if (!endpoint) {
    ADD_FAILURE() << llvm::toString(endpoint.takeError());
    return nullptr;
  }
  settings.endpoint = *endpoint;
  if (!key.empty()) settings.key = *FleetKey::from_bytes(key);
  settings.allow_unsigned = allow_unsigned;
  settings.timeout_ms = timeout_ms;
  settings.backoff_ms = backoff_ms;
  settings.lock_ms = lock_ms;
  settings.single_flight_wait_ms = single_flight_wait_ms;
  return std::make_unique<RemoteCache>(std::move(settings), [](const CacheEntry& entry) {
    return llvm::join(cache_entry_problems(entry), "; ");
  });
}

}  // namespace flashjit::cache::remote_testing
