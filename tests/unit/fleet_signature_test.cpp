// HMAC-SHA256 against RFC 4231's test vectors, the fleet key's rules, and secret files that never
// show up in an error.
#include <string>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "cache/fleet_signature.h"
#include "unit/cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::ScratchDir;
using testing::write_file;

std::string bytes_from(int first, int count) {
  std::string s;
  for (int i = 0; i < count; ++i) s.push_back(static_cast<char>(first + i));
  return s;
}

TEST(FleetSignature, HmacSha256MatchesRfc4231) {
  struct Vector {
    std::string key, data, hex;
  };
  const Vector vectors[] = {
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {bytes_from(1, 25), std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      // Keys longer than SHA-256's 64-byte block are hashed first.
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be "
       "hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const Vector& v : vectors) EXPECT_EQ(hmac_sha256_hex(v.key, v.data), v.hex) << v.data;
}

TEST(FleetSignature, ConstantTimeEqualComparesEveryByte) {
  EXPECT_TRUE(constant_time_equal("abcdef", "abcdef"));
  EXPECT_FALSE(constant_time_equal("abcdef", "abcdeg"));
  EXPECT_FALSE(constant_time_equal("xbcdef", "abcdef"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(FleetSignature, AKeySignsVerifiesAndIsNamedByAnIdThatIsNotTheKey) {
  auto key = FleetKey::from_bytes(std::string(32, 'k'));
  ASSERT_TRUE(bool(key)) << llvm::toString(key.takeError());
  auto other = FleetKey::from_bytes(std::string(32, 'K'));
  ASSERT_TRUE(bool(other)) << llvm::toString(other.takeError());
  EXPECT_EQ(key->id().size(), 16u);
  EXPECT_NE(key->id(), other->id());
  EXPECT_EQ(key->id(), FleetKey::from_bytes(std::string(32, 'k'))->id());  // stable
  const std::string signature = key->sign("message");
  EXPECT_TRUE(key->verifies("message", signature));
  EXPECT_FALSE(key->verifies("messagE", signature));
  EXPECT_FALSE(other->verifies("message", signature));
  EXPECT_FALSE(key->verifies("message", signature.substr(1)));
}

TEST(FleetSignature, AShortKeyIsRefusedSayingHowToMakeOne) {
  auto key = FleetKey::from_bytes("short-secret-key");
  ASSERT_FALSE(bool(key));
  const std::string message = llvm::toString(key.takeError());
  EXPECT_NE(message.find("has 16 bytes; at least 32"), std::string::npos) << message;
  EXPECT_NE(message.find("/dev/urandom"), std::string::npos) << message;
  EXPECT_EQ(message.find("short-secret-key"), std::string::npos) << message;
}

TEST(FleetSignature, SecretFilesAreTrimmedAndTheirContentsNeverAppearInErrors) {
  ScratchDir dir;
  write_file(dir.file("key"), std::string(40, 'z') + "\n");
  ::chmod(dir.file("key").c_str(), 0600);
  auto key = FleetKey::from_file(dir.file("key"));
  ASSERT_TRUE(bool(key)) << llvm::toString(key.takeError());
  EXPECT_EQ(key->id(), FleetKey::from_bytes(std::string(40, 'z'))->id());

  const std::string secret = "hunter2-but-not-long-enough";
  write_file(dir.file("short"), secret + "\n");
  auto short_key = FleetKey::from_file(dir.file("short"));
  ASSERT_FALSE(bool(short_key));
  const std::string short_message = llvm::toString(short_key.takeError());
  EXPECT_NE(short_message.find(dir.file("short")), std::string::npos) << short_message;
  EXPECT_EQ(short_message.find(secret), std::string::npos) << short_message;

  write_file(dir.file("empty"), "\n \n");
  auto empty = read_secret_file(dir.file("empty"), "the password file");
  ASSERT_FALSE(bool(empty));
  EXPECT_EQ(llvm::toString(empty.takeError()), "the password file " + dir.file("empty") + " is empty");

  auto missing = read_secret_file(dir.file("absent"), "the password file");
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("the password file: cannot read " + dir.file("absent")), std::string::npos);

  auto directory = read_secret_file(dir.path(), "the password file");
  ASSERT_FALSE(bool(directory));
  EXPECT_NE(llvm::toString(directory.takeError()).find("directory"), std::string::npos);

  write_file(dir.file("huge"), std::string(5000, 'x'));
  auto huge = read_secret_file(dir.file("huge"), "the password file");
  ASSERT_FALSE(bool(huge));
  EXPECT_EQ(llvm::toString(huge.takeError()),
            "the password file " + dir.file("huge") + " holds 5000 bytes, more than a key or password (at most 4096)");
}

TEST(FleetSignature, ASecretFileOthersMayReadIsUsedWithAWarning) {
  if (!testing::warnings_are_shown()) GTEST_SKIP() << "FLASHJIT_LOG hides warnings";
  ScratchDir dir;
  write_file(dir.file("password"), "s3cret-password\n");
  ::chmod(dir.file("password").c_str(), 0644);
  std::string read;
  const std::string warnings = testing::captured_warnings([&] {
    auto password = read_secret_file(dir.file("password"), "the password file");
    ASSERT_TRUE(bool(password));
    read = *password;
  });
  EXPECT_EQ(read, "s3cret-password");
  EXPECT_NE(warnings.find("may be read by other users than its owner (chmod 600 it)"), std::string::npos) << warnings;
  EXPECT_EQ(warnings.find("s3cret"), std::string::npos) << warnings;
}

}  // namespace
}  // namespace flashjit::cache
