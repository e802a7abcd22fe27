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

namespace flashjit {

// Empty when `text` is printable ASCII of at most `max_length` bytes; otherwise the problem, named
// by `field`: "device_name 'H100\x01' holds bytes that are not printable". For names and flags
// that NVIDIA's tools and this library write, which a file may hold damaged or hostile.
std::string printable_text_problem(llvm::StringRef field, llvm::StringRef text, size_t max_length);

}  // namespace flashjit
