// A deployment may ship the cache read-only. Lookups then work, store() is a no-op that says so,
// and "read-only" stays distinguishable from "cannot open".
// File permissions mean nothing to root, and the tests run as root in CI: there the checks run in
// a child process that has become "nobody". The explicit `read_only` option is tested as any user.
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cache/sqlite_database.h"
#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::open_cache;
using testing::sample_entry;
using testing::sample_key;

std::string error_text(llvm::Error error) { return llvm::toString(std::move(error)); }

// What a reader of `path` finds wrong; "" when the cache opens read-only with `reason` in its
// reason, finds the stored entry and declines to store. Runs in a child, so it reports in text.
std::string check_read_only_use(const std::string& path, const std::string& reason,
                                bool ask_read_only = false) {
  auto cache = open_cache(path, ask_read_only);
  if (!cache) return "open failed: " + error_text(cache.takeError());
  if (!(*cache)->read_only()) return "the cache is writable";
  if ((*cache)->read_only_reason().find(reason) == std::string::npos)
    return "reason '" + (*cache)->read_only_reason() + "' does not mention '" + reason + "'";
  auto found = (*cache)->lookup(sample_key(1));
  if (!found) return "lookup failed: " + error_text(found.takeError());
  if (!found->has_value()) return "lookup missed";
  if ((*found)->cubin != testing::sample_cubin(1)) return "lookup returned the wrong cubin";
  auto stored = (*cache)->store(sample_entry(sample_key(2), true));
  if (!stored) return "store failed: " + error_text(stored.takeError());
  if (stored->outcome != StoreOutcome::read_only) return "store did not report read-only";
  auto rows = (*cache)->list();
  if (!rows) return "list failed: " + error_text(rows.takeError());
  if (rows->size() != 1) return "the cache has " + std::to_string(rows->size()) + " rows";
  return "";
}

// Runs `body` as a user to whom file permissions apply.
std::string as_ordinary_user(const std::function<std::string()>& body) {
  return testing::run_in_child(body, /*unprivileged=*/testing::running_as_root());
}

#define SKIP_IF_PRIVILEGES_STAY(result)                                            \
  if ((result).rfind("child: cannot become", 0) == 0) GTEST_SKIP() << (result)

class CacheReadOnly : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cache = open_cache(path_);
    ASSERT_TRUE(bool(cache)) << llvm::toString(cache.takeError());
    auto stored = (*cache)->store(sample_entry(sample_key(1), true, 1));
    ASSERT_TRUE(bool(stored)) << llvm::toString(stored.takeError());
    // Closing the last connection checkpoints the journal and removes -wal and -shm, as a
    // deployment pipeline would leave the file.
  }

  // Lets an unprivileged reader reach the directory.
  void open_directory_to_others(mode_t mode = 0755) { ASSERT_EQ(::chmod(dir_.path().c_str(), mode), 0); }

  testing::ScratchDir dir_;
  const std::string path_ = dir_.file("cache.sqlite");
};

TEST_F(CacheReadOnly, TheReadOnlyOptionNeverWrites) {
  const std::string before = testing::read_file(path_);
  EXPECT_EQ(check_read_only_use(path_, "opened read-only as asked", /*ask_read_only=*/true), "");
  EXPECT_TRUE(testing::read_file(path_) == before);
  // A WAL reader may leave an empty -wal and the -shm index beside the file, but no content.
  EXPECT_EQ(testing::read_file(path_ + "-wal"), "");
}

TEST_F(CacheReadOnly, MaintenanceOperationsSayTheCacheIsReadOnly) {
  auto cache = open_cache(path_, /*read_only=*/true);
  ASSERT_TRUE(bool(cache)) << llvm::toString(cache.takeError());
  auto cleared = (*cache)->clear();
  ASSERT_FALSE(bool(cleared));
  EXPECT_NE(error_text(cleared.takeError())
                .find("cannot clear the tuning cache " + path_ + ": it is read-only (opened read-only as asked)"),
            std::string::npos);
  auto removed = (*cache)->remove(1);
  ASSERT_FALSE(bool(removed));
  EXPECT_NE(error_text(removed.takeError()).find("read-only"), std::string::npos);
  auto verified = (*cache)->verify();
  ASSERT_TRUE(bool(verified)) << llvm::toString(verified.takeError());
  EXPECT_TRUE(verified->ok());
}

TEST_F(CacheReadOnly, AFileThatIsNotWritableOpensReadOnly) {
  open_directory_to_others();
  ASSERT_EQ(::chmod(path_.c_str(), 0444), 0);
  const std::string result = as_ordinary_user([&] { return check_read_only_use(path_, "the file is not writable"); });
  SKIP_IF_PRIVILEGES_STAY(result);
  EXPECT_EQ(result, "");
}

TEST_F(CacheReadOnly, ADirectoryThatIsNotWritableOpensReadOnly) {
  // The file itself is writable by the reader; only the directory (where SQLite would put its
  // -wal and -shm files) is not.
  if (testing::running_as_root()) {
    ASSERT_EQ(::chown(path_.c_str(), testing::kUnprivilegedId, testing::kUnprivilegedId), 0);
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  open_directory_to_others(0555);
  const std::string result = as_ordinary_user([&] { return check_read_only_use(path_, "is not writable"); });
  SKIP_IF_PRIVILEGES_STAY(result);
  EXPECT_EQ(result, "");
  EXPECT_TRUE(dir_.names_starting_with("cache.sqlite-").empty());
}

TEST_F(CacheReadOnly, AMissingFileInAReadOnlyDirectoryCannotBeOpened) {
  open_directory_to_others(0555);
  const std::string missing = dir_.file("other.sqlite");
  const std::string result = as_ordinary_user([&]() -> std::string {
    auto cache = open_cache(missing);
    if (cache) return "opened";
    return error_text(cache.takeError());
  });
  SKIP_IF_PRIVILEGES_STAY(result);
  EXPECT_NE(result.find("cannot open the tuning cache " + missing + ": no such file, and its directory"),
            std::string::npos)
      << result;
}

TEST_F(CacheReadOnly, AnUnreadableFileCannotBeOpened) {
  open_directory_to_others();
  ASSERT_EQ(::chmod(path_.c_str(), 0000), 0);
  const std::string result = as_ordinary_user([&]() -> std::string {
    auto cache = open_cache(path_);
    if (cache) return "opened";
    return error_text(cache.takeError());
  });
  SKIP_IF_PRIVILEGES_STAY(result);
  EXPECT_NE(result.find("cannot open the tuning cache " + path_ + ": Permission denied"), std::string::npos)
      << result;
}

// The last resort for a WAL file SQLite cannot otherwise read in an unwritable directory: an
// immutable open, through a "file:" URI that must escape what URIs give meaning to.
TEST_F(CacheReadOnly, TheImmutableFallbackReadsPathsWithUriCharacters) {
  EXPECT_EQ(sqlite_file_uri("/a b/c?d#e%f.sqlite", "immutable=1"),
            "file:///a b/c%3fd%23e%25f.sqlite?immutable=1");
  EXPECT_EQ(sqlite_file_uri("relative.sqlite", ""), "file:relative.sqlite");
  const std::string odd = dir_.file("we?ird#na%me.sqlite");
  ASSERT_EQ(::rename(path_.c_str(), odd.c_str()), 0);
  auto db = Database::open(odd, Database::Mode::immutable);
  ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
  auto rows = (*db)->query_int64("SELECT count(*) FROM entries");
  ASSERT_TRUE(bool(rows)) << llvm::toString(rows.takeError());
  EXPECT_EQ(*rows, 1);
  auto write = (*db)->execute("DELETE FROM entries");
  EXPECT_TRUE(bool(write));
  llvm::consumeError(std::move(write));
}

TEST_F(CacheReadOnly, AskingForReadOnlyDoesNotCreateAFile) {
  const std::string missing = dir_.file("other.sqlite");
  auto cache = open_cache(missing, /*read_only=*/true);
  ASSERT_FALSE(bool(cache));
  EXPECT_NE(error_text(cache.takeError()).find("no such file (asked to open it read-only)"), std::string::npos);
  EXPECT_TRUE(dir_.names_starting_with("other.sqlite").empty());
}

}  // namespace
}  // namespace flashjit::cache
