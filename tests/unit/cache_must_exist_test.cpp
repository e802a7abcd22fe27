// OpenOptions::must_exist: what only reads the cache opens one that is there, and creates nothing
// (no directories, no empty database) where a mistyped path points.
#include <gtest/gtest.h>

#include "cache/tuning_cache.h"
#include "unit/cache_test_support.h"

namespace flashjit::cache {
namespace {

TEST(CacheMustExist, AMissingCacheIsAnErrorAndNothingIsCreated) {
  testing::ScratchDir dir;
  OpenOptions existing;
  existing.must_exist = true;
  const std::string typo = dir.file("typo/sub/c.sqlite");
  auto opened = TuningCache::open(typo, existing);
  ASSERT_FALSE(static_cast<bool>(opened));
  EXPECT_EQ(llvm::toString(opened.takeError()), "no tuning cache at " + typo);
  EXPECT_TRUE(dir.names_starting_with("typo").empty()) << "the directory was created";
}

TEST(CacheMustExist, AnExistingCacheOpens) {
  testing::ScratchDir dir;
  {
    auto created = TuningCache::open(dir.file("c.sqlite"));
    ASSERT_TRUE(static_cast<bool>(created)) << llvm::toString(created.takeError());
  }
  OpenOptions existing;
  existing.must_exist = true;
  auto opened = TuningCache::open(dir.file("c.sqlite"), existing);
  ASSERT_TRUE(static_cast<bool>(opened)) << llvm::toString(opened.takeError());
  EXPECT_FALSE((*opened)->read_only());
}

}  // namespace
}  // namespace flashjit::cache
