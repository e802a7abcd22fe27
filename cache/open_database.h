// Opening the cache file: read-write or read-only, WAL and busy timeout, schema migration, a cheap
// integrity check, and setting aside a file that is damaged or of an unknown schema (with a
// warning) to start afresh. Nothing here is fatal to the caller: the worst case is an error that
// means "run without a cache".
#pragma once

#include <memory>
#include <string>

#include <llvm/Support/Error.h>

#include "cache/access_mode.h"
#include "cache/set_aside.h"
#include "cache/sqlite_database.h"

namespace flashjit::cache {

struct OpenOptions {
  // Never write, even when the file is writable: a deployment that must not change its cache, and
  // the way to get read-only behaviour where access() cannot say so (root passes every check).
  bool read_only = false;
  // How long a call waits for another process's write before giving up with an error.
  int busy_timeout_ms = 10000;
};

struct OpenedDatabase {
  std::unique_ptr<Database> db;
  AccessMode access;
  FileIdentity identity;  // of the file opened, to set aside exactly that one later
};

llvm::Expected<OpenedDatabase> open_cache_database(const std::string& path, const OpenOptions& options);

// Corruption found after opening (a damaged page under a lookup): closes `broken`, sets its file
// aside with a warning naming `why`, and opens a fresh database in its place.
llvm::Expected<OpenedDatabase> replace_corrupt_database(OpenedDatabase broken, const std::string& path,
                                                        const std::string& why,
                                                        const OpenOptions& options);

}  // namespace flashjit::cache
