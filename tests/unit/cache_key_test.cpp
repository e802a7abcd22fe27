// The cache key: its fields, and that a change in any of them is a new row.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache/cache_key.h"
#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::sample_entry;
using testing::sample_key;

TEST(CacheKey, EncodesNvrtcVersionsLikeTheDriver) {
  EXPECT_EQ(nvrtc_version_number(12, 4), 12040);
  EXPECT_EQ(nvrtc_version_number(13, 0), 13000);
}

TEST(CacheKey, KeyStringNamesEveryField) {
  const CacheKey key = sample_key(0);
  EXPECT_EQ(key_string(key),
            "problem=bf16_d128_causal_gqa1_len4096;device=NVIDIA H100 80GB HBM3;cc=90;sms=132;"
            "driver=12040;nvrtc=12040;generator=1-0123456789abcdef;"
            "options=--std=c++17 -arch=sm_90 -default-device");
}

// One variation per key field; each must land in its own row and be found on its own.
std::vector<CacheKey> keys_differing_in_one_field() {
  const CacheKey base = sample_key(0);
  std::vector<CacheKey> keys(9, base);
  keys[1].device_name = "NVIDIA H200";
  keys[2].compute_capability = 89;
  keys[3].sm_count = 114;
  keys[4].driver_version = 13000;
  keys[5].nvrtc_version = 13000;
  keys[6].generator_hash = "2-0123456789abcdef";
  keys[7].compile_options = "--std=c++17 -arch=sm_90a";
  keys[8].problem_key = "f16_d128_causal_gqa4_len4096";
  return keys;
}

TEST(CacheKey, ADifferenceInAnyFieldIsADistinctRow) {
  testing::ScratchDir dir;
  // The cache's own keying, without FlashJIT's entry check (which refuses sample_entry's sm_90
  // bf16 spec under keys 2 and 8).
  auto cache = TuningCache::open(dir.file("cache.sqlite"));
  ASSERT_TRUE(bool(cache)) << llvm::toString(cache.takeError());
  const std::vector<CacheKey> keys = keys_differing_in_one_field();
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 0; j < i; ++j) ASSERT_NE(keys[i], keys[j]) << i << " vs " << j;
    auto stored = (*cache)->store(sample_entry(keys[i], true, static_cast<int>(i)));
    ASSERT_TRUE(bool(stored)) << llvm::toString(stored.takeError());
    EXPECT_EQ(stored->outcome, StoreOutcome::added) << "key " << i;
  }
  auto rows = (*cache)->list();
  ASSERT_TRUE(bool(rows));
  EXPECT_EQ(rows->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto found = (*cache)->lookup(keys[i]);
    ASSERT_TRUE(bool(found)) << llvm::toString(found.takeError());
    ASSERT_TRUE(found->has_value()) << "key " << i;
    EXPECT_EQ((*found)->cubin, testing::sample_cubin(static_cast<int>(i))) << "key " << i;
  }
}

}  // namespace
}  // namespace flashjit::cache
