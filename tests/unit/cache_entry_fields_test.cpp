// What every stored row must be to be read and to travel (cache/entry_fields.h), and what the cache
// does with a row that is not: found by the fuzz replay (tests/fuzz/README.md, "Findings"), where
// lookup returned rows that export could not write (one overflowed the JSON writer's stack).
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <llvm/ADT/StringExtras.h>

#include "cache/cache_json.h"
#include "cache/codec.h"
#include "cache/entry_fields.h"
#include "unit/cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::sample_entry;
using testing::sample_key;

std::string field_problems(const std::function<void(CacheEntry&)>& change) {
  CacheEntry entry = sample_entry(sample_key(1), true, 1);
  change(entry);
  return llvm::join(entry_field_problems(entry), "; ");
}

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(CacheEntryFields, TheSampleEntryBreaksNoRule) {
  EXPECT_EQ(field_problems([](CacheEntry&) {}), "");
}

TEST(CacheEntryFields, EachRuleNamesItsField) {
  struct Case {
    const char* name;
    std::function<void(CacheEntry&)> change;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"empty generator hash", [](CacheEntry& e) { e.key.generator_hash.clear(); }, "generator_hash is empty"},
      {"empty problem key", [](CacheEntry& e) { e.key.problem_key.clear(); }, "problem_key is empty"},
      {"device name", [](CacheEntry& e) { e.key.device_name = "H100\x01"; },
       "device_name 'H100\\x01' holds bytes that are not printable"},
      {"long device name", [](CacheEntry& e) { e.key.device_name = std::string(300, 'H'); },
       "device_name is 300 bytes, more than 256"},
      {"compute capability", [](CacheEntry& e) { e.key.compute_capability = -90; },
       "compute_capability -90 is outside 10..999"},
      {"sm count", [](CacheEntry& e) { e.key.sm_count = -1; }, "sm_count -1 is outside 0..65536"},
      {"symbol not UTF-8", [](CacheEntry& e) { e.kernel_symbol = "\xff\xfe_Z3foo"; },
       "kernel_symbol '\\xff\\xfe_Z3foo' holds bytes that are not printable"},
      {"empty symbol", [](CacheEntry& e) { e.kernel_symbol.clear(); }, "kernel_symbol is empty"},
      {"empty cubin", [](CacheEntry& e) { e.cubin.clear(); }, "cubin is empty"},
      {"negative median", [](CacheEntry& e) { e.median_ms = -1.0; },
       "median_ms is -1.000000, not a non-negative number of milliseconds"},
      {"infinite p80", [](CacheEntry& e) { e.p80_ms = std::numeric_limits<double>::infinity(); },
       "p80_ms is inf, not a non-negative number of milliseconds"},
      {"negative candidates", [](CacheEntry& e) { e.candidates_tried = -3; },
       "candidates_tried -3 is outside 0..2147483647"},
      {"negative creation time", [](CacheEntry& e) { e.created_unix = -1; },
       "created_unix -1 is outside 0..9223372036854775807"},
      {"spec not JSON", [](CacheEntry& e) { e.spec_json = "{\"variant\":"; }, "spec_json: not valid JSON"},
      {"spec an array", [](CacheEntry& e) { e.spec_json = "[1,2]"; }, "spec_json is not a JSON object"},
      {"spec nested deep", [](CacheEntry& e) { e.spec_json = "{\"x\":" + nested_arrays(70) + "}"; },
       "spec_json: JSON nesting deeper than 8 levels"},
  };
  for (const Case& c : cases) EXPECT_EQ(field_problems(c.change), c.expected) << c.name;
}

TEST(CacheEntryFields, NaNIsNoTimingAndSeveralProblemsAreAllNamed) {
  EXPECT_EQ(field_problems([](CacheEntry& e) { e.median_ms = std::nan(""); }), "");
  EXPECT_EQ(field_problems([](CacheEntry& e) {
              e.key.generator_hash.clear();
              e.cubin.clear();
            }),
            "generator_hash is empty; cubin is empty");
}

TEST(CacheEntryFields, TheDigestIsCheckedAgainstTheCubin) {
  CacheEntry entry = sample_entry(sample_key(1), true, 1);
  entry.cubin_sha256 = sha256_hex(entry.cubin);
  entry.cubin_size = entry.cubin.size();
  EXPECT_EQ(llvm::join(cubin_digest_problems(entry), "; "), "");
  entry.cubin[7] ^= 1;
  EXPECT_EQ(llvm::join(cubin_digest_problems(entry), "; "), "cubin does not match its sha256");
  entry.cubin.pop_back();
  EXPECT_EQ(llvm::join(cubin_digest_problems(entry), "; "),
            "cubin is 2999 bytes, the row says 3000; cubin does not match its sha256");
}

// The rows the replay found, stored by a cache that checks nothing at store (as a hostile or
// damaged file holds them): a cache with no entry check of its own still misses them on lookup,
// and export leaves them out, naming why, instead of throwing or overflowing its stack.
TEST(CacheEntryFields, ACacheWithoutAnEntryCheckNeitherReturnsNorExportsABadRow) {
  testing::ScratchDir dir;
  auto cache = TuningCache::open(dir.file("cache.sqlite"));
  ASSERT_TRUE(static_cast<bool>(cache)) << llvm::toString(cache.takeError());
  const std::vector<std::function<void(CacheEntry&)>> changes = {
      [](CacheEntry& e) { e.kernel_symbol = "\xff\xfe" + e.kernel_symbol; },
      [](CacheEntry& e) { e.spec_json.insert(e.spec_json.size() - 1, ",\"x\":" + nested_arrays(60000)); },
      [](CacheEntry& e) { e.median_ms = -1.0; },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    CacheEntry entry = sample_entry(sample_key(static_cast<int>(i) + 1), true, 1);
    changes[i](entry);
    ASSERT_TRUE(static_cast<bool>((*cache)->store(entry, ReplacePolicy::always)));
  }
  ExportSummary summary;
  auto document = export_to_json(**cache, &summary);
  ASSERT_TRUE(static_cast<bool>(document)) << llvm::toString(document.takeError());
  EXPECT_EQ(summary.exported, 0u);
  ASSERT_EQ(summary.left_out.size(), 3u);
  EXPECT_NE(summary.left_out[0].find("kernel_symbol '\\xff\\xfe_Z20"), std::string::npos) << summary.left_out[0];
  EXPECT_NE(summary.left_out[1].find("spec_json: JSON nesting deeper than 8 levels"), std::string::npos)
      << summary.left_out[1];
  EXPECT_NE(summary.left_out[2].find("median_ms is -1.000000"), std::string::npos) << summary.left_out[2];
  for (int i = 1; i <= 3; ++i) {
    auto found = (*cache)->lookup(sample_key(i));
    ASSERT_TRUE(static_cast<bool>(found)) << llvm::toString(found.takeError());
    EXPECT_FALSE(found->has_value()) << i;
  }
}

}  // namespace
}  // namespace flashjit::cache
