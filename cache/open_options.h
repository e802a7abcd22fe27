// How a tuning cache is opened: read-only or not, how long to wait for another process, and the rule
// a stored kernel spec must satisfy.
#pragma once

#include <functional>
#include <string>

namespace flashjit::cache {

struct OpenOptions {
  // Never write, even when the file is writable: a deployment that must not change its cache, and
  // the way to get read-only behaviour where access() cannot say so (root passes every check).
  bool read_only = false;
  // How long a call waits for another process's write before giving up with an error.
  int busy_timeout_ms = 10000;
  // Why a stored spec (CacheEntry::spec_json) describes no kernel this build can make; empty when
  // Open only a cache that is already there: what only reads it (`flashjit cache list`) must not
  // create a mistyped path's directories and an empty database. A missing file is the error "no
  // tuning cache at PATH".
  bool must_exist = false;
  // it does. The cache itself requires a JSON object and nothing more (what a spec is belongs to
  // the generator); open_tuning_cache() passes the generator's check, so that verify, export and
  // import hold every entry to it.
  std::function<std::string(const std::string& spec_json)> check_spec;
};

}  // namespace flashjit::cache
