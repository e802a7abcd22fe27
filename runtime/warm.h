// Pre-warming the tuning cache for the problems of a deployment (`flashjit warm`): each problem
// built through the kernel builder, so a problem the cache already holds is reported as such and
// neither tuned nor compiled again, on a GPU (tuned, stored) and cross-compiling for an
// architecture without one (compiled, stored untuned) alike.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "flashjit/status.h"
#include "problem/problem.h"
#include "runtime/kernel_builder.h"

namespace flashjit {

// One problem warmed. It failed when it could not be built (status) or its kernel could not be
// stored (store_error): a warm exists to fill the cache.
struct WarmOutcome {
  std::string problem_key;
  Status status;           // why this problem could not be built; ok when it was
  std::string kernel_key;  // the kernel that serves it
  KernelOrigin origin = KernelOrigin::heuristic;  // cache: it was there already
  std::optional<cache::StoreOutcome> stored;     // what storing it did, when it was built now
  std::string store_error;                       // why storing it failed (the warm failed then)
  // What publishing it to the fleet's remote cache did (empty: not published; publish_error says
  // why when it was tried). A failed publish does not fail the warm: the local cache has it.
  std::optional<cache::StoreOutcome> published;
  std::string publish_error;
  // The index of an earlier problem of the list with the same key: nothing was built for this one,
  // and it shares that problem's kernel, status and origin.
  std::optional<size_t> duplicate_of;
  double seconds = 0.0;

  bool ok() const { return status.ok() && store_error.empty(); }
  // "already in the cache", "duplicate of entry 1" (counted from 1), "tuned and stored", "stored
  // (untuned)", "tuned; not stored: the cache is read-only", "tuned; not stored: <why>", "fetched
  // from the remote cache and stored", ...; with a remote tier, what publishing did after a "; ":
  // "published", "the remote cache kept its entry", "not published: <why>".
  std::string what_happened() const;
  // The local part of what_happened.
  std::string stored_locally() const;
};

struct WarmCallbacks {
  std::function<void(size_t index, size_t total, const Problem& problem)> starting;
  std::function<void(const WarmOutcome& outcome)> finished;
};

// Every problem, in order; one failing does not stop the others. A problem whose key an earlier
// one has (listed twice, or two lengths of one bucket) is built once: the later ones are
// reported as its duplicates.
std::vector<WarmOutcome> warm(const KernelBuilder& builder, const std::vector<Problem>& problems,
                              const WarmCallbacks& callbacks = {});

}  // namespace flashjit
