// What happens when a row for the same key already exists: the one rule shared by store() (another
// process may have stored the key meanwhile) and by import (merging a fleet's results).
#pragma once

namespace flashjit::cache {

enum class ReplacePolicy {
  // A tuned entry replaces an untuned one; otherwise the existing row wins. The default: the first
  // tuned result is as good as a later one, and keeping it keeps every process on the same kernel.
  prefer_tuned,
  // The new entry always replaces the existing row (a deliberate re-tune).
  always,
};

enum class StoreOutcome {
  added,          // no row had this key
  replaced,       // a row had this key and the new entry replaced it
  kept_existing,  // a row had this key and was kept (it is the one lookup() returns)
  read_only,      // nothing written: the cache is open read-only
};

// "added", "replaced", "kept existing", "read-only"
const char* store_outcome_name(StoreOutcome outcome);

bool should_replace(bool existing_tuned, bool incoming_tuned, ReplacePolicy policy);

}  // namespace flashjit::cache
