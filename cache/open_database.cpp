#include "cache/open_database.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <unistd.h>

#include "cache/cache_path.h"
#include "cache/schema.h"
#include "support/log.h"
#include "support/quote.h"

namespace flashjit::cache {
namespace {

llvm::Error cannot_open(const std::string& path, const std::string& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot open the tuning cache %s: %s",
                                 path.c_str(), why.c_str());
}

// Read-only when asked for, when the file is not writable, or when its directory is not (SQLite
// needs to create the -wal and -shm files beside a WAL database to write it). An error when the
// file is missing and cannot be created, or exists but cannot be read.
// access() answers for the real user, so this also holds in a set-uid process; root passes every
// check, which is why tests that run as root use `read_only_requested` or drop privileges.
llvm::Expected<AccessMode> decide_access(const std::string& path, bool read_only_requested) {
  const std::string directory = directory_of(path);
  const bool file_exists = ::access(path.c_str(), F_OK) == 0;
  if (!file_exists) {
    if (read_only_requested) return cannot_open(path, "no such file (asked to open it read-only)");
    if (::access(directory.c_str(), W_OK) != 0)
      return cannot_open(path, "no such file, and its directory " + directory + " is not writable (" +
                                   std::strerror(errno) + ")");
    return AccessMode{};
  }
  if (::access(path.c_str(), R_OK) != 0) return cannot_open(path, std::strerror(errno));
  if (read_only_requested) return AccessMode{true, "opened read-only as asked"};
  if (::access(path.c_str(), W_OK) != 0) return AccessMode{true, "the file is not writable"};
  if (::access(directory.c_str(), W_OK) != 0)
    return AccessMode{true, "its directory " + directory + " is not writable"};
  return AccessMode{};
}

llvm::Error open_error(const std::string& path, const std::string& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot open the tuning cache %s: %s",
                                 path.c_str(), why.c_str());
}

// Every table of the schema exists (a dropped table is damage like a broken page), and SQLite's
// quick check of every table and index passes: b-tree structure, the pages of every blob, and
// record formats. It reads the whole file, which costs about what the first lookups would (a
// cubin is most of a row); a cache of hundreds of kernels is checked in tens of milliseconds.
llvm::Error check_tables(Database& db) {
  for (const char* table : {"entries", "cubins"}) {
    auto found = db.query_int64(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") +
                                table + "'");
    if (!found) return found.takeError();
    if (*found == 0) return llvm::make_error<CorruptDatabaseError>(std::string("the table ") + table + " is missing");
  }
  auto statement = db.prepare("PRAGMA quick_check");
  if (!statement) return statement.takeError();
  auto row = statement->step();
  if (!row) return row.takeError();
  if (!*row) return llvm::Error::success();
  const std::string first = statement->column_text(0);
  if (first == "ok") return llvm::Error::success();
  return llvm::make_error<CorruptDatabaseError>("integrity check: " + first);
}

// WAL: readers never wait for a writer and never see a half-written transaction. Switching a new
// file to WAL takes an exclusive lock that SQLite does not wait for, so when several processes
// create the cache at once all but one get "database is locked": wait for it here, within the
// busy timeout. The mode is stored in the file, so later opens find it set (a no-op).
llvm::Error switch_to_wal(Database& db, int busy_timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (true) {
    auto mode = db.query_text("PRAGMA journal_mode = WAL");
    if (mode) {
      // Some file systems cannot share the WAL index; the rollback journal still works, with
      // writers blocking readers.
      if (*mode != "wal") log::debug("tuning cache " + db.path() + " stays in " + *mode + " journal mode");
      return llvm::Error::success();
    }
    llvm::Error error = mode.takeError();
    if (!error.isA<BusyDatabaseError>() || std::chrono::steady_clock::now() >= deadline) return error;
    llvm::consumeError(std::move(error));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

llvm::Error prepare_read_write(Database& db, const OpenOptions& options) {
  if (llvm::Error error = db.set_busy_timeout(options.busy_timeout_ms)) return error;
  // First a read, so that a file which is not ours (or is newer) is set aside exactly as found;
  // switching the journal mode below would already rewrite its header.
  auto version = read_schema_version(db);
  if (!version) return version.takeError();
  if (llvm::Error error = switch_to_wal(db, options.busy_timeout_ms)) return error;
  // synchronous = NORMAL is safe from corruption in WAL mode; a power cut may only lose the last
  // few entries, which a cache can recompute.
  if (llvm::Error error = db.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")) return error;
  if (llvm::Error error = migrate(db)) return error;
  return check_tables(db);
}

llvm::Error prepare_read_only(Database& db, const OpenOptions& options) {
  if (llvm::Error error = db.set_busy_timeout(options.busy_timeout_ms)) return error;
  auto version = read_schema_version(db);
  if (!version) return version.takeError();
  // A read-only file cannot be migrated; an older or empty schema is as good as no cache.
  if (*version != latest_schema_version())
    return llvm::make_error<UnsupportedSchemaError>(
        "schema version " + std::to_string(*version) + " cannot be migrated to " +
        std::to_string(latest_schema_version()) + " in a read-only file");
  return check_tables(db);
}

// What is wrong with a file we will not use: "corrupt" or "unsupported" (names the set-aside
// file), or "" for a failure that is not the file's fault (busy, permissions, I/O).
struct Diagnosis {
  std::string tag;
  std::string message;
};

Diagnosis diagnose(llvm::Error error) {
  Diagnosis diagnosis;
  llvm::handleAllErrors(
      std::move(error),
      [&](const CorruptDatabaseError& e) {
        diagnosis = {"corrupt", e.message()};
      },
      [&](const UnsupportedSchemaError& e) {
        diagnosis = {"unsupported", e.message()};
      },
      [&](const llvm::ErrorInfoBase& e) { diagnosis = {"", e.message()}; });
  return diagnosis;
}

// A second look, through a fresh read-only connection, before a file is set aside: whether it is
// still damaged or of an unknown schema.
bool confirm_unusable(const std::string& path) {
  auto db = Database::open(path, Database::Mode::read_only);
  if (!db) {
    llvm::consumeError(db.takeError());
    return false;
  }
  llvm::Error problem = [&]() -> llvm::Error {
    auto version = read_schema_version(**db);
    if (!version) return version.takeError();
    if (*version == 0) return llvm::Error::success();  // empty: migrated, not replaced
    return check_tables(**db);
  }();
  return !diagnose(std::move(problem)).tag.empty();
}

llvm::Expected<OpenedDatabase> open_read_only(const std::string& path, const OpenOptions& options,
                                              AccessMode access) {
  std::string failure;
  // A WAL database needs its -shm index; in a directory we cannot write, SQLite cannot create
  // one and only an immutable open (no locks, no journal) can read the file.
  for (Database::Mode mode : {Database::Mode::read_only, Database::Mode::immutable}) {
    auto db = Database::open(path, mode);
    if (!db) {
      failure = llvm::toString(db.takeError());
      continue;
    }
    Diagnosis problem = diagnose(prepare_read_only(**db, options));
    if (problem.message.empty() || (options.inspect && !problem.tag.empty())) {
      const std::optional<FileIdentity> identity = identify_file(path);
      OpenedDatabase opened{std::move(*db), std::move(access), identity.value_or(FileIdentity{})};
      if (!problem.tag.empty()) opened.damage = "it is " + problem.tag + " (" + problem.message + ")";
      return opened;
    }
    if (!problem.tag.empty())
      return open_error(path, "it is " + problem.tag + " (" + problem.message +
                                  ") and read-only, so it cannot be set aside; not using it");
    failure = problem.message;
  }
  return open_error(path, failure + " (" + access.reason + ")");
}

llvm::Expected<OpenedDatabase> open_read_write(const std::string& path, const OpenOptions& options) {
  // A few rounds: the file as found, then (after it or someone else set a bad one aside) the
  // fresh one. A file that stays unusable without being set aside ends in an error.
  constexpr int kRounds = 3;
  std::string last_problem;
  for (int round = 0; round < kRounds; ++round) {
    auto db = Database::open(path, Database::Mode::read_write);
    if (!db) return open_error(path, llvm::toString(db.takeError()));
    const std::optional<FileIdentity> identity = identify_file(path);
    Diagnosis problem = diagnose(prepare_read_write(**db, options));
    if (problem.message.empty())
      return OpenedDatabase{std::move(*db), AccessMode{}, identity.value_or(FileIdentity{})};
    if (problem.tag.empty() || !identity) return open_error(path, problem.message);
    last_problem = problem.message;

    db->reset();  // close before renaming, so no connection of ours keeps the old file's locks
    auto aside = set_aside(path, problem.tag, *identity, [&] { return confirm_unusable(path); });
    if (!aside) return open_error(path, problem.message + "; " + llvm::toString(aside.takeError()));
    if (aside->empty()) continue;  // set aside by another process, or fine on a second look
    log::warning("tuning cache " + path + " is " + problem.tag + " (" + problem.message + "); moved it to " +
                 *aside + " and started an empty cache");
  }
  return open_error(path, last_problem);
}

}  // namespace

llvm::Expected<OpenedDatabase> open_cache_database(const std::string& path, const OpenOptions& options) {
  if (path.empty()) return open_error(path, "the path is empty");
  // Before anything is created; SQLite would otherwise make an empty database of a mistyped path.
  if (options.must_exist && ::access(path.c_str(), F_OK) != 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "no tuning cache at " + quote_prefix(path, 512));
  const bool read_only = options.read_only || options.inspect;
  if (!read_only) {
    if (llvm::Error error = create_private_directory(directory_of(path))) return error;
  }
  auto access = decide_access(path, read_only);
  if (!access) return access.takeError();
  if (access->read_only) return open_read_only(path, options, std::move(*access));
  return open_read_write(path, options);
}

llvm::Expected<OpenedDatabase> replace_corrupt_database(OpenedDatabase broken, const std::string& path,
                                                        const std::string& why,
                                                        const OpenOptions& options) {
  const FileIdentity identity = broken.identity;
  broken.db.reset();
  auto aside = set_aside(path, "corrupt", identity, [&] { return confirm_unusable(path); });
  if (!aside) return aside.takeError();
  if (!aside->empty())
    log::warning("tuning cache " + path + " is corrupt (" + why + "); moved it to " + *aside +
                 " and started an empty cache");
  return open_cache_database(path, options);
}

}  // namespace flashjit::cache
