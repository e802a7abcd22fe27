// Opening the tuning cache the way every part of FlashJIT does: the file given, else the default
// location ($FLASHJIT_CACHE_DIR, $XDG_CACHE_HOME, ~/.cache), with stored specs held to the
// generator's rules (verify reports, export leaves out and import refuses entries whose spec no
// kernel could be made from). The cache layer itself knows nothing of kernel specs.
#pragma once

#include <memory>
#include <string>

#include <llvm/Support/Error.h>

#include "cache/remote_cache.h"
#include "cache/tuning_cache.h"
#include "flashjit/runtime.h"

namespace flashjit {

// An error means no cache can be used at all (callers that can run without one warn and go on).
llvm::Expected<std::unique_ptr<cache::TuningCache>> open_tuning_cache(const std::string& path,
                                                                      const cache::OpenOptions& options = {});

// The fleet's remote tier as `options` configure it, holding its entries to the same rule as the
// local cache's (cache_entry_check.h); null when no URL is given. Nothing connects yet (the first
// lookup does). An error when the URL is malformed or a secret file cannot be read; says why
// without the password.
llvm::Expected<std::unique_ptr<cache::RemoteCache>> open_remote_cache(const RemoteCacheOptions& options);

}  // namespace flashjit
