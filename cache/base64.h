// Base64 (RFC 4648, standard alphabet, with padding) for cubins in the JSON export.
#pragma once

#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

namespace flashjit::cache {

std::string base64_encode(llvm::StringRef bytes);
// Strict: no whitespace, padding only at the end, length a multiple of 4. An import is validated
// field by field, so a sloppy decoder would only hide a damaged file.
llvm::Expected<std::string> base64_decode(llvm::StringRef text);

}  // namespace flashjit::cache
