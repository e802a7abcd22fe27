// Signing what a fleet shares: a cubin from a shared store is code that will run on the GPU, so
// every entry in the remote tier carries an HMAC-SHA256 (RFC 2104) under a key the fleet's
// operators hold, and a reader runs only what verifies under its own key. HMAC is built here on
// LLVM's SHA-256 (already linked for the cubin hashes) rather than on OpenSSL, whose static
// libcrypto would not link into libflashjit.so and whose shared one the GPU hosts need not have;
// tests/unit/fleet_signature_test.cpp checks it against RFC 4231's vectors.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

namespace flashjit::cache {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest hmac_sha256(llvm::StringRef key, llvm::StringRef message);
// 64 lowercase hex digits of hmac_sha256.
std::string hmac_sha256_hex(llvm::StringRef key, llvm::StringRef message);
// Whether two strings are equal, taking the same time for every pair of one length (a signature
// compared byte by byte with an early exit tells an attacker how many leading bytes were right).
bool constant_time_equal(llvm::StringRef a, llvm::StringRef b);

// A fleet key as read from its file: the bytes, and the id stored beside every signature so that a
// reader tells "signed with another key" from "tampered with". The id is a hash of the key, 16 hex
// digits; it says which key, never the key.
class FleetKey {
 public:
  // At least kMinKeyBytes: a short key can be guessed offline from any one signed entry.
  static constexpr size_t kMinKeyBytes = 32;
  static llvm::Expected<FleetKey> from_bytes(std::string bytes);
  // The file's contents with trailing whitespace (a final newline) removed. The file must be a
  // regular file of at most 4 KiB; one that others than its owner may read is accepted with a
  // warning. Errors name the file, never its contents.
  static llvm::Expected<FleetKey> from_file(const std::string& path);

  const std::string& id() const { return id_; }
  std::string sign(llvm::StringRef message) const { return hmac_sha256_hex(bytes_, message); }
  bool verifies(llvm::StringRef message, llvm::StringRef signature_hex) const {
    return constant_time_equal(sign(message), signature_hex);
  }

 private:
  FleetKey(std::string bytes, std::string id) : bytes_(std::move(bytes)), id_(std::move(id)) {}
  std::string bytes_;
  std::string id_;
};

// A secret (a key or a password) from a file: a regular file of at most `max_bytes`, trailing
// whitespace removed, not empty. `what` names it in errors ("the fleet key file"); the contents
// never appear in them. Warns when the file is readable by others than its owner.
llvm::Expected<std::string> read_secret_file(const std::string& path, const char* what, uint64_t max_bytes = 4096);

}  // namespace flashjit::cache
