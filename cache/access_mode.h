// Whether the cache can be written, decided before opening it. A deployment may ship a read-only
// cache (file or directory not writable); that is a normal way to run, not an error, and it must
// stay distinguishable from a cache that cannot be opened at all.
#pragma once

#include <string>

#include <llvm/Support/Error.h>

namespace flashjit::cache {

struct AccessMode {
  bool read_only = false;
  std::string reason;  // why read-only ("the file is not writable"); empty when writable
};

// Read-only when asked for, when the file is not writable, or when its directory is not (SQLite
// needs to create the -wal and -shm files beside a WAL database to write it). An error when the
// file is missing and cannot be created, or exists but cannot be read.
// access() answers for the real user, so this also holds in a set-uid process; root passes every
// check, which is why tests that run as root use `read_only_requested` or drop privileges.
llvm::Expected<AccessMode> decide_access(const std::string& path, bool read_only_requested);

}  // namespace flashjit::cache
