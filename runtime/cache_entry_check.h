// The check a stored kernel passes before it may run: a tuning cache entry is untrusted bytes
// (a file several processes share, that operators copy between machines and a crash can damage),
// and a cubin launched for a problem it was not built for writes out of bounds. So an entry runs
// only when its key is well-formed, its spec is a kernel for exactly the key's problem on the
// key's architecture that the variant's rules allow, and its cubin is a CUDA ELF for that
// architecture holding the kernel it names. open_tuning_cache() installs it as the cache's
// OpenOptions::check_entry, so lookup, verify, export and import all hold every entry to it.
#pragma once

#include <string>
#include <vector>

#include "cache/cache_entry.h"

namespace flashjit {

// Every reason `entry` (read with its cubin) must not run; empty when there is none. First the
// rules every row meets (cache::entry_field_problems); only for a row that meets them, what it
// means: the key parses, the spec is exactly as spec_to_json writes it and a kernel for the key's
// problem on the key's architecture, the cubin a CUDA ELF for that architecture naming the kernel.
std::vector<std::string> cache_entry_problems(const cache::CacheEntry& entry);

}  // namespace flashjit
