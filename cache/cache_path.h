// Where the tuning cache lives unless the caller names a file, and the private directory around it.
#pragma once

#include <string>

#include <llvm/Support/Error.h>

namespace flashjit::cache {

inline constexpr const char* kCacheFileName = "flashjit.sqlite";

// $FLASHJIT_CACHE_DIR/flashjit.sqlite, else $XDG_CACHE_HOME/flashjit/flashjit.sqlite, else
// $HOME/.cache/flashjit/flashjit.sqlite. Empty variables count as unset, and so does a relative
// XDG_CACHE_HOME (the XDG spec says to ignore it). An error when none is usable.
llvm::Expected<std::string> default_cache_path();

// Creates `directory` and its missing parents with mode 0700: the cache holds code that this user's
// processes will run, so no one else may plant files there. Existing directories are left as they
// are (a deployment may share one on purpose).
llvm::Error create_private_directory(const std::string& directory);

// The directory holding `file` ("." for a bare name).
std::string directory_of(const std::string& file);

}  // namespace flashjit::cache
