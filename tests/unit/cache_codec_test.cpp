// The encodings the cache relies on: SHA-256 hex of cubins and base64 in the JSON export.
#include <string>

#include <gtest/gtest.h>

#include "cache/codec.h"

namespace flashjit::cache {
namespace {

std::string decode_error(const std::string& text) {
  auto decoded = base64_decode(text);
  if (decoded) {
    ADD_FAILURE() << "'" << text << "' decoded";
    return "";
  }
  return llvm::toString(decoded.takeError());
}

TEST(CacheSha256, MatchesTheStandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CacheSha256, RecognisesItsOwnForm) {
  EXPECT_TRUE(is_sha256_hex(sha256_hex("cubin")));
  EXPECT_FALSE(is_sha256_hex(""));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'A')));  // lowercase only: one spelling per hash
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'g')));
}

TEST(CacheBase64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(CacheBase64, RoundTripsEveryByteValueAndLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t length : {0u, 1u, 2u, 3u, 4u, 255u, 256u}) {
    const std::string part = bytes.substr(0, length);
    auto decoded = base64_decode(base64_encode(part));
    ASSERT_TRUE(bool(decoded)) << llvm::toString(decoded.takeError());
    EXPECT_EQ(*decoded, part) << "length " << length;
  }
}

TEST(CacheBase64, RejectsMalformedText) {
  EXPECT_NE(decode_error("Zm9").find("length 3 is not a multiple of 4"), std::string::npos);
  EXPECT_NE(decode_error("Zm9*").find("unexpected character '*' at offset 3"), std::string::npos);
  EXPECT_NE(decode_error("Zg==Zm9v").find("unexpected character '='"), std::string::npos);
  EXPECT_NE(decode_error("Zm9v\nZm9v").find("invalid base64"), std::string::npos);
  EXPECT_NE(decode_error("Zh==").find("non-zero bits"), std::string::npos);
  EXPECT_NE(decode_error("Z===").find("unexpected character '='"), std::string::npos);
}

}  // namespace
}  // namespace flashjit::cache
