// Damage beyond the entries table (issue 12): a broken page under one cubin, a dropped table. A
// normal open notices either and sets the file aside; an open to inspect it (`cache verify`,
// `cache export`) keeps it in place, reports the damage, and exports every row that is intact.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>
#include <nlohmann/json.hpp>

#include "cache/cache_json.h"
#include "unit/cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::sample_cubin;
using testing::sample_entry;
using testing::sample_key;

constexpr int kEntries = 3;
constexpr size_t kCubinBytes = 5 * 4096;  // each cubin spans several overflow pages

// Entry n's cubin: a valid sm_90 cubin followed by bytes that never repeat (a probe of 64 of them
// is found in the file once).
std::string distinct_cubin(int n) {
  std::string bytes = sample_cubin(n, 0);
  uint64_t state = 0x9e3779b97f4a7c15ull * uint64_t(n + 1);
  while (bytes.size() < kCubinBytes) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    bytes.push_back(static_cast<char>(state >> 56));
  }
  return bytes;
}

// A cache of kEntries rows, checkpointed into the main file (no -wal left).
void fill(const std::string& path) {
  auto cache = testing::open_cache(path);
  ASSERT_TRUE(bool(cache)) << llvm::toString(cache.takeError());
  for (int n = 0; n < kEntries; ++n) {
    CacheEntry entry = sample_entry(sample_key(n), true, n);
    entry.cubin = distinct_cubin(n);
    ASSERT_TRUE(bool((*cache)->store(entry)));
  }
}

// Breaks the chain of overflow pages holding entry `n`'s cubin: the page holding its bytes at
// offset kCubinBytes / 2 gets a next-page pointer past the end of the file. SQLite then reports
// that row, and only that row, as corrupt.
void break_cubin_page(const std::string& path, int n) {
  std::string file = testing::read_file(path);
  const std::string cubin = distinct_cubin(n);
  const std::string probe = cubin.substr(kCubinBytes / 2, 64);
  const size_t at = file.find(probe);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(file.find(probe, at + 1), std::string::npos) << "the probe is not unique";
  const uint32_t page_size = (uint32_t(uint8_t(file[16])) << 8) | uint8_t(file[17]);
  const size_t page = at / page_size * page_size;
  ASSERT_GT(at, page + 4) << "the probe starts at the page's pointer";
  file.replace(page, 4, "\x7f\xff\xff\xff");
  testing::write_file(path, file);
}

// Files set aside as corrupt, without the journals that move with them.
size_t set_aside_files(const testing::ScratchDir& dir) {
  size_t count = 0;
  for (const std::string& name : dir.names_starting_with("cache.sqlite.corrupt-"))
    count += name.find("-wal") == std::string::npos && name.find("-shm") == std::string::npos;
  return count;
}

OpenOptions to_inspect() {
  OpenOptions options;
  options.inspect = true;
  return options;
}

std::unique_ptr<TuningCache> open_checked(const std::string& path, const OpenOptions& options) {
  auto cache = TuningCache::open(path, options);
  if (!cache) {
    ADD_FAILURE() << llvm::toString(cache.takeError());
    return nullptr;
  }
  return std::move(*cache);
}

TEST(CacheDamage, ABrokenCubinPageIsNoticedWhenTheCacheOpens) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  fill(path);
  break_cubin_page(path, 1);
  const std::string warnings = testing::captured_warnings([&] {
    auto cache = open_checked(path, {});
    ASSERT_NE(cache, nullptr);
    auto rows = cache->list();
    ASSERT_TRUE(bool(rows));
    EXPECT_TRUE(rows->empty());  // a fresh cache in its place
  });
  EXPECT_EQ(set_aside_files(dir), 1u);
  if (testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("is corrupt (integrity check: "), std::string::npos) << warnings;
  }
}

TEST(CacheDamage, ADroppedTableIsSetAsideLikeADamagedOne) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  fill(path);
  testing::execute_sql(path, "PRAGMA foreign_keys = OFF; DROP TABLE cubins;");
  const std::string warnings = testing::captured_warnings([&] { ASSERT_NE(open_checked(path, {}), nullptr); });
  EXPECT_EQ(set_aside_files(dir), 1u);
  if (testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("is corrupt (the table cubins is missing)"), std::string::npos) << warnings;
  }
}

// The bug: verify set a damaged file aside and then reported the fresh one as fine.
TEST(CacheDamage, VerifyReportsTheDamageAndLeavesTheFileWhereItIs) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  fill(path);
  break_cubin_page(path, 1);
  const std::string before = testing::read_file(path);
  auto cache = open_checked(path, to_inspect());
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(cache->read_only());
  EXPECT_EQ(cache->damage().rfind("it is corrupt (integrity check: ", 0), 0u) << cache->damage();
  auto report = cache->verify();
  ASSERT_TRUE(bool(report)) << llvm::toString(report.takeError());
  EXPECT_FALSE(report->ok());
  ASSERT_FALSE(report->integrity_problems.empty());
  EXPECT_EQ(report->integrity_problems[0], cache->damage());
  cache.reset();
  EXPECT_TRUE(dir.names_starting_with("cache.sqlite.").empty());
  EXPECT_TRUE(testing::read_file(path) == before);
}

// The bug: export failed as a whole on one damaged row.
TEST(CacheDamage, ExportSavesTheIntactRowsAndNamesTheOthers) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  fill(path);
  break_cubin_page(path, 1);
  auto cache = open_checked(path, to_inspect());
  ASSERT_NE(cache, nullptr);
  ExportSummary summary;
  std::string text;
  testing::captured_warnings([&] {
    auto exported = export_to_json(*cache, &summary);
    ASSERT_TRUE(bool(exported)) << llvm::toString(exported.takeError());
    text = *exported;
  });
  EXPECT_EQ(summary.exported, size_t(kEntries - 1));
  EXPECT_EQ(summary.skipped, 1u);
  ASSERT_EQ(summary.left_out.size(), 1u);
  EXPECT_EQ(summary.left_out[0].rfind("entry 2: ", 0), 0u) << summary.left_out[0];
  const nlohmann::json document = nlohmann::json::parse(text);
  std::vector<std::string> keys;
  for (const auto& entry : document["entries"]) keys.push_back(entry["problem_key"].get<std::string>());
  EXPECT_EQ(keys, (std::vector<std::string>{sample_key(0).problem_key, sample_key(2).problem_key}));

  // What was saved imports into a fresh cache.
  auto target = testing::open_cache(dir.file("target.sqlite"));
  ASSERT_TRUE(bool(target));
  auto imported = import_from_json(**target, text);
  ASSERT_TRUE(bool(imported)) << llvm::toString(imported.takeError());
  EXPECT_EQ(imported->added, size_t(kEntries - 1));
}

TEST(CacheDamage, InspectingNeverCreatesAFile) {
  testing::ScratchDir dir;
  auto cache = TuningCache::open(dir.file("missing/cache.sqlite"), to_inspect());
  ASSERT_FALSE(bool(cache));
  EXPECT_NE(llvm::toString(cache.takeError()).find("no such file"), std::string::npos);
  EXPECT_TRUE(dir.names_starting_with("missing").empty());
}

}  // namespace
}  // namespace flashjit::cache
