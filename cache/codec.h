// The encodings a cubin travels in: its SHA-256, stored beside it and checked before a cubin is
// trusted, and base64 (RFC 4648, standard alphabet, with padding) in the JSON export.
#pragma once

#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

namespace flashjit::cache {

// 64 lowercase hex digits.
std::string sha256_hex(llvm::StringRef bytes);
// Whether `text` has the form sha256_hex() produces.
bool is_sha256_hex(llvm::StringRef text);

std::string base64_encode(llvm::StringRef bytes);
// Strict: no whitespace, padding only at the end, length a multiple of 4. An import is validated
// field by field, so a sloppy decoder would only hide a damaged file.
llvm::Expected<std::string> base64_decode(llvm::StringRef text);

}  // namespace flashjit::cache
