#include "cache/schema.h"

#include <llvm/Support/raw_ostream.h>

#include "cache/sqlite_database.h"

namespace flashjit::cache {

char UnsupportedSchemaError::ID = 0;

void UnsupportedSchemaError::log(llvm::raw_ostream& os) const { os << message_; }

namespace {

// Version 1: one row per key with real, typed (STRICT) columns, and the cubins in their own table
// so that listing and the integrity check at open never read the large blobs.
llvm::Error create_version_1(Database& db) {
  return db.execute(R"sql(
    CREATE TABLE entries (
      id                 INTEGER PRIMARY KEY,
      device_name        TEXT    NOT NULL,
      compute_capability INTEGER NOT NULL,
      sm_count           INTEGER NOT NULL,
      driver_version     INTEGER NOT NULL,
      nvrtc_version      INTEGER NOT NULL,
      generator_hash     TEXT    NOT NULL,
      compile_options    TEXT    NOT NULL,
      problem_key        TEXT    NOT NULL,
      spec_json          TEXT    NOT NULL,
      kernel_symbol      TEXT    NOT NULL,
      cubin_sha256       TEXT    NOT NULL CHECK (length(cubin_sha256) = 64),
      cubin_size         INTEGER NOT NULL CHECK (cubin_size >= 0),
      median_ms          REAL,
      p20_ms             REAL,
      p80_ms             REAL,
      candidates_tried   INTEGER NOT NULL CHECK (candidates_tried >= 0),
      tuned              INTEGER NOT NULL CHECK (tuned IN (0, 1)),
      created_unix       INTEGER NOT NULL,
      UNIQUE (device_name, compute_capability, sm_count, driver_version, nvrtc_version,
              generator_hash, compile_options, problem_key)
    ) STRICT;
    CREATE TABLE cubins (
      entry_id INTEGER PRIMARY KEY REFERENCES entries (id) ON DELETE CASCADE,
      bytes    BLOB    NOT NULL
    ) STRICT;
  )sql");
}

llvm::Error unsupported(const std::string& message) {
  return llvm::make_error<UnsupportedSchemaError>(message);
}

// Whether the schema_version table exists, and how many tables there are, read in one statement:
// one snapshot. Read separately, another process creating the schema in between would make a
// fresh cache look like a foreign database ("tables but no schema_version").
struct SchemaTables {
  bool has_version_table = false;
  int64_t tables = 0;
};

llvm::Expected<SchemaTables> read_schema_tables(Database& db) {
  auto statement = db.prepare(
      "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'),"
      "       (SELECT count(*) FROM sqlite_schema)");
  if (!statement) return statement.takeError();
  auto row = statement->step();
  if (!row) return row.takeError();
  if (!*row) return SchemaTables{};
  return SchemaTables{statement->column_int64(0) > 0, statement->column_int64(1)};
}

llvm::Error write_version(Database& db, int version) {
  if (llvm::Error error = db.execute(
          "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT;"
          "DELETE FROM schema_version;"))
    return error;
  auto statement = db.prepare("INSERT INTO schema_version (version) VALUES (?1)");
  if (!statement) return statement.takeError();
  statement->bind_int64(1, version);
  return statement->run();
}

}  // namespace

const std::vector<Migration>& schema_migrations() {
  static const std::vector<Migration> migrations = {create_version_1};
  return migrations;
}

int latest_schema_version() { return static_cast<int>(schema_migrations().size()); }

llvm::Expected<int> read_schema_version(Database& db, int supported_version) {
  auto tables = read_schema_tables(db);
  if (!tables) return tables.takeError();
  if (!tables->has_version_table) {
    if (tables->tables == 0) return 0;
    return unsupported("it holds tables but no schema_version: not a flashjit cache");
  }
  // The table exists from here on (it is never dropped), so a second statement is safe.
  auto statement = db.prepare("SELECT version FROM schema_version");
  if (!statement) return statement.takeError();
  auto row = statement->step();
  if (!row) return row.takeError();
  if (!*row) return unsupported("its schema_version table is empty");
  const int64_t version = statement->column_int64(0);
  if (version < 0 || version > supported_version)
    return unsupported("schema version " + std::to_string(version) +
                       " is not one this flashjit knows (1.." + std::to_string(supported_version) + ")");
  return static_cast<int>(version);
}

llvm::Error migrate(Database& db, const std::vector<Migration>& migrations) {
  const int target = static_cast<int>(migrations.size());
  auto before = read_schema_version(db, target);
  if (!before) return before.takeError();
  if (*before == target) return llvm::Error::success();

  auto transaction = WriteTransaction::begin(db);
  if (!transaction) return transaction.takeError();
  auto current = read_schema_version(db, target);
  if (!current) return current.takeError();
  if (*current == target) return transaction->commit();  // another process migrated meanwhile
  for (int version = *current; version < target; ++version) {
    llvm::Error error = migrations[static_cast<size_t>(version)](db);
    if (!error) continue;
    // Keep the kind: a damaged file is set aside, other failures are reported.
    if (error.isA<CorruptDatabaseError>()) return error;
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "migrating the cache schema from version %d to %d: %s", version,
                                     version + 1, llvm::toString(std::move(error)).c_str());
  }
  if (llvm::Error error = write_version(db, target)) return error;
  return transaction->commit();
}

}  // namespace flashjit::cache
