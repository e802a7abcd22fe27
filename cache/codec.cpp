#include "cache/codec.h"

#include <cstdint>

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/SHA256.h>

namespace flashjit::cache {

std::string sha256_hex(llvm::StringRef bytes) {
  const std::array<uint8_t, 32> digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef(bytes));
  return llvm::toHex(llvm::ArrayRef<uint8_t>(digest), /*LowerCase=*/true);
}

bool is_sha256_hex(llvm::StringRef text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!llvm::isDigit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of a base64 digit, or -1.
int digit_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

llvm::Error decode_error(const std::string& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "invalid base64: %s", why.c_str());
}

}  // namespace

std::string base64_encode(llvm::StringRef bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                           static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[group >> 18 & 63];
    out += kAlphabet[group >> 12 & 63];
    out += kAlphabet[group >> 6 & 63];
    out += kAlphabet[group & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  uint32_t group = static_cast<uint8_t>(bytes[i]) << 16;
  if (rest == 2) group |= static_cast<uint8_t>(bytes[i + 1]) << 8;
  out += kAlphabet[group >> 18 & 63];
  out += kAlphabet[group >> 12 & 63];
  out += rest == 2 ? kAlphabet[group >> 6 & 63] : '=';
  out += '=';
  return out;
}

llvm::Expected<std::string> base64_decode(llvm::StringRef text) {
  if (text.size() % 4 != 0)
    return decode_error("length " + std::to_string(text.size()) + " is not a multiple of 4");
  size_t padding = 0;
  if (text.endswith("==")) padding = 2;
  else if (text.endswith("=")) padding = 1;

  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last_group = i + 4 == text.size();
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      const bool is_padding_slot = last_group && j >= 4 - padding;
      if (is_padding_slot) {
        group <<= 6;
        continue;
      }
      const int value = digit_value(c);
      if (value < 0)
        return decode_error("unexpected character '" + std::string(1, c) + "' at offset " +
                            std::to_string(i + j));
      group = group << 6 | static_cast<uint32_t>(value);
    }
    out += static_cast<char>(group >> 16 & 0xff);
    if (last_group && padding == 2) {
      // The unused low bits of a final, padded group must be zero; otherwise two different texts
      // would decode to the same bytes.
      if ((group & 0xffff) != 0) return decode_error("non-zero bits in the final group");
      break;
    }
    out += static_cast<char>(group >> 8 & 0xff);
    if (last_group && padding == 1) {
      if ((group & 0xff) != 0) return decode_error("non-zero bits in the final group");
      break;
    }
    out += static_cast<char>(group & 0xff);
  }
  return out;
}

}  // namespace flashjit::cache
