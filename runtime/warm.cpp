#include "runtime/warm.h"

#include <chrono>
#include <map>

#include "support/error.h"

namespace flashjit {
namespace {

const char* built_as(KernelOrigin origin) {
  switch (origin) {
    case KernelOrigin::tuned: return "tuned";
    case KernelOrigin::heuristic: return "compiled (untuned)";
    default: return kernel_origin_name(origin);
  }
}

}  // namespace

std::string WarmOutcome::what_happened() const {
  std::string text = stored_locally();
  if (published) {
    switch (*published) {
      case cache::StoreOutcome::added:
      case cache::StoreOutcome::replaced: text += "; published"; break;
      case cache::StoreOutcome::kept_existing: text += "; the remote cache kept its entry"; break;
      case cache::StoreOutcome::read_only: break;
    }
  } else if (!publish_error.empty()) {
    text += "; not published: " + publish_error;
  }
  return text;
}

std::string WarmOutcome::stored_locally() const {
  if (duplicate_of) return "duplicate of entry " + std::to_string(*duplicate_of + 1);
  if (origin == KernelOrigin::cache) return "already in the cache";
  if (origin == KernelOrigin::remote) {
    if (!store_error.empty()) return "fetched from the remote cache; not stored: " + store_error;
    return stored ? "fetched from the remote cache and stored" : "fetched from the remote cache";
  }
  if (!store_error.empty()) return std::string(built_as(origin)) + "; not stored: " + store_error;
  if (!stored) return std::string(built_as(origin)) + "; not stored: there is no tuning cache";
  const bool tuned = origin == KernelOrigin::tuned;
  switch (*stored) {
    case cache::StoreOutcome::added: return tuned ? "tuned and stored" : "stored (untuned)";
    case cache::StoreOutcome::replaced: return tuned ? "tuned and stored (replaced the untuned entry)" : "replaced (untuned)";
    case cache::StoreOutcome::kept_existing: return std::string(built_as(origin)) + "; kept the existing entry";
    case cache::StoreOutcome::read_only: return std::string(built_as(origin)) + "; not stored: the cache is read-only";
  }
  return built_as(origin);
}

std::vector<WarmOutcome> warm(const KernelBuilder& builder, const std::vector<Problem>& problems,
                              const WarmCallbacks& callbacks) {
  std::vector<WarmOutcome> outcomes;
  std::map<std::string, size_t> first_with_key;
  for (size_t i = 0; i < problems.size(); ++i) {
    const Problem& problem = problems[i];
    if (callbacks.starting) callbacks.starting(i, problems.size(), problem);
    const auto start = std::chrono::steady_clock::now();
    WarmOutcome outcome;
    outcome.problem_key = builder.key_of(problem).str();
    if (auto earlier = first_with_key.find(outcome.problem_key); earlier != first_with_key.end()) {
      const WarmOutcome& first = outcomes[earlier->second];
      outcome.duplicate_of = earlier->second;
      outcome.status = first.status;
      outcome.kernel_key = first.kernel_key;
      outcome.origin = first.origin;
      if (callbacks.finished) callbacks.finished(outcome);
      outcomes.push_back(std::move(outcome));
      continue;
    }
    first_with_key.emplace(outcome.problem_key, i);
    auto built = builder.obtain(problem);
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (built) {
      outcome.kernel_key = gen::canonical_key(built->spec);
      outcome.origin = built->origin;
      outcome.stored = built->stored;
      outcome.store_error = built->store_error;
      outcome.published = built->published;
      outcome.publish_error = built->publish_error;
    } else {
      outcome.status = to_status(built.takeError());
    }
    if (callbacks.finished) callbacks.finished(outcome);
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

}  // namespace flashjit
