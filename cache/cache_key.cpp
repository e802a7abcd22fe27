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

int64_t sequence_length_bucket(int64_t seqlen) {
  constexpr int64_t kSmallest = 128;
  // Beyond 2^62 the next power of two does not fit; no attention is that long.
  constexpr int64_t kLargest = int64_t{1} << 62;
  if (seqlen >= kLargest) return kLargest;
  int64_t bucket = kSmallest;
  while (bucket < seqlen) bucket *= 2;
  return bucket;
}

std::string make_problem_key(DType dtype, int head_dim, MaskKind mask, int gqa_ratio,
                             int64_t seqlen_bucket) {
  return std::string(dtype_name(dtype)) + "_d" + std::to_string(head_dim) + "_" + mask_name(mask) +
         "_gqa" + std::to_string(gqa_ratio) + "_len" + std::to_string(seqlen_bucket);
}

std::string key_string(const CacheKey& key) {
  return "problem=" + key.problem_key + ";device=" + key.device_name +
         ";cc=" + std::to_string(key.compute_capability) + ";sms=" + std::to_string(key.sm_count) +
         ";driver=" + std::to_string(key.driver_version) +
         ";nvrtc=" + std::to_string(key.nvrtc_version) + ";generator=" + key.generator_hash +
         ";options=" + key.compile_options;
}

}  // namespace flashjit::cache
