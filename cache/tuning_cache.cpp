#include "cache/tuning_cache.h"

#include <ctime>

#include <llvm/ADT/StringExtras.h>

#include "cache/cache_path.h"
#include "cache/codec.h"
#include "cache/entry_fields.h"
#include "cache/entry_rows.h"
#include "cache/open_database.h"
#include "cache/sqlite_database.h"
#include "support/log.h"
#include "support/quote.h"

namespace flashjit::cache {
namespace {

llvm::Error cache_error(const std::string& message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::string describe(const CacheEntry& entry) {
  return "entry " + std::to_string(entry.id) + " (" + entry.key.problem_key + ")";
}

bool is_row_id(llvm::StringRef text) {
  return !text.empty() && text.size() <= 18 && llvm::all_of(text, llvm::isDigit);
}

}  // namespace

TuningCache::TuningCache(std::string path, OpenOptions options, std::unique_ptr<OpenedDatabase> opened)
    : path_(std::move(path)), options_(options), opened_(std::move(opened)) {}

TuningCache::~TuningCache() = default;

llvm::Expected<std::unique_ptr<TuningCache>> TuningCache::open(const std::string& path,
                                                               const OpenOptions& options) {
  auto opened = open_cache_database(path, options);
  if (!opened) return opened.takeError();
  return std::unique_ptr<TuningCache>(
      new TuningCache(path, options, std::make_unique<OpenedDatabase>(std::move(*opened))));
}

llvm::Expected<std::unique_ptr<TuningCache>> TuningCache::open_default(const OpenOptions& options) {
  auto path = default_cache_path();
  if (!path) return path.takeError();
  return open(*path, options);
}

bool TuningCache::read_only() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return opened_->access.read_only;
}

std::string TuningCache::damage() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return opened_->damage;
}

std::string TuningCache::read_only_reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return opened_->access.reason;
}

llvm::Error TuningCache::require_usable() const {
  if (opened_->db) return llvm::Error::success();
  return cache_error("the tuning cache " + path_ + " is unavailable after it was found corrupt");
}

llvm::Error TuningCache::require_writable(const char* operation) const {
  if (llvm::Error error = require_usable()) return error;
  if (!opened_->access.read_only) return llvm::Error::success();
  return cache_error(std::string("cannot ") + operation + " the tuning cache " + path_ +
                     ": it is read-only (" + opened_->access.reason + ")");
}

bool TuningCache::replace_after_corruption(const std::string& why) {
  if (opened_->access.read_only) {
    log::warning("tuning cache " + path_ + " is corrupt (" + why +
                 ") and read-only; treating the lookup as a miss");
    return false;
  }
  auto fresh = replace_corrupt_database(std::move(*opened_), path_, why, options_);
  *opened_ = OpenedDatabase{};
  if (!fresh) {
    log::warning("tuning cache " + path_ + " is corrupt (" + why +
                 ") and could not be replaced: " + llvm::toString(fresh.takeError()));
    return false;
  }
  *opened_ = std::move(*fresh);
  return true;
}

// ---- checking entries ----------------------------------------------------------------------------

std::string TuningCache::entry_problems(const CacheEntry& entry) const {
  // What a row must be to be read at all first; what it means (which problem it may serve) only
  // for a well-formed row, which that check can then trust to parse.
  std::vector<std::string> problems = cubin_digest_problems(entry);
  for (std::string& problem : entry_field_problems(entry)) problems.push_back(std::move(problem));
  if (problems.empty() && options_.check_entry) problems = options_.check_entry(entry);
  return llvm::join(problems, "; ");
}

// ---- lookup ------------------------------------------------------------------------------------

llvm::Expected<std::optional<CacheEntry>> TuningCache::select_by_key(const CacheKey& key) {
  if (llvm::Error error = require_usable()) return error;
  auto statement = opened_->db->prepare(select_entries_sql(true, std::string("WHERE ") + kMatchKeySql));
  if (!statement) return statement.takeError();
  bind_key(*statement, key);
  auto row = statement->step();
  if (!row) return row.takeError();
  if (!*row) return std::nullopt;
  return read_entry(*statement, true);
}

llvm::Expected<std::optional<CacheEntry>> TuningCache::select_by_id(int64_t id) {
  if (llvm::Error error = require_usable()) return error;
  auto statement = opened_->db->prepare(select_entries_sql(true, "WHERE e.id = ?1"));
  if (!statement) return statement.takeError();
  statement->bind_int64(1, id);
  auto row = statement->step();
  if (!row) return row.takeError();
  if (!*row) return std::nullopt;
  return read_entry(*statement, true);
}

void TuningCache::delete_damaged_row(const CacheEntry& entry) {
  // Matching the stored hash too: if another process replaced the row meanwhile, its new row is
  // not ours to delete.
  auto statement = opened_->db->prepare("DELETE FROM entries WHERE id = ?1 AND cubin_sha256 = ?2");
  llvm::Error error = statement ? llvm::Error::success() : statement.takeError();
  if (!error) {
    statement->bind_int64(1, entry.id);
    statement->bind_text(2, entry.cubin_sha256);
    error = statement->run();
  }
  if (error)
    log::warning("tuning cache " + path_ + ": could not delete damaged " + describe(entry) + ": " +
                 llvm::toString(std::move(error)));
}

llvm::Expected<std::optional<CacheEntry>> TuningCache::lookup(const CacheKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = select_by_key(key);
  if (!found) {
    if (!found.errorIsA<CorruptDatabaseError>()) return found.takeError();
    replace_after_corruption(llvm::toString(found.takeError()));
    return std::nullopt;
  }
  if (!*found) return std::nullopt;
  const CacheEntry& entry = **found;
  const std::string problems = entry_problems(entry);
  if (problems.empty()) return found;

  const bool writable = !opened_->access.read_only;
  log::warning("tuning cache " + path_ + ": " + describe(entry) + " must not run (" + problems + "); " +
               (writable ? "deleted it" : "ignoring it (read-only cache)") +
               ", the kernel will be compiled again");
  if (writable) delete_damaged_row(entry);
  return std::nullopt;
}

// ---- store -------------------------------------------------------------------------------------

llvm::Expected<StoreResult> TuningCache::store_one_in_transaction(const CacheEntry& entry,
                                                                  ReplacePolicy policy) {
  Database& db = *opened_->db;
  // The re-check: inside BEGIN IMMEDIATE no other process can write, so what is found here is
  // what the write below is decided against.
  auto existing = db.prepare(std::string("SELECT e.id, e.tuned FROM entries e WHERE ") + kMatchKeySql);
  if (!existing) return existing.takeError();
  bind_key(*existing, entry.key);
  auto row = existing->step();
  if (!row) return row.takeError();

  StoreResult result;
  if (*row) {
    result.id = existing->column_int64(0);
    const bool existing_tuned = existing->column_int64(1) != 0;
    if (!should_replace(existing_tuned, entry.tuned, policy))
      return StoreResult{StoreOutcome::kept_existing, result.id};
    auto update = db.prepare(kUpdateEntrySql);
    if (!update) return update.takeError();
    bind_entry(*update, entry);
    update->bind_int64(19, result.id);
    if (llvm::Error error = update->run()) return error;
    result.outcome = StoreOutcome::replaced;
  } else {
    auto insert = db.prepare(kInsertEntrySql);
    if (!insert) return insert.takeError();
    bind_entry(*insert, entry);
    if (llvm::Error error = insert->run()) return error;
    result.id = db.last_insert_id();
    result.outcome = StoreOutcome::added;
  }
  auto cubin = db.prepare(kPutCubinSql);
  if (!cubin) return cubin.takeError();
  cubin->bind_int64(1, result.id);
  cubin->bind_blob(2, entry.cubin);
  if (llvm::Error error = cubin->run()) return error;
  return result;
}

llvm::Expected<StoreResult> TuningCache::store(const CacheEntry& entry, ReplacePolicy policy) {
  auto results = store_all({entry}, policy);
  if (!results) return results.takeError();
  return results->front();
}

llvm::Expected<std::vector<StoreResult>> TuningCache::store_all(const std::vector<CacheEntry>& entries,
                                                                ReplacePolicy policy) {
  std::vector<CacheEntry> prepared = entries;
  for (CacheEntry& entry : prepared) {
    const std::string hash = sha256_hex(entry.cubin);
    if (!entry.cubin_sha256.empty() && entry.cubin_sha256 != hash)
      return cache_error("cannot store " + entry.key.problem_key +
                         ": its cubin_sha256 does not match its cubin");
    entry.cubin_sha256 = hash;
    entry.cubin_size = entry.cubin.size();
    if (entry.created_unix == 0) entry.created_unix = static_cast<int64_t>(std::time(nullptr));
  }

  std::lock_guard<std::mutex> lock(mutex_);
  if (llvm::Error error = require_usable()) return error;
  if (opened_->access.read_only)
    return std::vector<StoreResult>(prepared.size(), StoreResult{StoreOutcome::read_only, 0});

  auto attempt = [&]() -> llvm::Expected<std::vector<StoreResult>> {
    auto transaction = WriteTransaction::begin(*opened_->db);
    if (!transaction) return transaction.takeError();
    std::vector<StoreResult> results;
    for (const CacheEntry& entry : prepared) {
      auto result = store_one_in_transaction(entry, policy);
      if (!result) return result.takeError();
      results.push_back(*result);
    }
    if (llvm::Error error = transaction->commit()) return error;
    return results;
  };
  auto results = attempt();
  if (results || !results.errorIsA<CorruptDatabaseError>()) return results;
  // A damaged file: set it aside and store into the fresh one, once.
  if (!replace_after_corruption(llvm::toString(results.takeError())))
    return cache_error("cannot store into the tuning cache " + path_ + ": it is corrupt");
  return attempt();
}

// ---- operations for the command-line tool -------------------------------------------------------

llvm::Expected<std::vector<CacheEntry>> TuningCache::list_locked() {
  if (llvm::Error error = require_usable()) return error;
  auto statement = opened_->db->prepare(select_entries_sql(false, "ORDER BY e.id"));
  if (!statement) return statement.takeError();
  std::vector<CacheEntry> entries;
  while (true) {
    auto row = statement->step();
    if (!row) return row.takeError();
    if (!*row) return entries;
    entries.push_back(read_entry(*statement, false));
  }
}

llvm::Expected<std::vector<CacheEntry>> TuningCache::list() {
  std::lock_guard<std::mutex> lock(mutex_);
  return list_locked();
}

llvm::Expected<CacheEntry> TuningCache::find(const std::string& id_or_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t id = 0;
  if (is_row_id(id_or_key)) {
    id = std::stoll(id_or_key);
  } else {
    auto entries = list_locked();
    if (!entries) return entries.takeError();
    std::vector<int64_t> matches;
    for (const CacheEntry& entry : *entries)
      if (key_string(entry.key) == id_or_key) matches.push_back(entry.id);
    if (matches.empty())
      for (const CacheEntry& entry : *entries)
        if (entry.key.problem_key == id_or_key) matches.push_back(entry.id);
    if (matches.empty())
      return cache_error("no cache entry matches '" + quote_prefix(id_or_key) +
                         "' (give a row id, a key string or a problem key)");
    if (matches.size() > 1) {
      std::vector<std::string> ids;
      for (int64_t match : matches) ids.push_back(std::to_string(match));
      return cache_error("'" + quote_prefix(id_or_key) + "' matches " + std::to_string(matches.size()) +
                         " cache entries (ids " + llvm::join(ids, ", ") + "); name one by its id");
    }
    id = matches.front();
  }
  auto entry = select_by_id(id);
  if (!entry) return entry.takeError();
  if (!*entry) return cache_error("no cache entry has id " + std::to_string(id));
  return std::move(**entry);
}

llvm::Error TuningCache::for_each_entry_locked(llvm::function_ref<llvm::Error(const CacheEntry&)> visit) {
  if (llvm::Error error = require_usable()) return error;
  // One statement: SQLite reads it from one snapshot even while other processes write.
  auto statement = opened_->db->prepare(select_entries_sql(true, "ORDER BY e.id"));
  if (!statement) return statement.takeError();
  while (true) {
    auto row = statement->step();
    if (!row) return row.takeError();
    if (!*row) return llvm::Error::success();
    if (llvm::Error error = visit(read_entry(*statement, true))) return error;
  }
}

llvm::Error TuningCache::for_each_readable_entry_locked(
    llvm::function_ref<llvm::Error(const CacheEntry&)> visit,
    llvm::function_ref<void(int64_t, const std::string&)> unreadable) {
  if (llvm::Error error = require_usable()) return error;
  Database& db = *opened_->db;
  // One read transaction is one snapshot; inside it, the ids first and then each row on its own,
  // so that a damaged page costs only the rows stored on it.
  if (llvm::Error error = db.execute("BEGIN")) return error;
  auto walk = [&]() -> llvm::Error {
    std::vector<int64_t> ids;
    auto statement = db.prepare("SELECT id FROM entries ORDER BY id");
    if (!statement) return statement.takeError();
    while (true) {
      auto row = statement->step();
      if (!row) {
        llvm::Error error = row.takeError();
        if (!error.isA<CorruptDatabaseError>()) return error;
        unreadable(0, "the entries after id " + std::to_string(ids.empty() ? 0 : ids.back()) +
                          " cannot be listed: " + llvm::toString(std::move(error)));
        break;
      }
      if (!*row) break;
      ids.push_back(statement->column_int64(0));
    }
    for (int64_t id : ids) {
      auto entry = select_by_id(id);
      if (!entry) {
        llvm::Error error = entry.takeError();
        if (!error.isA<CorruptDatabaseError>()) return error;
        unreadable(id, llvm::toString(std::move(error)));
        continue;
      }
      if (!*entry) continue;
      if (llvm::Error error = visit(**entry)) return error;
    }
    return llvm::Error::success();
  };
  llvm::Error walked = walk();
  // Nothing was written: ending the read is a rollback, which SQLite may answer with the
  // corruption the walk already reported row by row.
  llvm::Error ended = db.execute("ROLLBACK");
  if (walked) {
    llvm::consumeError(std::move(ended));
    return walked;
  }
  if (ended && ended.isA<CorruptDatabaseError>()) {
    llvm::consumeError(std::move(ended));
    return llvm::Error::success();
  }
  return ended;
}

llvm::Error TuningCache::for_each_entry(llvm::function_ref<llvm::Error(const CacheEntry&)> visit,
                                        llvm::function_ref<void(int64_t, const std::string&)> unreadable) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (unreadable) return for_each_readable_entry_locked(visit, unreadable);
  return for_each_entry_locked(visit);
}

llvm::Expected<VerifyReport> TuningCache::verify() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (llvm::Error error = require_usable()) return error;
  VerifyReport report;
  if (!opened_->damage.empty()) report.integrity_problems.push_back(opened_->damage);
  // A damaged file is what verify exists to report, so SQLite's corruption errors become findings;
  // in a file already found damaged at open, so does any error (a missing table, say).
  auto record_corruption = [&](llvm::Error error) -> llvm::Error {
    if (!error.isA<CorruptDatabaseError>() && opened_->damage.empty()) return error;
    report.integrity_problems.push_back(llvm::toString(std::move(error)));
    return llvm::Error::success();
  };

  auto check = opened_->db->prepare("PRAGMA integrity_check");
  if (!check) return check.takeError();
  while (true) {
    auto row = check->step();
    if (!row) {
      if (llvm::Error error = record_corruption(row.takeError())) return error;
      break;
    }
    if (!*row) break;
    const std::string line = check->column_text(0);
    if (line != "ok") report.integrity_problems.push_back(line);
  }

  llvm::Error walked = for_each_entry_locked([&](const CacheEntry& entry) -> llvm::Error {
    ++report.checked;
    std::string problems = entry_problems(entry);
    if (!problems.empty()) report.bad.push_back(BadEntry{entry.id, key_string(entry.key), problems});
    return llvm::Error::success();
  });
  if (llvm::Error error = record_corruption(std::move(walked))) return error;
  return report;
}

llvm::Expected<bool> TuningCache::remove(int64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (llvm::Error error = require_writable("remove an entry from")) return error;
  auto statement = opened_->db->prepare("DELETE FROM entries WHERE id = ?1");
  if (!statement) return statement.takeError();
  statement->bind_int64(1, id);
  if (llvm::Error error = statement->run()) return error;
  return opened_->db->changes() > 0;
}

llvm::Expected<size_t> TuningCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (llvm::Error error = require_writable("clear")) return error;
  auto transaction = WriteTransaction::begin(*opened_->db);
  if (!transaction) return transaction.takeError();
  auto count = opened_->db->query_int64("SELECT count(*) FROM entries");
  if (!count) return count.takeError();
  if (llvm::Error error = opened_->db->execute("DELETE FROM cubins; DELETE FROM entries;"))
    return error;
  if (llvm::Error error = transaction->commit()) return error;
  return static_cast<size_t>(*count);
}

// ---- the merge rule ----

const char* store_outcome_name(StoreOutcome outcome) {
  switch (outcome) {
    case StoreOutcome::added: return "added";
    case StoreOutcome::replaced: return "replaced";
    case StoreOutcome::kept_existing: return "kept existing";
    case StoreOutcome::read_only: return "read-only";
  }
  return "unknown";
}

bool should_replace(bool existing_tuned, bool incoming_tuned, ReplacePolicy policy) {
  if (policy == ReplacePolicy::always) return true;
  return incoming_tuned && !existing_tuned;
}

}  // namespace flashjit::cache
