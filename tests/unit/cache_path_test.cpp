// Where the cache lives by default, and that the directories created for it are private (0700).
#include <cstdlib>
#include <optional>
#include <string>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "cache/cache_path.h"
#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

// Sets (or, with nullopt, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value->c_str(), 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string default_path() {
  auto path = default_cache_path();
  if (!path) return "error: " + llvm::toString(path.takeError());
  return *path;
}

TEST(CachePath, PrefersFlashjitCacheDirThenXdgThenHome) {
  ScopedEnv home("HOME", "/home/ada");
  {
    ScopedEnv flashjit("FLASHJIT_CACHE_DIR", "/srv/kernels");
    ScopedEnv xdg("XDG_CACHE_HOME", "/var/cache/ada");
    EXPECT_EQ(default_path(), "/srv/kernels/flashjit.sqlite");
  }
  {
    ScopedEnv flashjit("FLASHJIT_CACHE_DIR", "");  // empty counts as unset
    ScopedEnv xdg("XDG_CACHE_HOME", "/var/cache/ada");
    EXPECT_EQ(default_path(), "/var/cache/ada/flashjit/flashjit.sqlite");
  }
  {
    ScopedEnv flashjit("FLASHJIT_CACHE_DIR", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", "relative/cache");  // the XDG spec says to ignore it
    EXPECT_EQ(default_path(), "/home/ada/.cache/flashjit/flashjit.sqlite");
  }
  {
    ScopedEnv flashjit("FLASHJIT_CACHE_DIR", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
    EXPECT_EQ(default_path(), "/home/ada/.cache/flashjit/flashjit.sqlite");
  }
}

TEST(CachePath, SaysWhatToSetWhenNothingIsSet) {
  ScopedEnv flashjit("FLASHJIT_CACHE_DIR", std::nullopt);
  ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
  ScopedEnv home("HOME", std::nullopt);
  EXPECT_EQ(default_path(),
            "error: no place for the tuning cache: set FLASHJIT_CACHE_DIR, XDG_CACHE_HOME or HOME");
}

TEST(CachePath, OpenDefaultCreatesPrivateDirectories) {
  testing::ScratchDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  ScopedEnv flashjit("FLASHJIT_CACHE_DIR", std::nullopt);
  ScopedEnv xdg("XDG_CACHE_HOME", dir.file("xdg"));
  auto cache = TuningCache::open_default();
  ASSERT_TRUE(bool(cache)) << llvm::toString(cache.takeError());
  EXPECT_EQ((*cache)->path(), dir.file("xdg/flashjit/flashjit.sqlite"));
  EXPECT_EQ(testing::permissions_of(dir.file("xdg")), 0700u);
  EXPECT_EQ(testing::permissions_of(dir.file("xdg/flashjit")), 0700u);
  EXPECT_EQ(testing::permissions_of(dir.path()), 0755u);  // existing directories are left alone
  auto stored = (*cache)->store(testing::sample_entry(testing::sample_key(1), true));
  ASSERT_TRUE(bool(stored)) << llvm::toString(stored.takeError());
  EXPECT_EQ(stored->outcome, StoreOutcome::added);
}

TEST(CachePath, PrivateEvenUnderAPermissiveUmask) {
  testing::ScratchDir dir;
  const mode_t old_mask = ::umask(0);
  llvm::Error error = create_private_directory(dir.file("a/b"));
  ::umask(old_mask);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  EXPECT_EQ(testing::permissions_of(dir.file("a")), 0700u);
  EXPECT_EQ(testing::permissions_of(dir.file("a/b")), 0700u);
}

TEST(CachePath, AFileInTheWayIsAnError) {
  testing::ScratchDir dir;
  testing::write_file(dir.file("taken"), "x");
  llvm::Error error = create_private_directory(dir.file("taken/flashjit"));
  ASSERT_TRUE(bool(error));
  EXPECT_NE(llvm::toString(std::move(error)).find("a file of that name is in the way"), std::string::npos);
}

}  // namespace
}  // namespace flashjit::cache
