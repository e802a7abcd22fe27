#include "runtime/open_cache.h"

#include "runtime/cache_entry_check.h"

namespace flashjit {

llvm::Expected<std::unique_ptr<cache::TuningCache>> open_tuning_cache(const std::string& path,
                                                                      const cache::OpenOptions& options) {
  cache::OpenOptions checked = options;
  if (!checked.check_entry) checked.check_entry = cache_entry_problems;
  if (path.empty()) return cache::TuningCache::open_default(checked);
  return cache::TuningCache::open(path, checked);
}

}  // namespace flashjit
