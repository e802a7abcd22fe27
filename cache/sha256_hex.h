// The SHA-256 the cache stores beside every cubin and checks before a cubin is trusted.
#pragma once

#include <string>

#include <llvm/ADT/StringRef.h>

namespace flashjit::cache {

// 64 lowercase hex digits.
std::string sha256_hex(llvm::StringRef bytes);
// Whether `text` has the form sha256_hex() produces.
bool is_sha256_hex(llvm::StringRef text);

}  // namespace flashjit::cache
