// The remote cache's URL and settings: every form the README gives, each mistake refused by what
// is wrong with it, and the password in no description and no error.
#include <string>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "cache/remote_settings.h"
#include "unit/cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::ScratchDir;
using testing::write_file;

RemoteEndpoint parsed(const std::string& url) {
  auto endpoint = parse_remote_url(url);
  if (!endpoint) {
    ADD_FAILURE() << url << ": " << llvm::toString(endpoint.takeError());
    return {};
  }
  return *endpoint;
}

std::string refusal(const std::string& url) {
  auto endpoint = parse_remote_url(url);
  if (endpoint) {
    ADD_FAILURE() << url << " parsed";
    return {};
  }
  return llvm::toString(endpoint.takeError());
}

TEST(RemoteSettings, ParsesEveryFormOfTheUrl) {
  RemoteEndpoint plain = parsed("redis://cache.internal");
  EXPECT_FALSE(plain.unix_socket);
  EXPECT_EQ(plain.host, "cache.internal");
  EXPECT_EQ(plain.port, 6379);
  EXPECT_EQ(plain.db, 0);
  EXPECT_EQ(plain.password, "");
  EXPECT_EQ(plain.describe(), "redis://cache.internal:6379/0");

  RemoteEndpoint full = parsed("redis://tuner:s3cret@10.0.0.5:6380/2");
  EXPECT_EQ(full.user, "tuner");
  EXPECT_EQ(full.password, "s3cret");
  EXPECT_EQ(full.host, "10.0.0.5");
  EXPECT_EQ(full.port, 6380);
  EXPECT_EQ(full.db, 2);
  EXPECT_EQ(full.describe(), "redis://tuner@10.0.0.5:6380/2 (with a password)");

  RemoteEndpoint password_only = parsed("redis://:pa%40ss%2Fw0rd@localhost:7000");
  EXPECT_EQ(password_only.user, "");
  EXPECT_EQ(password_only.password, "pa@ss/w0rd");
  // An unencoded '@' in the password: the last '@' ends it.
  EXPECT_EQ(parsed("redis://:p@ss@localhost").password, "p@ss");

  RemoteEndpoint v6 = parsed("redis://[::1]:6390/1");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 6390);
  EXPECT_EQ(v6.describe(), "redis://[::1]:6390/1");

  RemoteEndpoint socket = parsed("unix:///run/redis/redis.sock");
  EXPECT_TRUE(socket.unix_socket);
  EXPECT_EQ(socket.socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(socket.describe(), "unix:///run/redis/redis.sock");
}

TEST(RemoteSettings, RefusesMistakesSayingWhatIsWrong) {
  EXPECT_NE(refusal("http://cache:6379").find("must start with redis:// or unix://"), std::string::npos);
  EXPECT_NE(refusal("rediss://cache:6379").find("TLS"), std::string::npos);
  EXPECT_NE(refusal("redis://").find("the host is missing"), std::string::npos);
  EXPECT_NE(refusal("redis://cache:0").find("the port is not a number from 1 to 65535"), std::string::npos);
  EXPECT_NE(refusal("redis://cache:65536").find("the port"), std::string::npos);
  EXPECT_NE(refusal("redis://cache:").find("the port after ':' is missing"), std::string::npos);
  EXPECT_NE(refusal("redis://cache/x").find("the database after '/'"), std::string::npos);
  EXPECT_NE(refusal("redis://cache/99999").find("the database"), std::string::npos);
  EXPECT_NE(refusal("redis://ca che").find("the host holds a character"), std::string::npos);
  EXPECT_NE(refusal("redis://[::1:6379").find("not closed"), std::string::npos);
  EXPECT_NE(refusal("redis://cache?timeout=5").find("query strings"), std::string::npos);
  EXPECT_NE(refusal("redis://user@cache").find("a user name needs a password"), std::string::npos);
  EXPECT_NE(refusal("redis://:bad%zzpassword@cache").find("the password holds a '%'"), std::string::npos);
  EXPECT_NE(refusal("unix://relative.sock").find("absolute path"), std::string::npos);
  EXPECT_NE(refusal("unix:///" + std::string(200, 'a')).find("107 bytes"), std::string::npos);
}

TEST(RemoteSettings, ThePasswordIsInNoErrorAndNoDescription) {
  const std::string password = "Tr0ub4dor-and-3";
  const std::string bad_urls[] = {
      "redis://user:" + password + "@cache:notaport",   "redis://user:" + password + "@cache:6379/db",
      "redis://user:" + password + "@",                 "redis://user:" + password + "@ca che",
      "redis://user:" + password + "%g@cache",          "rediss://user:" + password + "@cache",
      "redis://user:" + password + "@cache:6379?x=1",   "redis://user:" + password + "@[::1",
      "redis-sentinel://user:" + password + "@cache",
  };
  for (const std::string& url : bad_urls) {
    const std::string message = refusal(url);
    EXPECT_EQ(message.find(password), std::string::npos) << message;
    EXPECT_EQ(message.find("Tr0ub"), std::string::npos) << message;
  }
  EXPECT_EQ(parsed("redis://user:" + password + "@cache").describe().find(password), std::string::npos);
}

TEST(RemoteSettings, ThePasswordFileTakesPrecedenceAndTheKeyFileIsRead) {
  ScratchDir dir;
  write_file(dir.file("password"), "from-the-file\n");
  write_file(dir.file("key"), std::string(48, 'q') + "\n");
  ::chmod(dir.file("password").c_str(), 0600);
  ::chmod(dir.file("key").c_str(), 0600);
  RemoteCacheOptions options;
  options.url = "redis://:from-the-url@cache:6379";
  options.password_file = dir.file("password");
  options.key_file = dir.file("key");
  options.timeout_ms = 75;
  auto settings = resolve_remote_settings(options);
  ASSERT_TRUE(bool(settings)) << llvm::toString(settings.takeError());
  EXPECT_EQ(settings->endpoint.password, "from-the-file");
  ASSERT_TRUE(settings->key.has_value());
  EXPECT_EQ(settings->key->id(), FleetKey::from_bytes(std::string(48, 'q'))->id());
  EXPECT_EQ(settings->timeout_ms, 75);
  EXPECT_TRUE(settings->reads_allowed());
  EXPECT_EQ(settings->signing(), "signed with fleet key " + settings->key->id());
}

TEST(RemoteSettings, WithoutAKeyReadsAreRefusedUnlessUnsignedModeIsChosen) {
  RemoteCacheOptions options;
  options.url = "redis://cache";
  options.key_file.clear();
  options.allow_unsigned = false;
  auto settings = resolve_remote_settings(options);
  ASSERT_TRUE(bool(settings));
  EXPECT_FALSE(settings->reads_allowed());
  EXPECT_NE(settings->signing().find("not read"), std::string::npos);
  options.allow_unsigned = true;
  auto unsigned_settings = resolve_remote_settings(options);
  ASSERT_TRUE(bool(unsigned_settings));
  EXPECT_TRUE(unsigned_settings->reads_allowed());
  EXPECT_NE(unsigned_settings->signing().find("unsigned mode"), std::string::npos);
}

TEST(RemoteSettings, ErrorsNameTheOptionAndFile) {
  RemoteCacheOptions options;
  options.url = "redis://cache:99999";
  auto bad_url = resolve_remote_settings(options);
  ASSERT_FALSE(bool(bad_url));
  EXPECT_EQ(llvm::toString(bad_url.takeError()),
            "FLASHJIT_REMOTE_CACHE (remote_cache.url): the port is not a number from 1 to 65535");
  options.url = "redis://cache";
  options.key_file = "/nonexistent/fleet.key";
  auto bad_key = resolve_remote_settings(options);
  ASSERT_FALSE(bool(bad_key));
  EXPECT_NE(llvm::toString(bad_key.takeError()).find("the fleet key file: cannot read /nonexistent/fleet.key"), std::string::npos);
}

}  // namespace
}  // namespace flashjit::cache
