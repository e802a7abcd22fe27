#include "support/quote.h"

#include <cstdio>

namespace flashjit {

std::string quote_prefix(llvm::StringRef text, size_t max_chars) {
  std::string quoted;
  size_t used = 0;
  for (; used < text.size(); ++used) {
    const unsigned char c = static_cast<unsigned char>(text[used]);
    const bool plain = c >= 0x20 && c < 0x7f && c != '\\' && c != '\'' && c != '"';
    const size_t width = plain ? 1 : 4;
    if (quoted.size() + width > max_chars) break;
    if (plain) {
      quoted += static_cast<char>(c);
      continue;
    }
    char escaped[5];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
    quoted += escaped;
  }
  if (used < text.size()) quoted += "... (" + std::to_string(text.size()) + " bytes)";
  return quoted;
}

}  // namespace flashjit

namespace flashjit {

std::string printable_text_problem(llvm::StringRef field, llvm::StringRef text, size_t max_length) {
  if (text.size() > max_length)
    return field.str() + " is " + std::to_string(text.size()) + " bytes, more than " + std::to_string(max_length);
  for (char c : text)
    if (c < 0x20 || c >= 0x7f) return field.str() + " '" + quote_prefix(text) + "' holds bytes that are not printable";
  return {};
}

}  // namespace flashjit
