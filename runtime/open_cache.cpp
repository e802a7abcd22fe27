#include "runtime/open_cache.h"

#include <llvm/ADT/StringExtras.h>

#include "runtime/cache_entry_check.h"

namespace flashjit {

llvm::Expected<std::unique_ptr<cache::TuningCache>> open_tuning_cache(const std::string& path,
                                                                      const cache::OpenOptions& options) {
  cache::OpenOptions checked = options;
  if (!checked.check_entry) checked.check_entry = cache_entry_problems;
  if (path.empty()) return cache::TuningCache::open_default(checked);
  return cache::TuningCache::open(path, checked);
}

llvm::Expected<std::unique_ptr<cache::RemoteCache>> open_remote_cache(const RemoteCacheOptions& options) {
  if (options.url.empty()) return nullptr;
  auto settings = cache::resolve_remote_settings(options);
  if (!settings) return settings.takeError();
  auto problems_of = [](const cache::CacheEntry& entry) { return llvm::join(cache_entry_problems(entry), "; "); };
  return std::make_unique<cache::RemoteCache>(std::move(*settings), problems_of);
}

}  // namespace flashjit
