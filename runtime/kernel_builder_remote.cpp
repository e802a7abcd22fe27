// The kernel builder's side of the fleet's remote tuning cache: a remote entry found, checked and
// adopted; a winner published; and tuning once across the fleet (single flight). Nothing here
// fails a build: whatever the remote tier does, the builder goes on with the local cache and the
// tuner.
#include <algorithm>
#include <chrono>
#include <thread>

#include <llvm/Support/FormatVariadic.h>

#include "generator/spec_json.h"
#include "runtime/cache_entries.h"
#include "runtime/kernel_builder.h"
#include "support/log.h"

namespace flashjit {

void KernelBuilder::RemoteLookups::refuse(const cache::CacheKey& key, Refusal why) {
  refused.emplace_back(cache::RemoteCache::entry_key(key), why);
}

bool KernelBuilder::RemoteLookups::refused_key(const cache::CacheKey& key) const {
  const std::string stored = cache::RemoteCache::entry_key(key);
  return std::any_of(refused.begin(), refused.end(), [&](const auto& r) { return r.first == stored; });
}

bool KernelBuilder::RemoteLookups::replaces(const cache::CacheKey& key, bool tuned) const {
  const std::string stored = cache::RemoteCache::entry_key(key);
  return std::any_of(refused.begin(), refused.end(), [&](const auto& r) {
    return r.first == stored && (r.second == Refusal::garbage || (r.second == Refusal::wrong_here && tuned));
  });
}

std::optional<BuiltKernel> KernelBuilder::from_remote(const Problem& problem, bool tuning,
                                                      RemoteLookups& lookups) const {
  const gen::DeviceDescription& device = device_->description();
  std::vector<cache::CacheKey> keys = {cache_key_for(device, device_->compiler(), problem)};
  // An untuned entry cannot serve while tuning, and the architecture's entries are all untuned.
  if (!device.nominal && !tuning)
    keys.push_back(cache_key_for(gen::DeviceDescription::for_arch(device.compute_capability()), device_->compiler(),
                                 problem));
  for (const cache::CacheKey& key : keys) {
    if (lookups.refused_key(key)) continue;  // found wanting once in this build: not fetched again
    cache::RemoteFetch fetched = remote_->fetch(key);
    if (fetched.status == cache::RemoteStatus::unavailable) return std::nullopt;  // the breaker warned
    if (fetched.status == cache::RemoteStatus::rejected) {
      lookups.refuse(key, RemoteLookups::Refusal::garbage);
      continue;
    }
    if (fetched.status != cache::RemoteStatus::hit) continue;
    if (tuning && !fetched.entry->tuned) continue;  // tuned here, then published over it
    if (std::optional<BuiltKernel> adopted = adopt_remote(*fetched.entry, problem, tuning, lookups)) return adopted;
  }
  return std::nullopt;
}

std::optional<BuiltKernel> KernelBuilder::adopt_remote(const cache::CacheEntry& entry, const Problem& problem,
                                                       bool tuning, RemoteLookups& lookups) const {
  auto refuse = [&](const std::string& why, RemoteLookups::Refusal kind) -> std::optional<BuiltKernel> {
    remote_->note_rejected(entry.key, why);
    lookups.refuse(entry.key, kind);
    return std::nullopt;
  };
  auto spec = spec_of(entry, problem);
  if (!spec) return refuse(llvm::toString(spec.takeError()), RemoteLookups::Refusal::garbage);
  // Signed by the fleet is not the same as right on this GPU: while tuning, a remote kernel passes
  // the tuner's own correctness check before it first runs here (and, stored locally, is trusted
  // from then on as a kernel tuned here would be).
  if (tuning) {
    std::unique_ptr<tuner::TuningBackend> backend = device_->tuning_backend(problem);
    if (backend) {
      tuner::CompiledCandidate kernel;
      kernel.spec = *spec;
      kernel.key = gen::canonical_key(*spec);
      kernel.symbol = entry.kernel_symbol;
      kernel.cubin = entry.cubin;
      const tuner::CorrectnessCheck checked = tuner::check_correctness(kernel, *backend);
      if (checked.result != tuner::CorrectnessCheck::correct)
        return refuse("it failed the correctness check on this GPU: " + checked.detail,
                      checked.result == tuner::CorrectnessCheck::wrong_output ? RemoteLookups::Refusal::wrong_here
                                                                              : RemoteLookups::Refusal::unusable_here);
    }
  }
  auto ready = loaded(BuiltKernel{*spec, KernelOrigin::remote, nullptr, std::nullopt, {}}, entry.cubin,
                      entry.kernel_symbol);
  if (!ready) return refuse(llvm::toString(ready.takeError()), RemoteLookups::Refusal::unusable_here);
  if (cache_) {
    auto stored = cache_->store(entry);
    if (stored) {
      ready->stored = stored->outcome;
    } else {
      ready->store_error = llvm::toString(stored.takeError());
      log::warning("could not store " + entry.key.problem_key + " from the remote cache locally: " + ready->store_error);
    }
  }
  log::info("kernel for " + key_of(problem).str() + " fetched from the remote tuning cache");
  return std::move(*ready);
}

llvm::Expected<BuiltKernel> KernelBuilder::tuned_once(const Problem& problem, RemoteLookups& lookups) const {
  const int wait_ms = remote_ ? remote_->settings().single_flight_wait_ms : 0;
  // The lock is worth taking only where the others can read the result.
  if (!remote_ || wait_ms <= 0 || !remote_->settings().reads_allowed()) return tuned(problem, lookups);
  const cache::CacheKey key = cache_key_for(device_->description(), device_->compiler(), problem);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  auto poll = std::chrono::milliseconds(10);
  while (true) {
    std::string token;
    const cache::RemoteCache::LockResult lock = remote_->lock(key, token);
    if (lock == cache::RemoteCache::LockResult::unavailable) return tuned(problem, lookups);
    if (lock == cache::RemoteCache::LockResult::acquired) {
      // Whoever held the lock before may have published between our lookup and our lock.
      std::optional<BuiltKernel> published = from_remote(problem, /*tuning=*/true, lookups);
      if (published) {
        remote_->unlock(key, token);
        return std::move(*published);
      }
      auto result = tuned(problem, lookups);
      remote_->unlock(key, token);
      return result;
    }
    // Another process is tuning this problem: its result is a poll away.
    if (std::chrono::steady_clock::now() >= deadline) {
      log::info(llvm::formatv("another process has been tuning {0} for over {1} ms; tuning it here", key_of(problem).str(),
                              wait_ms)
                    .str());
      return tuned(problem, lookups);
    }
    std::this_thread::sleep_for(poll);
    poll = std::min(poll * 2, std::chrono::milliseconds(200));
    const size_t refused_before = lookups.refused.size();
    if (std::optional<BuiltKernel> published = from_remote(problem, /*tuning=*/true, lookups))
      return std::move(*published);
    // What it published does not serve here, or the server went away: waiting longer gains nothing.
    if (lookups.refused.size() != refused_before || remote_->backing_off()) return tuned(problem, lookups);
  }
}

void KernelBuilder::publish(const cache::CacheEntry& entry, BuiltKernel& built, bool replace) const {
  if (!remote_) return;
  auto outcome = remote_->publish(entry, replace ? cache::ReplacePolicy::always : cache::ReplacePolicy::prefer_tuned);
  if (!outcome) {
    // The breaker (or the full server) has already said so once; per problem it is detail.
    built.publish_error = llvm::toString(outcome.takeError());
    log::info("not published to the remote tuning cache: " + built.publish_error);
    return;
  }
  built.published = *outcome;
}

}  // namespace flashjit
