// Several processes sharing one cache file: nothing stored is lost, no reader sees half a row, and
// when they race to store the same key exactly one row results.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

using testing::ChildProcess;
using testing::sample_cubin;
using testing::sample_entry;
using testing::sample_key;

constexpr int kProcesses = 4;
constexpr int kKeysPerProcess = 25;

int key_number(int process, int i) { return process * kKeysPerProcess + i; }

// Different sizes per key, some large enough to span several overflow pages.
CacheEntry entry_for(int n) {
  CacheEntry entry = sample_entry(sample_key(n), true, n);
  entry.cubin = sample_cubin(n, 1000 + static_cast<size_t>(n % 7) * 9000);
  return entry;
}

// One writer: stores its own keys and, between stores, reads its neighbours' keys, which are being
// written at the same moment. Returns "" or what went wrong.
std::string write_and_read(const std::string& path, int process) {
  auto cache = testing::open_cache(path);
  if (!cache) return "open: " + llvm::toString(cache.takeError());
  int seen = 0;
  for (int i = 0; i < kKeysPerProcess; ++i) {
    const int mine = key_number(process, i);
    auto stored = (*cache)->store(entry_for(mine));
    if (!stored) return "store " + std::to_string(mine) + ": " + llvm::toString(stored.takeError());
    if (stored->outcome != StoreOutcome::added) return "key " + std::to_string(mine) + " was not added";
    for (int other = 0; other < kProcesses; ++other) {
      if (other == process) continue;
      const int theirs = key_number(other, i);
      auto found = (*cache)->lookup(sample_key(theirs));
      if (!found) return "lookup " + std::to_string(theirs) + ": " + llvm::toString(found.takeError());
      if (!found->has_value()) continue;  // not written yet
      ++seen;
      // lookup() already checked the SHA-256; this checks it is the right cubin for the key.
      if ((*found)->cubin != entry_for(theirs).cubin) return "key " + std::to_string(theirs) + ": wrong cubin";
    }
  }
  return "";
}

TEST(CacheConcurrency, ProcessesWritingAtOnceLoseNothing) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");  // created by whichever child comes first
  std::vector<ChildProcess> children;
  for (int p = 0; p < kProcesses; ++p)
    children.push_back(ChildProcess::start([&path, p] { return write_and_read(path, p); }));
  for (int p = 0; p < kProcesses; ++p) EXPECT_EQ(children[static_cast<size_t>(p)].wait(), "") << "process " << p;

  auto cache = testing::open_cache(path);
  ASSERT_TRUE(bool(cache)) << llvm::toString(cache.takeError());
  auto rows = (*cache)->list();
  ASSERT_TRUE(bool(rows));
  EXPECT_EQ(rows->size(), static_cast<size_t>(kProcesses * kKeysPerProcess));
  auto report = (*cache)->verify();
  ASSERT_TRUE(bool(report)) << llvm::toString(report.takeError());
  EXPECT_EQ(report->checked, static_cast<size_t>(kProcesses * kKeysPerProcess));
  EXPECT_TRUE(report->ok());
  for (int n = 0; n < kProcesses * kKeysPerProcess; ++n) {
    auto found = (*cache)->lookup(sample_key(n));
    ASSERT_TRUE(bool(found));
    ASSERT_TRUE(found->has_value()) << "key " << n;
    EXPECT_EQ((*found)->cubin, entry_for(n).cubin) << "key " << n;
  }
}

// Every process stores the same keys, untuned; the re-check inside the write transaction means
// each key is added exactly once across all processes and everyone else keeps that row.
TEST(CacheConcurrency, RacingStoresOfOneKeyAddItOnce) {
  testing::ScratchDir dir;
  const std::string path = dir.file("cache.sqlite");
  ASSERT_TRUE(bool(testing::open_cache(path)));
  std::vector<ChildProcess> children;
  for (int p = 0; p < kProcesses; ++p)
    children.push_back(ChildProcess::start([&path, p]() -> std::string {
      auto cache = testing::open_cache(path);
      if (!cache) return "open: " + llvm::toString(cache.takeError());
      int added = 0;
      for (int n = 0; n < kKeysPerProcess; ++n) {
        auto stored = (*cache)->store(sample_entry(sample_key(n), false, p));
        if (!stored) return "store: " + llvm::toString(stored.takeError());
        if (stored->outcome == StoreOutcome::added) ++added;
        else if (stored->outcome != StoreOutcome::kept_existing) return "unexpected outcome";
      }
      return std::to_string(added);
    }));
  int added = 0;
  for (ChildProcess& child : children) {
    const std::string result = child.wait();
    ASSERT_FALSE(result.empty());
    ASSERT_TRUE(std::all_of(result.begin(), result.end(), ::isdigit)) << result;
    added += std::stoi(result);
  }
  EXPECT_EQ(added, kKeysPerProcess);
  EXPECT_EQ(testing::query_int(path, "SELECT count(*) FROM entries"), kKeysPerProcess);
}

}  // namespace
}  // namespace flashjit::cache
