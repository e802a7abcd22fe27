// A cubin is trusted only when it matches its SHA-256: a tampered or lost blob is a miss, the row
// is deleted (when the cache is writable) and the caller compiles again.
#include <string>

#include <gtest/gtest.h>

#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::open_cache;
using testing::sample_entry;
using testing::sample_key;

class CacheIntegrity : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = open_cache(path_);
    ASSERT_TRUE(bool(opened)) << llvm::toString(opened.takeError());
    cache_ = std::move(*opened);
    auto stored = cache_->store(sample_entry(sample_key(1), true, 1));
    ASSERT_TRUE(bool(stored));
    id_ = stored->id;
    ASSERT_TRUE(bool(cache_->store(sample_entry(sample_key(2), true, 2))));
  }

  // Looks up sample_key(1), which must miss, and returns the warnings printed meanwhile.
  std::string expect_miss(TuningCache& cache) {
    std::string warnings = testing::captured_warnings([&] {
      auto found = cache.lookup(sample_key(1));
      ASSERT_TRUE(bool(found)) << llvm::toString(found.takeError());
      EXPECT_FALSE(found->has_value());
    });
    return warnings;
  }

  int64_t rows() { return testing::query_int(path_, "SELECT count(*) FROM entries"); }

  testing::ScratchDir dir_;
  const std::string path_ = dir_.file("cache.sqlite");
  std::unique_ptr<TuningCache> cache_;
  int64_t id_ = 0;
};

TEST_F(CacheIntegrity, ATamperedCubinIsAMissAndItsRowIsDeleted) {
  testing::execute_sql(path_, "UPDATE cubins SET bytes = zeroblob(length(bytes)) WHERE entry_id = " +
                                  std::to_string(id_));
  const std::string warnings = expect_miss(*cache_);
  if (testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("entry " + std::to_string(id_) + " (" + sample_key(1).problem_key +
                            ") must not run (cubin does not match its sha256)"),
              std::string::npos)
        << warnings;
  }
  EXPECT_EQ(rows(), 1);
  EXPECT_EQ(testing::query_int(path_, "SELECT count(*) FROM cubins"), 1);
  // The other entry is untouched, and the key can be stored again.
  auto other = cache_->lookup(sample_key(2));
  ASSERT_TRUE(bool(other));
  EXPECT_TRUE(other->has_value());
  auto stored = cache_->store(sample_entry(sample_key(1), true, 1));
  ASSERT_TRUE(bool(stored));
  EXPECT_EQ(stored->outcome, StoreOutcome::added);
}

TEST_F(CacheIntegrity, ALostCubinIsAMiss) {
  testing::execute_sql(path_, "DELETE FROM cubins WHERE entry_id = " + std::to_string(id_));
  expect_miss(*cache_);
  EXPECT_EQ(rows(), 1);
}

TEST_F(CacheIntegrity, ATamperedHashIsAMiss) {
  testing::execute_sql(path_, "UPDATE entries SET cubin_sha256 = '" + std::string(64, '0') +
                                  "' WHERE id = " + std::to_string(id_));
  expect_miss(*cache_);
  EXPECT_EQ(rows(), 1);
}

TEST_F(CacheIntegrity, AReadOnlyCacheIgnoresTheBadRowWithoutDeletingIt) {
  cache_.reset();
  testing::execute_sql(path_, "UPDATE cubins SET bytes = zeroblob(length(bytes)) WHERE entry_id = " +
                                  std::to_string(id_));
  auto reader = open_cache(path_, /*read_only=*/true);
  ASSERT_TRUE(bool(reader)) << llvm::toString(reader.takeError());
  const std::string warnings = expect_miss(**reader);
  if (testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("ignoring it (read-only cache)"), std::string::npos) << warnings;
  }
  EXPECT_EQ(rows(), 2);
}

}  // namespace
}  // namespace flashjit::cache
