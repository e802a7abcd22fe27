#include "cache/fleet_signature.h"

#include <sys/stat.h>

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/SHA256.h>

#include "support/log.h"
#include "support/untrusted_input.h"

namespace flashjit::cache {
namespace {

constexpr size_t kBlockBytes = 64;  // SHA-256's block size, HMAC's B

Sha256Digest sha256_of(llvm::StringRef a, llvm::StringRef b) {
  llvm::SHA256 hash;
  hash.update(a);
  hash.update(b);
  // LLVM 14's final() returns the 32 bytes as a StringRef into the hasher.
  const llvm::StringRef bytes = hash.final();
  Sha256Digest digest{};
  std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

llvm::StringRef as_text(const Sha256Digest& digest) {
  return llvm::StringRef(reinterpret_cast<const char*>(digest.data()), digest.size());
}

}  // namespace

Sha256Digest hmac_sha256(llvm::StringRef key, llvm::StringRef message) {
  // RFC 2104: a key longer than a block is hashed first; then zero-padded to the block size.
  std::string block(kBlockBytes, '\0');
  if (key.size() > kBlockBytes) {
    const Sha256Digest hashed = llvm::SHA256::hash(llvm::arrayRefFromStringRef(key));
    std::copy(hashed.begin(), hashed.end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::string inner_pad = block, outer_pad = block;
  for (size_t i = 0; i < kBlockBytes; ++i) {
    inner_pad[i] = static_cast<char>(inner_pad[i] ^ 0x36);
    outer_pad[i] = static_cast<char>(outer_pad[i] ^ 0x5c);
  }
  const Sha256Digest inner = sha256_of(inner_pad, message);
  return sha256_of(outer_pad, as_text(inner));
}

std::string hmac_sha256_hex(llvm::StringRef key, llvm::StringRef message) {
  const Sha256Digest digest = hmac_sha256(key, message);
  return llvm::toHex(llvm::ArrayRef<uint8_t>(digest), /*LowerCase=*/true);
}

bool constant_time_equal(llvm::StringRef a, llvm::StringRef b) {
  if (a.size() != b.size()) return false;  // lengths are public: a signature is always 64 digits
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

llvm::Expected<FleetKey> FleetKey::from_bytes(std::string bytes) {
  if (bytes.size() < kMinKeyBytes)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the fleet key has %zu bytes; at least %zu are needed (make one with: head -c 32 "
                                   "/dev/urandom | base64 > KEYFILE)",
                                   bytes.size(), kMinKeyBytes);
  // Domain-separated from the signatures, so the id reveals nothing a signature could be checked against.
  const Sha256Digest id_hash = sha256_of("flashjit fleet key id\n", bytes);
  std::string id = llvm::toHex(llvm::ArrayRef<uint8_t>(id_hash.data(), 8), /*LowerCase=*/true);
  return FleetKey(std::move(bytes), std::move(id));
}

llvm::Expected<FleetKey> FleetKey::from_file(const std::string& path) {
  auto bytes = read_secret_file(path, "the fleet key file");
  if (!bytes) return bytes.takeError();
  auto key = from_bytes(std::move(*bytes));
  if (!key)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: %s", path.c_str(),
                                   llvm::toString(key.takeError()).c_str());
  return key;
}

llvm::Expected<std::string> read_secret_file(const std::string& path, const char* what, uint64_t max_bytes) {
  // Read within a generous bound, then held to the secret's own: no option raises that limit.
  auto text = read_input_file(path, max_bytes + (uint64_t(64) << 10), "a smaller file");
  if (!text)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: %s", what,
                                   llvm::toString(text.takeError()).c_str());
  if (text->size() > max_bytes)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s %s holds %zu bytes, more than a key or password "
                                   "(at most %llu)", what, path.c_str(), text->size(),
                                   static_cast<unsigned long long>(max_bytes));
  llvm::StringRef trimmed = llvm::StringRef(*text).rtrim(" \t\r\n");
  if (trimmed.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s %s is empty", what, path.c_str());
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & (S_IRGRP | S_IROTH)) != 0)
    log::warning(std::string(what) + " " + path + " may be read by other users than its owner (chmod 600 it)");
  return trimmed.str();
}

}  // namespace flashjit::cache
