// TuningCache: the SQLite store of tuned kernels, shared by every process of the user (or of a
// deployment) through one file. Lookups trust a cubin only after checking its SHA-256; stores are
// write transactions that re-check for a row another process stored meanwhile. One object may be
// used from several threads (calls are serialised); many processes may use the same file.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <llvm/ADT/STLFunctionalExtras.h>
#include <llvm/Support/Error.h>

#include "cache/cache_entry.h"
#include "cache/open_options.h"

namespace flashjit::cache {

struct OpenedDatabase;  // open_database.h, private to the cache

// What happens when a row for the same key already exists: the one rule shared by store() (another
// process may have stored the key meanwhile) and by import (merging a fleet's results).
enum class ReplacePolicy {
  // A tuned entry replaces an untuned one; otherwise the existing row wins. The default: the first
  // tuned result is as good as a later one, and keeping it keeps every process on the same kernel.
  prefer_tuned,
  // The new entry always replaces the existing row (a deliberate re-tune).
  always,
};

enum class StoreOutcome {
  added,          // no row had this key
  replaced,       // a row had this key and the new entry replaced it
  kept_existing,  // a row had this key and was kept (it is the one lookup() returns)
  read_only,      // nothing written: the cache is open read-only
};

// "added", "replaced", "kept existing", "read-only"
const char* store_outcome_name(StoreOutcome outcome);

bool should_replace(bool existing_tuned, bool incoming_tuned, ReplacePolicy policy);

struct StoreResult {
  StoreOutcome outcome = StoreOutcome::added;
  int64_t id = 0;  // the row that now holds the key (the existing one when kept); 0 when read-only
};

struct BadEntry {
  int64_t id = 0;
  std::string key;     // key_string()
  std::string reason;  // "cubin does not match its sha256", ...
};

struct VerifyReport {
  size_t checked = 0;
  std::vector<BadEntry> bad;
  std::vector<std::string> integrity_problems;  // from SQLite's full integrity check
  bool ok() const { return bad.empty() && integrity_problems.empty(); }
};

class TuningCache {
 public:
  // Opens (creating it and its 0700 directory when missing) the cache at `path`. A corrupt file
  // or one of an unknown schema is set aside with a warning and replaced by an empty cache. A file
  // that cannot be written opens read-only (see read_only_reason()). An error means the cache
  // cannot be used at all; the caller runs without it.
  static llvm::Expected<std::unique_ptr<TuningCache>> open(const std::string& path,
                                                           const OpenOptions& options = {});
  // open() at default_cache_path().
  static llvm::Expected<std::unique_ptr<TuningCache>> open_default(const OpenOptions& options = {});
  ~TuningCache();
  TuningCache(const TuningCache&) = delete;
  TuningCache& operator=(const TuningCache&) = delete;

  const std::string& path() const { return path_; }
  // Everything wrong with `entry` (read with its cubin: every field by cache::entry_field_problems,
  // then, for a row that passes, the OpenOptions::check_entry rule: key, spec against key, cubin),
  // joined by "; "; empty when
  // nothing is. What lookup refuses, `flashjit cache verify` reports, export leaves out and import
  // rejects.
  std::string entry_problems(const CacheEntry& entry) const;
  bool read_only() const;
  // Opened to inspect (OpenOptions::inspect): what the checks at open found wrong with the file
  // ("it is corrupt (integrity check: ...)"); empty when nothing.
  std::string damage() const;
  // Opened with OpenOptions::inspect: read-only because it was asked to look, not because of the file.
  bool inspecting() const { return options_.inspect; }
  // Why writes are off ("the file is not writable"); empty when the cache is writable.
  std::string read_only_reason() const;

  // The entry for `key` with its cubin, or nullopt on a miss. A row that fails entry_problems()
  // (a cubin that fails its SHA-256, a spec for another problem, ...) is a miss too: it is deleted
  // (when writable) with a warning, and the caller compiles again. So is a database found damaged meanwhile, which is set aside and started afresh.
  llvm::Expected<std::optional<CacheEntry>> lookup(const CacheKey& key);

  // Stores `entry` under its key, computing cubin_sha256 (an error if the entry carries a
  // different one) and created_unix when 0. When a row for the key exists, `policy` decides
  // (see ReplacePolicy above) and the result says which row was kept. A read-only cache stores nothing
  // and says so in the result: that is not an error.
  llvm::Expected<StoreResult> store(const CacheEntry& entry,
                                    ReplacePolicy policy = ReplacePolicy::prefer_tuned);
  // The same for several entries in one transaction: all are applied, or none.
  llvm::Expected<std::vector<StoreResult>> store_all(const std::vector<CacheEntry>& entries,
                                                     ReplacePolicy policy = ReplacePolicy::prefer_tuned);

  // ---- for `flashjit cache ...` ----
  // Every entry without its cubin (cubin_size says how large it is), by row id.
  llvm::Expected<std::vector<CacheEntry>> list();
  // One entry with its cubin (not checked: see verify()), named by its row id ("12"), its
  // key_string(), or its problem key when only one row has that problem key.
  llvm::Expected<CacheEntry> find(const std::string& id_or_key);
  // Calls `visit` for every entry with its cubin, by row id, from one consistent snapshot. `visit`
  // must not call back into this cache. An error from `visit` stops the walk and is returned.
  // With `unreadable`, a row on a damaged page is passed to it (its id, or 0 when the damage hides
  // the ids that follow, and why) and the walk goes on: export saves what is intact.
  llvm::Error for_each_entry(llvm::function_ref<llvm::Error(const CacheEntry&)> visit,
                             llvm::function_ref<void(int64_t id, const std::string& why)> unreadable = nullptr);
  // Checks every row (cubin present and matching its SHA-256, spec JSON valid, symbol present) and
  // the whole file's integrity (with the damage found at open, when opened to inspect). Reports;
  // changes nothing.
  llvm::Expected<VerifyReport> verify();
  // Whether a row with that id existed. An error on a read-only cache.
  llvm::Expected<bool> remove(int64_t id);
  // Deletes every entry; returns how many. An error on a read-only cache.
  llvm::Expected<size_t> clear();

 private:
  TuningCache(std::string path, OpenOptions options, std::unique_ptr<OpenedDatabase> opened);
  // An error when a corrupt file could not be replaced, so there is no database to use.
  llvm::Error require_usable() const;
  llvm::Error require_writable(const char* operation) const;
  llvm::Expected<std::optional<CacheEntry>> select_by_key(const CacheKey& key);
  llvm::Expected<std::optional<CacheEntry>> select_by_id(int64_t id);
  llvm::Expected<std::vector<CacheEntry>> list_locked();
  llvm::Expected<StoreResult> store_one_in_transaction(const CacheEntry& entry, ReplacePolicy policy);
  llvm::Error for_each_entry_locked(llvm::function_ref<llvm::Error(const CacheEntry&)> visit);
  llvm::Error for_each_readable_entry_locked(llvm::function_ref<llvm::Error(const CacheEntry&)> visit,
                                             llvm::function_ref<void(int64_t, const std::string&)> unreadable);
  void delete_damaged_row(const CacheEntry& entry);
  // Corruption found mid-operation: set the file aside and continue with a fresh one. Returns
  // false when that was impossible (read-only, or the fresh open failed; then the error is logged).
  bool replace_after_corruption(const std::string& why);

  std::string path_;
  OpenOptions options_;
  std::unique_ptr<OpenedDatabase> opened_;  // never null; its db is null after a failed replacement
  mutable std::mutex mutex_;
};

}  // namespace flashjit::cache
