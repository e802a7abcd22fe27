// Schema versions and migrations, and what happens to a file that cannot be trusted: corrupt,
// truncated, foreign or newer files are set aside with a warning and replaced by a working cache.
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "cache/schema.h"
#include "cache/sqlite_database.h"
#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::open_cache;
using testing::sample_entry;
using testing::sample_key;

// The version-1 schema as released, frozen here: if someone edits migration 1 instead of adding
// migration 2, files written by the released version stop opening and this test says so.
constexpr const char* kReleasedVersion1 = R"sql(
  CREATE TABLE entries (
    id INTEGER PRIMARY KEY, device_name TEXT NOT NULL, compute_capability INTEGER NOT NULL,
    sm_count INTEGER NOT NULL, driver_version INTEGER NOT NULL, nvrtc_version INTEGER NOT NULL,
    generator_hash TEXT NOT NULL, compile_options TEXT NOT NULL, problem_key TEXT NOT NULL,
    spec_json TEXT NOT NULL, kernel_symbol TEXT NOT NULL,
    cubin_sha256 TEXT NOT NULL CHECK (length(cubin_sha256) = 64),
    cubin_size INTEGER NOT NULL CHECK (cubin_size >= 0), median_ms REAL, p20_ms REAL, p80_ms REAL,
    candidates_tried INTEGER NOT NULL CHECK (candidates_tried >= 0),
    tuned INTEGER NOT NULL CHECK (tuned IN (0, 1)), created_unix INTEGER NOT NULL,
    UNIQUE (device_name, compute_capability, sm_count, driver_version, nvrtc_version,
            generator_hash, compile_options, problem_key)) STRICT;
  CREATE TABLE cubins (entry_id INTEGER PRIMARY KEY REFERENCES entries (id) ON DELETE CASCADE,
                       bytes BLOB NOT NULL) STRICT;
  CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
  INSERT INTO schema_version VALUES (1);
)sql";

std::unique_ptr<TuningCache> open_or_fail(const std::string& path) {
  auto cache = open_cache(path);
  if (!cache) {
    ADD_FAILURE() << llvm::toString(cache.takeError());
    return nullptr;
  }
  return std::move(*cache);
}

// Opens `path`, which must be set aside as `<path>.<tag>-...`, and checks the new cache works.
void expect_set_aside_and_replaced(const testing::ScratchDir& dir, const std::string& tag,
                                   const std::string& original_bytes) {
  const std::string path = dir.file("cache.sqlite");
  std::unique_ptr<TuningCache> cache;
  const std::string warnings = testing::captured_warnings([&] { cache = open_or_fail(path); });
  ASSERT_NE(cache, nullptr);
  std::vector<std::string> aside;
  for (const std::string& name : dir.names_starting_with("cache.sqlite." + tag + "-"))
    if (name.find("-wal") == std::string::npos) aside.push_back(name);  // its journal moves with it
  ASSERT_EQ(aside.size(), 1u) << "no cache.sqlite." << tag << "-* file";
  // Moved, not rewritten (compared as a flag: a failure should not print kilobytes of binary).
  EXPECT_TRUE(testing::read_file(dir.file(aside[0])) == original_bytes);
  if (testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("tuning cache " + path + " is " + tag), std::string::npos) << warnings;
    EXPECT_NE(warnings.find("moved it to " + dir.file(aside[0])), std::string::npos) << warnings;
  }
  auto rows = cache->list();
  ASSERT_TRUE(bool(rows)) << llvm::toString(rows.takeError());
  EXPECT_TRUE(rows->empty());
  auto stored = cache->store(sample_entry(sample_key(1), true));
  ASSERT_TRUE(bool(stored)) << llvm::toString(stored.takeError());
  EXPECT_EQ(stored->outcome, StoreOutcome::added);
  auto found = cache->lookup(sample_key(1));
  ASSERT_TRUE(bool(found));
  EXPECT_TRUE(found->has_value());
}

TEST(CacheSchema, ANewFileGetsTheLatestVersionInWalMode) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  ASSERT_NE(open_or_fail(path), nullptr);
  EXPECT_EQ(latest_schema_version(), 1);
  EXPECT_EQ(testing::query_int(path, "SELECT version FROM schema_version"), 1);
  EXPECT_EQ(testing::query_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
}

TEST(CacheSchema, MigratesAnEmptyFile) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  testing::write_file(path, "");  // what an interrupted first open can leave behind
  std::unique_ptr<TuningCache> cache = open_or_fail(path);
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(dir.names_starting_with("cache.sqlite.").empty());  // nothing set aside
  EXPECT_EQ(testing::query_int(path, "SELECT version FROM schema_version"), 1);
}

TEST(CacheSchema, OpensAFileWrittenByVersion1) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  const CacheEntry entry = sample_entry(sample_key(1), true);
  testing::execute_sql(path, kReleasedVersion1);
  {
    std::unique_ptr<TuningCache> writer = open_or_fail(path);
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(bool(writer->store(entry)));
  }
  std::unique_ptr<TuningCache> cache = open_or_fail(path);
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(dir.names_starting_with("cache.sqlite.").empty());
  auto found = cache->lookup(entry.key);
  ASSERT_TRUE(bool(found));
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->cubin, entry.cubin);
}

// A stand-in for the next schema version: adding one is appending a function like this.
llvm::Error add_note_column(Database& db) { return db.execute("ALTER TABLE entries ADD COLUMN note TEXT"); }

TEST(CacheSchema, AppliesLaterMigrationsToAVersion1File) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  {
    std::unique_ptr<TuningCache> cache = open_or_fail(path);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(bool(cache->store(sample_entry(sample_key(1), true))));
  }
  auto db = Database::open(path, Database::Mode::read_write);
  ASSERT_TRUE(bool(db));
  std::vector<Migration> migrations = schema_migrations();
  migrations.push_back(add_note_column);
  llvm::Error migrated = migrate(**db, migrations);
  ASSERT_FALSE(bool(migrated)) << llvm::toString(std::move(migrated));
  auto version = read_schema_version(**db, 2);
  ASSERT_TRUE(bool(version));
  EXPECT_EQ(*version, 2);
  auto notes = (*db)->query_int64("SELECT count(note) FROM entries");  // the column exists
  ASSERT_TRUE(bool(notes)) << llvm::toString(notes.takeError());
  auto rows = (*db)->query_int64("SELECT count(*) FROM entries");
  ASSERT_TRUE(bool(rows));
  EXPECT_EQ(*rows, 1);
  llvm::Error again = migrate(**db, migrations);  // already there: nothing to do
  EXPECT_FALSE(bool(again)) << llvm::toString(std::move(again));
}

TEST(CacheSchema, SetsAsideAFileOfGarbage) {
  testing::ScratchDir dir;
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage += static_cast<char>((i * 131 + 7) & 0xff);
  testing::write_file(dir.file("cache.sqlite"), garbage);
  expect_set_aside_and_replaced(dir, "corrupt", garbage);
}

TEST(CacheSchema, SetsAsideATruncatedDatabase) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  {
    std::unique_ptr<TuningCache> cache = open_or_fail(path);
    ASSERT_NE(cache, nullptr);
    for (int i = 0; i < 60; ++i) ASSERT_TRUE(bool(cache->store(sample_entry(sample_key(i), true, i))));
  }
  const std::string whole = testing::read_file(path);
  ASSERT_GT(whole.size(), 100000u);
  ASSERT_TRUE(dir.names_starting_with("cache.sqlite-wal").empty());  // checkpointed at close
  const std::string truncated = whole.substr(0, whole.size() / 2);
  testing::write_file(path, truncated);
  expect_set_aside_and_replaced(dir, "corrupt", truncated);
}

TEST(CacheSchema, SetsAsideANewerSchemaVersion) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  ASSERT_NE(open_or_fail(path), nullptr);
  testing::execute_sql(path, "UPDATE schema_version SET version = 99");
  const std::string bytes = testing::read_file(path);
  expect_set_aside_and_replaced(dir, "unsupported", bytes);
}

TEST(CacheSchema, SetsAsideSomeOtherProgramsDatabase) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  testing::execute_sql(path, "CREATE TABLE photos (name TEXT); INSERT INTO photos VALUES ('cat.jpg');");
  expect_set_aside_and_replaced(dir, "unsupported", testing::read_file(path));
}

TEST(CacheSchema, ReadsTheVersionAndRejectsNewerOnes) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  ASSERT_NE(open_or_fail(path), nullptr);
  testing::execute_sql(path, "UPDATE schema_version SET version = 3");
  auto db = Database::open(path, Database::Mode::read_only);
  ASSERT_TRUE(bool(db));
  auto version = read_schema_version(**db);
  ASSERT_FALSE(bool(version));
  llvm::Error error = version.takeError();
  EXPECT_TRUE(error.isA<UnsupportedSchemaError>());
  EXPECT_NE(llvm::toString(std::move(error)).find("schema version 3 is not one this flashjit knows (1..1)"),
            std::string::npos);
}

TEST(CacheSchema, ACorruptReadOnlyFileIsNotUsedNorMoved) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  testing::write_file(path, std::string(4096, 'x'));
  auto cache = open_cache(path, /*read_only=*/true);
  ASSERT_FALSE(bool(cache));
  const std::string error = llvm::toString(cache.takeError());
  EXPECT_NE(error.find("cannot open the tuning cache " + path), std::string::npos) << error;
  EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
  EXPECT_NE(error.find("read-only"), std::string::npos) << error;
  EXPECT_TRUE(dir.names_starting_with("cache.sqlite.").empty());
  EXPECT_TRUE(testing::read_file(path) == std::string(4096, 'x'));
}

}  // namespace
}  // namespace flashjit::cache
