#include "runtime/open_cache.h"

namespace flashjit {

llvm::Expected<std::unique_ptr<cache::TuningCache>> open_tuning_cache(const std::string& path,
                                                                      const cache::OpenOptions& options) {
  if (path.empty()) return cache::TuningCache::open_default(options);
  return cache::TuningCache::open(path, options);
}

}  // namespace flashjit
