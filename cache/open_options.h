// How a tuning cache is opened: read-only or not, how long to wait for another process, and the rule
// a stored kernel spec must satisfy.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace flashjit::cache {

struct CacheEntry;

struct OpenOptions {
  // Never write, even when the file is writable: a deployment that must not change its cache, and
  // the way to get read-only behaviour where access() cannot say so (root passes every check).
  bool read_only = false;
  // Open only a cache that is already there: what only reads it (`flashjit cache list`) must not
  // create a mistyped path's directories and an empty database. A missing file is the error "no
  // tuning cache at PATH".
  bool must_exist = false;
  // Open to look at what is there, damage included (`flashjit cache verify`, `export`): read-only,
  // and a damaged file or one of an unknown schema is neither set aside nor refused. What is wrong
  // with it is in TuningCache::damage() and in verify()'s report; reads return what is intact.
  bool inspect = false;
  // How long a call waits for another process's write before giving up with an error.
  int busy_timeout_ms = 10000;
  // Every reason a stored entry must not run (its key, its spec against its key, its cubin); empty
  // when there is none. Asked only about rows that meet cache::entry_field_problems (what every row
  // must be to be read and to travel); what a spec is, and which kernel serves which problem,
  // belongs to the layers above; open_tuning_cache()
  // passes runtime/cache_entry_check's, so that lookup, verify, export and import hold every
  // entry to it.
  std::function<std::vector<std::string>(const CacheEntry& entry)> check_entry;
};

}  // namespace flashjit::cache
