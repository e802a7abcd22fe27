// Whether a stored entry can be trusted as a whole: what `flashjit cache verify` reports and what
// export leaves out.
#pragma once

#include <string>

#include "cache/cache_entry.h"

namespace flashjit::cache {

// Everything wrong with `entry` (read with its cubin), joined by "; "; empty when nothing is.
std::string entry_problems(const CacheEntry& entry);

}  // namespace flashjit::cache
