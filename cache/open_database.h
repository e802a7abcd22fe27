// Opening the cache file: read-write or read-only, WAL and busy timeout, schema migration, a cheap
// integrity check, and setting aside a file that is damaged or of an unknown schema (with a
// warning) to start afresh. Nothing here is fatal to the caller: the worst case is an error that
// means "run without a cache".
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <llvm/Support/Error.h>

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

struct OpenOptions {
  // Never write, even when the file is writable: a deployment that must not change its cache, and
  // the way to get read-only behaviour where access() cannot say so (root passes every check).
  bool read_only = false;
  // How long a call waits for another process's write before giving up with an error.
  int busy_timeout_ms = 10000;
  // Why a stored spec (CacheEntry::spec_json) describes no kernel this build can make; empty when
  // it does. The cache itself requires a JSON object and nothing more (what a spec is belongs to
  // the generator); open_tuning_cache() passes the generator's check, so that verify, export and
  // import hold every entry to it.
  std::function<std::string(const std::string& spec_json)> check_spec;
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
