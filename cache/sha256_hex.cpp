#include "cache/sha256_hex.h"

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

}  // namespace flashjit::cache
