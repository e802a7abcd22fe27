// The fleet's remote tier: tuned kernels shared through one Redis server, so that a problem tuned
// anywhere in a fleet is a cache hit everywhere else. It knows no kernel: entries are the cache's
// CacheEntry, travelling as the JSON object the export carries (entry_json.h), and the rule that
// says whether an entry may run is passed in (EntryProblems, as the SQLite cache gets its
// check_entry).
//
// In Redis, under the versioned prefix "flashjit:v1:", each key is a hash:
//   entry:<key_string(key)> -> {entry: <the entry's JSON>, tuned: "1"|"0",
//                               signer: <fleet key id>|"unsigned", signature: <HMAC-SHA256 hex>}
//   lock:<key_string(key)>  -> a tuner's random token (single flight; expires by itself)
// The signature covers the Redis key, the tuned flag and the entry's text, so an entry cannot be
// moved to another key or promoted to tuned. A write replaces an existing entry by the cache's
// rule (ReplacePolicy: a tuned entry replaces an untuned one, never the reverse) or when the
// existing one was signed by another key, in one server-side script (no lost update between
// processes).
//
// Nothing here may make serving worse: every operation is bounded by the timeout; a failure of
// the server (down, slow, not speaking Redis) drops the connection, logs one warning and leaves the
// server alone for the back-off period (a circuit breaker), during which every operation returns
// at once as unavailable. A full server (OOM) stops writes for the back-off period, not reads.
// One object may be used from several threads (operations are serialised on its connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "cache/cache_entry.h"
#include "cache/entry_json.h"
#include "cache/remote_settings.h"
#include "cache/tuning_cache.h"

namespace flashjit::cache {

class RedisConnection;
struct RedisReply;

inline constexpr const char* kRemotePrefix = "flashjit:v1:";

enum class RemoteStatus {
  hit,          // a verified entry
  miss,         // no entry under the key
  rejected,     // an entry that must not run: unsigned, another key's, tampered, garbage (warned, counted)
  unavailable,  // the server failed now or is in its back-off period, or reads are refused (no key)
};
const char* remote_status_name(RemoteStatus status);

struct RemoteFetch {
  RemoteStatus status = RemoteStatus::miss;
  std::optional<CacheEntry> entry;  // hit only
  std::string why;                  // rejected or unavailable: why
};

// The fields of an entry as HMGET returns them: absent when the hash has no such field.
struct StoredFields {
  std::optional<std::string> entry, tuned, signer, signature;
};

// What a reader with `settings` makes of the fields stored under `entry_key` (a miss when none is
// there): a hit only when the signer is this reader's key and the signature verifies (or the entry
// is unsigned and unsigned mode is on, or there is no key and unsigned mode is on), the entry parses
// (entry_from_json: every field, the cubin's SHA-256), passes `problems_of`, is the entry of
// `entry_key` (and of `expected`, when given) and agrees with its tuned flag; otherwise rejected,
// saying why. Pure: RemoteCache::fetch warns and counts; the fuzz target runs it on raw bytes.
RemoteFetch check_stored_entry(const RemoteSettings& settings, const std::string& entry_key,
                               const std::optional<CacheKey>& expected, const StoredFields& fields,
                               const EntryProblems& problems_of);

// What this object did since it was made (doctor, the tests, the bench).
struct RemoteCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t rejected = 0;
  uint64_t unavailable = 0;       // operations skipped or failed because of the server
  uint64_t failures = 0;          // times the breaker opened (each logged once)
  uint64_t published = 0;         // entries written (added or replaced)
  uint64_t publish_kept = 0;      // writes the existing entry won
  uint64_t locks_taken = 0;
  uint64_t locks_found_held = 0;
};

// `flashjit cache stats --remote`.
struct RemoteStats {
  std::string server_version;
  double ping_ms = 0.0;
  uint64_t used_memory = 0;
  uint64_t maxmemory = 0;  // 0: no limit
  std::string maxmemory_policy;
  size_t entries = 0;
  size_t tuned = 0;
  size_t signed_by_this_key = 0;
  size_t signed_by_other_keys = 0;
  size_t unsigned_entries = 0;
  size_t not_entries = 0;  // keys under the prefix that are not FlashJIT's hashes
  uint64_t entry_bytes = 0;
};

class RemoteCache {
 public:
  RemoteCache(RemoteSettings settings, EntryProblems problems_of);
  ~RemoteCache();
  RemoteCache(const RemoteCache&) = delete;
  RemoteCache& operator=(const RemoteCache&) = delete;

  const RemoteSettings& settings() const { return settings_; }
  // "redis://10.0.0.5:6379/0, signed with fleet key 0123456789abcdef": never the password.
  std::string describe() const;
  static std::string entry_key(const CacheKey& key);  // "flashjit:v1:entry:<key_string>"
  static std::string lock_key(const CacheKey& key);   // "flashjit:v1:lock:<key_string>"
  // What an entry's signature covers: a context line, the Redis key, the tuned flag ("1"/"0") and
  // the entry's JSON text, each on its own line.
  static std::string signed_text(const std::string& entry_key, llvm::StringRef tuned, llvm::StringRef entry_text);

  // The entry stored for `key`, verified: its signature, then every field and the cubin's SHA-256
  // (entry_from_json), then problems_of, then that it is the entry of exactly `key`.
  RemoteFetch fetch(const CacheKey& key);
  // The same for a key as SCAN lists it (`cache pull`); the entry must be the one of that key.
  RemoteFetch fetch_stored(const std::string& entry_key);
  // Signs and writes `entry` (cubin_sha256 computed when empty) by `policy`. An error when the
  // server is unavailable or full, or refused the write; nothing is logged for it here beyond the
  // breaker's one warning.
  llvm::Expected<StoreOutcome> publish(const CacheEntry& entry, ReplacePolicy policy = ReplacePolicy::prefer_tuned);

  // Single flight: takes the problem's lock for settings().lock_ms (SET NX PX). `acquired` with a
  // token to unlock with, `held` when another process has it, `unavailable` when the server is.
  enum class LockResult { acquired, held, unavailable };
  LockResult lock(const CacheKey& key, std::string& token);
  // Releases the lock if it still holds `token` (an expired lock another took is left alone).
  void unlock(const CacheKey& key, const std::string& token);

  // Every entry key under the prefix (SCAN), for `cache pull` and `stats`.
  llvm::Expected<std::vector<std::string>> entry_keys();
  llvm::Expected<RemoteStats> stats();
  // PING's round trip in milliseconds and the server's version (doctor).
  llvm::Expected<std::pair<double, std::string>> ping();

  // An entry that verified here but that the layers above refused (it failed the correctness
  // check on this GPU, say): warned about and counted as rejected.
  void note_rejected(const CacheKey& key, const std::string& why);

  RemoteCounters counters() const;
  // Whether the breaker is open now (the server is being left alone).
  bool backing_off() const;

 private:
  // Runs `operation` on the connection (connecting first when there is none), unless the breaker
  // is open. A connection failure drops the connection and opens the breaker (one warning).
  template <typename Operation>
  auto with_connection(Operation operation) -> decltype(operation(std::declval<RedisConnection&>()));
  // A new connection; false (the breaker opened) when the server cannot be reached.
  bool connect();
  llvm::Error unavailable_error() const;
  // Why a write is not tried now (the breaker, or a full server's back-off); success when it is.
  llvm::Error writes_backing_off();
  void open_breaker(const std::string& why);
  // fetch() and fetch_stored(): the entry under `stored`, which must be the one of `expected` when given.
  RemoteFetch fetch_entry(const std::string& stored, const std::optional<CacheKey>& expected);
  RemoteFetch verify(const std::string& entry_key, const std::optional<CacheKey>& expected,
                     const RedisReply& reply);
  RemoteFetch rejected(const std::string& entry_key, const std::string& why);

  RemoteSettings settings_;
  EntryProblems problems_of_;
  mutable std::mutex mutex_;
  std::unique_ptr<RedisConnection> connection_;
  std::chrono::steady_clock::time_point down_until_{};
  std::chrono::steady_clock::time_point writes_down_until_{};
  std::string last_failure_;
  RemoteCounters counters_;
};

}  // namespace flashjit::cache
