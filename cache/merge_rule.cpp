#include "cache/merge_rule.h"

namespace flashjit::cache {

const char* store_outcome_name(StoreOutcome outcome) {
  switch (outcome) {
    case StoreOutcome::added: return "added";
    case StoreOutcome::replaced: return "replaced";
    case StoreOutcome::kept_existing: return "kept existing";
    case StoreOutcome::read_only: return "read-only";
  }
  return "unknown";
}

bool should_replace(bool existing_tuned, bool incoming_tuned, ReplacePolicy policy) {
  if (policy == ReplacePolicy::always) return true;
  return incoming_tuned && !existing_tuned;
}

}  // namespace flashjit::cache
