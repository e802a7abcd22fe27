// Opening the cache file: read-write or read-only, WAL and busy timeout, schema migration, an
// integrity check of every table, and setting aside a file that is damaged or of an unknown schema (with a
// warning) to start afresh. Nothing here is fatal to the caller: the worst case is an error that
// means "run without a cache".
#pragma once

#include <memory>
#include <string>

#include <llvm/Support/Error.h>

#include "cache/open_options.h"
#include "cache/set_aside.h"
#include "cache/sqlite_database.h"

namespace flashjit::cache {

// Whether the cache can be written, decided before opening it. A deployment may ship a read-only
// cache (file or directory not writable); that is a normal way to run, not an error, and it must
// stay distinguishable from a cache that cannot be opened at all.
struct AccessMode {
  bool read_only = false;
  std::string reason;  // why read-only ("the file is not writable"); empty when writable
};

struct OpenedDatabase {
  std::unique_ptr<Database> db;
  AccessMode access;
  FileIdentity identity;  // of the file opened, to set aside exactly that one later
  // Opened to inspect (OpenOptions::inspect): what the checks at open found wrong with the file;
  // empty when nothing. Never set otherwise (a damaged file is set aside or refused instead).
  std::string damage;
};

llvm::Expected<OpenedDatabase> open_cache_database(const std::string& path, const OpenOptions& options);

// Corruption found after opening (a damaged page under a lookup): closes `broken`, sets its file
// aside with a warning naming `why`, and opens a fresh database in its place.
llvm::Expected<OpenedDatabase> replace_corrupt_database(OpenedDatabase broken, const std::string& path,
                                                        const std::string& why,
                                                        const OpenOptions& options);

}  // namespace flashjit::cache
