#include "cache/cache_key.h"

#include <tuple>

namespace flashjit::cache {

bool CacheKey::operator==(const CacheKey& other) const {
  auto fields = [](const CacheKey& k) {
    return std::tie(k.device_name, k.compute_capability, k.sm_count, k.driver_version, k.nvrtc_version,
                    k.generator_hash, k.compile_options, k.problem_key);
  };
  return fields(*this) == fields(other);
}

int nvrtc_version_number(int major, int minor) { return major * 1000 + minor * 10; }

std::string key_string(const CacheKey& key) {
  return "problem=" + key.problem_key + ";device=" + key.device_name +
         ";cc=" + std::to_string(key.compute_capability) + ";sms=" + std::to_string(key.sm_count) +
         ";driver=" + std::to_string(key.driver_version) +
         ";nvrtc=" + std::to_string(key.nvrtc_version) + ";generator=" + key.generator_hash +
         ";options=" + key.compile_options;
}

}  // namespace flashjit::cache
