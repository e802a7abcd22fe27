// Quoting untrusted text in messages: a value read from a file or the command line may be huge or
// hold control bytes, so a message shows a short, escaped prefix of it and says how long it was.
#pragma once

#include <cstddef>
#include <string>

#include <llvm/ADT/StringRef.h>

namespace flashjit {

// At most `max_chars` characters of `text`, with every byte outside printable ASCII, the
// backslash and the quote characters written as \xNN; when cut, "... (N bytes)" follows. The
// result goes between quotes in a message: "unknown dtype 'f1\x00...' ...".
std::string quote_prefix(llvm::StringRef text, size_t max_chars = 40);

}  // namespace flashjit
