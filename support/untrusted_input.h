// Reading what comes from outside the process -- a manifest, an export file, a value on the
// command line -- without trusting it: a file is read only when it is a regular file and within a
// byte limit, JSON is parsed with its nesting bounded (nlohmann's parse, dump and destructor
// recurse once per level, so a 100k-deep array would overflow the stack). A bad value goes into
// messages through quote_prefix (support/quote.h). Errors are invalid_argument: the caller's input.
#pragma once

#include <cstdint>
#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>
#include <nlohmann/json_fwd.hpp>

namespace flashjit {

// Default limits on what a command reads, overridable with its --max-input-bytes. A manifest
// lists problems (a few hundred bytes each), so 64 MiB is far beyond any real one and still cheap
// to hold. An export carries every cubin base64-encoded (a few hundred KiB per entry), so a
// fleet's cache of a few thousand entries needs hundreds of MiB: 1 GiB.
inline constexpr uint64_t kMaxManifestBytes = uint64_t(64) << 20;
inline constexpr uint64_t kMaxImportBytes = uint64_t(1) << 30;
// Deeper than any document FlashJIT writes or reads (a spec or an export is 3 levels deep).
inline constexpr int kMaxJsonDepth = 64;

// The contents of `path`, which must be a regular file (a directory, FIFO, device or socket is
// refused, saying which it is) of at most `max_bytes` bytes (a larger one is refused with its size
// before it is read; `limit_hint` says how to raise the limit, e.g. "--max-input-bytes").
llvm::Expected<std::string> read_input_file(const std::string& path, uint64_t max_bytes,
                                            llvm::StringRef limit_hint);

// `text` parsed as JSON; an error "not valid JSON", or "JSON nesting deeper than N levels" when
// arrays and objects nest more than `max_depth` deep (no tree that deep is ever built).
llvm::Expected<nlohmann::json> parse_json(llvm::StringRef text, int max_depth = kMaxJsonDepth);

}  // namespace flashjit
