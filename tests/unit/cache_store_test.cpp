// Storing and finding entries: every field survives, the merge rule holds between connections,
// and the operations behind `flashjit cache list|show|verify|clear`.
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "cache/codec.h"
#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::open_cache;
using testing::sample_entry;
using testing::sample_key;

template <class T>
std::string error_of(llvm::Expected<T> value) {
  if (value) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(value.takeError());
}

class CacheStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = open_cache(dir_.file("cache.sqlite"));
    ASSERT_TRUE(bool(opened)) << llvm::toString(opened.takeError());
    cache_ = std::move(*opened);
  }

  StoreResult store(const CacheEntry& entry, ReplacePolicy policy = ReplacePolicy::prefer_tuned) {
    auto result = cache_->store(entry, policy);
    if (!result) {
      ADD_FAILURE() << llvm::toString(result.takeError());
      return StoreResult{};
    }
    return *result;
  }

  std::optional<CacheEntry> lookup(const CacheKey& key) {
    auto found = cache_->lookup(key);
    if (!found) {
      ADD_FAILURE() << llvm::toString(found.takeError());
      return std::nullopt;
    }
    return *found;
  }

  testing::ScratchDir dir_;
  std::unique_ptr<TuningCache> cache_;
};

TEST_F(CacheStore, RoundTripsEveryField) {
  CacheEntry entry = sample_entry(sample_key(1), true, 7);
  entry.key.compile_options = "";  // an empty text field stays an empty text, not NULL
  const StoreResult result = store(entry);
  EXPECT_EQ(result.outcome, StoreOutcome::added);
  EXPECT_GT(result.id, 0);
  EXPECT_FALSE(cache_->read_only());

  const std::optional<CacheEntry> found = lookup(entry.key);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, result.id);
  EXPECT_EQ(found->key, entry.key);
  EXPECT_EQ(found->key.compile_options, "");
  EXPECT_EQ(found->spec_json, entry.spec_json);
  EXPECT_EQ(found->kernel_symbol, entry.kernel_symbol);
  EXPECT_EQ(found->cubin, entry.cubin);
  EXPECT_EQ(found->cubin_sha256, sha256_hex(entry.cubin));
  EXPECT_EQ(found->cubin_size, entry.cubin.size());
  EXPECT_EQ(found->median_ms, 1.25);
  EXPECT_EQ(found->p20_ms, 1.125);
  EXPECT_EQ(found->p80_ms, 1.5);
  EXPECT_EQ(found->candidates_tried, 12);
  EXPECT_TRUE(found->tuned);
  EXPECT_EQ(found->created_unix, 1700000000);
}

TEST_F(CacheStore, AnUntunedEntryHasNoTimingsAndGetsTheCurrentTime) {
  CacheEntry entry = sample_entry(sample_key(2), false);
  entry.created_unix = 0;
  entry.median_ms = std::numeric_limits<double>::quiet_NaN();  // NaN is stored as absent
  const int64_t before = static_cast<int64_t>(std::time(nullptr));
  store(entry);
  const std::optional<CacheEntry> found = lookup(entry.key);
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->tuned);
  EXPECT_FALSE(found->median_ms.has_value());
  EXPECT_FALSE(found->p20_ms.has_value());
  EXPECT_FALSE(found->p80_ms.has_value());
  EXPECT_GE(found->created_unix, before);
  EXPECT_LE(found->created_unix, before + 60);
}

TEST_F(CacheStore, AMissIsNotAnError) { EXPECT_FALSE(lookup(sample_key(3)).has_value()); }

TEST_F(CacheStore, RejectsAnEntryWhoseHashDisagreesWithItsCubin) {
  CacheEntry entry = sample_entry(sample_key(4), true);
  entry.cubin_sha256 = sha256_hex("something else");
  EXPECT_NE(error_of(cache_->store(entry)).find("cubin_sha256 does not match its cubin"), std::string::npos);
  EXPECT_FALSE(lookup(entry.key).has_value());
}

TEST_F(CacheStore, TunedBeatsUntunedOtherwiseTheExistingRowWins) {
  const CacheKey key = sample_key(5);
  const StoreResult first = store(sample_entry(key, false, 1));
  ASSERT_EQ(first.outcome, StoreOutcome::added);

  const StoreResult again = store(sample_entry(key, false, 2));
  EXPECT_EQ(again.outcome, StoreOutcome::kept_existing);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(lookup(key)->cubin, testing::sample_cubin(1));

  const StoreResult tuned = store(sample_entry(key, true, 3));
  EXPECT_EQ(tuned.outcome, StoreOutcome::replaced);
  EXPECT_EQ(tuned.id, first.id);  // replaced in place: the short id stays valid
  EXPECT_EQ(lookup(key)->cubin, testing::sample_cubin(3));

  EXPECT_EQ(store(sample_entry(key, false, 4)).outcome, StoreOutcome::kept_existing);
  EXPECT_EQ(store(sample_entry(key, true, 5)).outcome, StoreOutcome::kept_existing);
  EXPECT_EQ(lookup(key)->cubin, testing::sample_cubin(3));

  EXPECT_EQ(store(sample_entry(key, false, 6), ReplacePolicy::always).outcome, StoreOutcome::replaced);
  const std::optional<CacheEntry> now = lookup(key);
  EXPECT_EQ(now->cubin, testing::sample_cubin(6));
  EXPECT_FALSE(now->tuned);
  EXPECT_FALSE(now->median_ms.has_value());
}

// A second connection stands for another process that stored the key first.
TEST_F(CacheStore, ARowAnotherConnectionStoredFirstWins) {
  auto other = open_cache(dir_.file("cache.sqlite"));
  ASSERT_TRUE(bool(other)) << llvm::toString(other.takeError());
  const CacheKey key = sample_key(6);
  auto theirs = (*other)->store(sample_entry(key, false, 1));
  ASSERT_TRUE(bool(theirs));
  EXPECT_EQ(store(sample_entry(key, false, 2)).outcome, StoreOutcome::kept_existing);
  EXPECT_EQ(store(sample_entry(key, true, 3)).outcome, StoreOutcome::replaced);
  auto seen_there = (*other)->lookup(key);
  ASSERT_TRUE(bool(seen_there));
  ASSERT_TRUE(seen_there->has_value());
  EXPECT_EQ((*seen_there)->cubin, testing::sample_cubin(3));
}

TEST_F(CacheStore, StoreAllReportsEachEntry) {
  auto results = cache_->store_all({sample_entry(sample_key(7), false), sample_entry(sample_key(8), true),
                                    sample_entry(sample_key(7), true)});
  ASSERT_TRUE(bool(results)) << llvm::toString(results.takeError());
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].outcome, StoreOutcome::added);
  EXPECT_EQ((*results)[1].outcome, StoreOutcome::added);
  EXPECT_EQ((*results)[2].outcome, StoreOutcome::replaced);
  EXPECT_STREQ(store_outcome_name(StoreOutcome::kept_existing), "kept existing");
}

TEST_F(CacheStore, ListsEntriesWithoutTheirCubins) {
  store(sample_entry(sample_key(1), true, 1));
  store(sample_entry(sample_key(2), false, 2));
  auto rows = cache_->list();
  ASSERT_TRUE(bool(rows)) << llvm::toString(rows.takeError());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].key, sample_key(1));
  EXPECT_TRUE((*rows)[0].cubin.empty());
  EXPECT_EQ((*rows)[0].cubin_size, testing::sample_cubin(1).size());
  EXPECT_EQ((*rows)[0].cubin_sha256, sha256_hex(testing::sample_cubin(1)));
  EXPECT_LT((*rows)[0].id, (*rows)[1].id);
  EXPECT_FALSE((*rows)[1].tuned);
}

TEST_F(CacheStore, FindsByIdKeyStringOrUniqueProblemKey) {
  const StoreResult first = store(sample_entry(sample_key(1), true, 1));
  CacheKey other_device = sample_key(1);
  other_device.device_name = "NVIDIA A100-SXM4-80GB";
  const StoreResult second = store(sample_entry(other_device, true, 2));
  store(sample_entry(sample_key(2), true, 3));

  auto by_id = cache_->find(std::to_string(second.id));
  ASSERT_TRUE(bool(by_id)) << llvm::toString(by_id.takeError());
  EXPECT_EQ(by_id->key, other_device);
  EXPECT_EQ(by_id->cubin, testing::sample_cubin(2));

  auto by_key = cache_->find(key_string(sample_key(1)));
  ASSERT_TRUE(bool(by_key)) << llvm::toString(by_key.takeError());
  EXPECT_EQ(by_key->id, first.id);

  auto by_problem = cache_->find(sample_key(2).problem_key);
  ASSERT_TRUE(bool(by_problem)) << llvm::toString(by_problem.takeError());
  EXPECT_EQ(by_problem->cubin, testing::sample_cubin(3));

  const std::string ambiguous = error_of(cache_->find(sample_key(1).problem_key));
  EXPECT_NE(ambiguous.find("matches 2 cache entries (ids " + std::to_string(first.id) + ", " +
                           std::to_string(second.id) + "); name one by its id"),
            std::string::npos)
      << ambiguous;
  EXPECT_NE(error_of(cache_->find("999")).find("no cache entry has id 999"), std::string::npos);
  EXPECT_NE(error_of(cache_->find("f32_d64")).find("no cache entry matches 'f32_d64'"), std::string::npos);
}

TEST_F(CacheStore, VerifyFindsNothingWrongInAHealthyCache) {
  store(sample_entry(sample_key(1), true, 1));
  store(sample_entry(sample_key(2), false, 2));
  auto report = cache_->verify();
  ASSERT_TRUE(bool(report)) << llvm::toString(report.takeError());
  EXPECT_EQ(report->checked, 2u);
  EXPECT_TRUE(report->ok());
}

// What a spec is belongs to the generator: a cache opened without FlashJIT's check
// (OpenOptions::check_entry) asks only for a JSON object, and verify says so for anything else.
TEST(CacheSpecCheck, WithoutTheGeneratorsCheckASpecNeedsOnlyBeAJsonObject) {
  testing::ScratchDir dir;
  auto cache = TuningCache::open(dir.file("bare.sqlite"));
  ASSERT_TRUE(bool(cache)) << llvm::toString(cache.takeError());
  CacheEntry partial = sample_entry(sample_key(1), true, 1);
  partial.spec_json = R"({"variant": "generic"})";
  CacheEntry list = sample_entry(sample_key(2), true, 2);
  list.spec_json = "[1, 2]";
  ASSERT_TRUE(bool((*cache)->store(partial)));
  auto stored = (*cache)->store(list);
  ASSERT_TRUE(bool(stored)) << llvm::toString(stored.takeError());
  auto report = (*cache)->verify();
  ASSERT_TRUE(bool(report)) << llvm::toString(report.takeError());
  ASSERT_EQ(report->bad.size(), 1u);
  EXPECT_EQ(report->bad[0].id, stored->id);
  EXPECT_EQ(report->bad[0].reason, "spec_json is not a JSON object");
}

TEST_F(CacheStore, VerifyReportsBadRowsWithoutChangingThem) {
  const StoreResult good = store(sample_entry(sample_key(1), true, 1));
  CacheEntry bad_spec = sample_entry(sample_key(2), true, 2);
  bad_spec.spec_json = R"({"variant": "generic"})";
  const StoreResult bad = store(bad_spec);
  const StoreResult tampered = store(sample_entry(sample_key(3), true, 3));
  testing::execute_sql(dir_.file("cache.sqlite"), "UPDATE cubins SET bytes = zeroblob(10) WHERE entry_id = " +
                                                       std::to_string(tampered.id));
  auto report = cache_->verify();
  ASSERT_TRUE(bool(report)) << llvm::toString(report.takeError());
  EXPECT_EQ(report->checked, 3u);
  EXPECT_TRUE(report->integrity_problems.empty());
  ASSERT_EQ(report->bad.size(), 2u);
  EXPECT_EQ(report->bad[0].id, bad.id);
  EXPECT_NE(report->bad[0].reason.find("spec field 'target': missing"), std::string::npos)
      << report->bad[0].reason;
  EXPECT_EQ(report->bad[1].id, tampered.id);
  EXPECT_NE(report->bad[1].reason.find("cubin does not match its sha256"), std::string::npos);
  EXPECT_NE(report->bad[1].reason.find("cubin is 10 bytes"), std::string::npos);
  EXPECT_EQ(report->bad[1].key, key_string(sample_key(3)));
  EXPECT_FALSE(report->ok());
  auto rows = cache_->list();
  ASSERT_TRUE(bool(rows));
  EXPECT_EQ(rows->size(), 3u);
  (void)good;
}

TEST_F(CacheStore, RemovesOneEntryOrClearsAll) {
  const StoreResult first = store(sample_entry(sample_key(1), true, 1));
  store(sample_entry(sample_key(2), true, 2));
  store(sample_entry(sample_key(3), true, 3));
  auto removed = cache_->remove(first.id);
  ASSERT_TRUE(bool(removed));
  EXPECT_TRUE(*removed);
  auto removed_again = cache_->remove(first.id);
  ASSERT_TRUE(bool(removed_again));
  EXPECT_FALSE(*removed_again);
  EXPECT_FALSE(lookup(sample_key(1)).has_value());
  // The cubin went with its row (the foreign key cascades).
  EXPECT_EQ(testing::query_int(dir_.file("cache.sqlite"), "SELECT count(*) FROM cubins"), 2);

  auto cleared = cache_->clear();
  ASSERT_TRUE(bool(cleared)) << llvm::toString(cleared.takeError());
  EXPECT_EQ(*cleared, 2u);
  auto rows = cache_->list();
  ASSERT_TRUE(bool(rows));
  EXPECT_TRUE(rows->empty());
  EXPECT_EQ(testing::query_int(dir_.file("cache.sqlite"), "SELECT count(*) FROM cubins"), 0);
  EXPECT_EQ(store(sample_entry(sample_key(1), true, 1)).outcome, StoreOutcome::added);
}

}  // namespace
}  // namespace flashjit::cache
