// Export and import: a fleet shares tuned results as JSON. Every field survives, the merge rule is
// the one store() follows, and a damaged file is refused with the entry and field named.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cache/codec.h"
#include "cache/cache_json.h"
#include "cache_test_support.h"

namespace flashjit::cache {
namespace {

using nlohmann::json;
using testing::sample_entry;
using testing::sample_key;

class CacheJson : public ::testing::Test {
 protected:
  void SetUp() override {
    auto source = testing::open_cache(dir_.file("source.sqlite"));
    ASSERT_TRUE(bool(source)) << llvm::toString(source.takeError());
    source_ = std::move(*source);
    auto target = testing::open_cache(dir_.file("target.sqlite"));
    ASSERT_TRUE(bool(target)) << llvm::toString(target.takeError());
    target_ = std::move(*target);
  }

  void fill_source() {
    for (int n = 0; n < 5; ++n) ASSERT_TRUE(bool(source_->store(sample_entry(sample_key(n), n != 2, n))));
  }

  json exported() {
    auto text = export_to_json(*source_);
    if (!text) {
      ADD_FAILURE() << llvm::toString(text.takeError());
      return json();
    }
    return json::parse(*text);
  }

  std::string import_error(const json& document) {
    auto summary = import_from_json(*target_, document.dump());
    if (summary) {
      ADD_FAILURE() << "imported " << document.dump().substr(0, 200);
      return "";
    }
    return llvm::toString(summary.takeError());
  }

  size_t target_rows() {
    auto rows = target_->list();
    return rows ? rows->size() : 0;
  }

  testing::ScratchDir dir_;
  std::unique_ptr<TuningCache> source_;
  std::unique_ptr<TuningCache> target_;
};

TEST_F(CacheJson, RoundTripsEveryFieldThroughAFile) {
  fill_source();
  auto written = export_to_file(*source_, dir_.file("export.json"));
  ASSERT_TRUE(bool(written)) << llvm::toString(written.takeError());
  EXPECT_EQ(written->exported, 5u);
  EXPECT_EQ(written->skipped, 0u);
  EXPECT_TRUE(dir_.names_starting_with("export.json.tmp").empty());

  auto imported = import_from_file(*target_, dir_.file("export.json"));
  ASSERT_TRUE(bool(imported)) << llvm::toString(imported.takeError());
  EXPECT_EQ(imported->added, 5u);
  EXPECT_EQ(imported->replaced, 0u);
  EXPECT_EQ(imported->kept, 0u);

  for (int n = 0; n < 5; ++n) {
    auto original = source_->lookup(sample_key(n));
    auto copy = target_->lookup(sample_key(n));
    ASSERT_TRUE(original && copy && original->has_value() && copy->has_value()) << "key " << n;
    const CacheEntry& a = **original;
    const CacheEntry& b = **copy;
    EXPECT_EQ(b.key, a.key);
    EXPECT_EQ(b.spec_json, a.spec_json);
    EXPECT_EQ(b.kernel_symbol, a.kernel_symbol);
    EXPECT_EQ(b.cubin, a.cubin);
    EXPECT_EQ(b.cubin_sha256, a.cubin_sha256);
    EXPECT_EQ(b.median_ms, a.median_ms);
    EXPECT_EQ(b.p20_ms, a.p20_ms);
    EXPECT_EQ(b.p80_ms, a.p80_ms);
    EXPECT_EQ(b.candidates_tried, a.candidates_tried);
    EXPECT_EQ(b.tuned, a.tuned);
    EXPECT_EQ(b.created_unix, a.created_unix);
  }
}

TEST_F(CacheJson, WritesTheDocumentedFormat) {
  fill_source();
  const json document = exported();
  EXPECT_EQ(document["format"], "flashjit-tuning-cache");
  EXPECT_EQ(document["format_version"], 1);
  ASSERT_EQ(document["entries"].size(), 5u);
  const json& untuned = document["entries"][2];
  EXPECT_TRUE(untuned["median_ms"].is_null());
  EXPECT_EQ(untuned["tuned"], false);
  EXPECT_EQ(untuned["spec"]["target"], "sm_90");  // an object, not a string of JSON
  auto cubin = base64_decode(untuned["cubin_base64"].get<std::string>());
  ASSERT_TRUE(bool(cubin));
  EXPECT_EQ(*cubin, testing::sample_cubin(2));
  EXPECT_EQ(untuned["cubin_sha256"], sha256_hex(*cubin));
}

TEST_F(CacheJson, MergesLikeStore) {
  fill_source();
  // The target already has: key 0 untuned (the export's tuned one replaces it), key 2 tuned (the
  // export's untuned one does not), key 9 (not in the export, untouched).
  ASSERT_TRUE(bool(target_->store(sample_entry(sample_key(0), false, 40))));
  ASSERT_TRUE(bool(target_->store(sample_entry(sample_key(2), true, 42))));
  ASSERT_TRUE(bool(target_->store(sample_entry(sample_key(9), true, 49))));
  auto text = export_to_json(*source_);
  ASSERT_TRUE(bool(text));
  auto imported = import_from_json(*target_, *text);
  ASSERT_TRUE(bool(imported)) << llvm::toString(imported.takeError());
  EXPECT_EQ(imported->added, 3u);
  EXPECT_EQ(imported->replaced, 1u);
  EXPECT_EQ(imported->kept, 1u);
  EXPECT_EQ((*target_->lookup(sample_key(0)))->cubin, testing::sample_cubin(0));
  EXPECT_EQ((*target_->lookup(sample_key(2)))->cubin, testing::sample_cubin(42));
  EXPECT_EQ(target_rows(), 6u);

  auto again = import_from_json(*target_, *text);
  ASSERT_TRUE(bool(again));
  EXPECT_EQ(again->added, 0u);
  EXPECT_EQ(again->kept, 5u);
}

TEST_F(CacheJson, ExportLeavesOutDamagedRows) {
  fill_source();
  testing::execute_sql(dir_.file("source.sqlite"), "UPDATE cubins SET bytes = zeroblob(8) WHERE entry_id = 1");
  ExportSummary summary;
  std::string text;
  const std::string warnings = testing::captured_warnings([&] {
    auto exported_text = export_to_json(*source_, &summary);
    ASSERT_TRUE(bool(exported_text));
    text = *exported_text;
  });
  EXPECT_EQ(summary.exported, 4u);
  EXPECT_EQ(summary.skipped, 1u);
  EXPECT_EQ(json::parse(text)["entries"].size(), 4u);
  if (testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("leaving out damaged cache entry 1"), std::string::npos) << warnings;
  }
}

TEST_F(CacheJson, NamesTheEntryAndFieldOfABadImportAndStoresNothing) {
  fill_source();
  const json good = exported();

  json tampered = good;
  tampered["entries"][3]["cubin_sha256"] = sha256_hex("another cubin");
  EXPECT_NE(import_error(tampered).find("entry 3: field 'cubin_sha256' does not match the cubin"),
            std::string::npos);

  struct Case {
    const char* field;
    json value;  // null: remove the field
    const char* message;
  };
  const Case cases[] = {
      {"device_name", nullptr, "entry 1: field 'device_name' is missing"},
      {"device_name", 12, "entry 1: field 'device_name' is not a string"},
      {"compute_capability", "90", "entry 1: field 'compute_capability' is not an integer"},
      {"compute_capability", 5, "entry 1: field 'compute_capability' is out of range (10..9999)"},
      {"sm_count", -1, "entry 1: field 'sm_count' is out of range"},
      {"driver_version", 1e30, "entry 1: field 'driver_version' is not an integer"},
      {"nvrtc_version", 99999999999LL, "entry 1: field 'nvrtc_version' is out of range"},
      {"spec", "generic", "entry 1: field 'spec' is not an object"},
      {"spec", json{{"variant", "generic"}}, "entry 1: must not run: spec field 'target': missing"},
      // Issue 12: out-of-range specs and keys that do not parse back are refused by the entry's index.
      {"problem_key", "bf16_d128_causal_gqa4_len4096_n1",
       "entry 1: must not run: problem key 'bf16_d128_causal_gqa4_len4096_n1' does not end in _len<sequence bucket>"},
      {"device_name", "H100\x01", "entry 1: must not run: device_name 'H100\\x01' holds bytes that are not printable"},
      {"kernel_symbol", 7, "entry 1: field 'kernel_symbol' is not a string"},
      {"cubin_base64", "not base64!", "entry 1: field 'cubin_base64' holds invalid base64: length 11 is not a multiple of 4"},
      {"cubin_base64", "", "entry 1: field 'cubin_base64' holds no bytes"},
      {"cubin_sha256", "ABC", "entry 1: field 'cubin_sha256' is not 64 lowercase hex digits"},
      {"median_ms", -1.0, "entry 1: field 'median_ms' is not a non-negative number of milliseconds or null"},
      {"p80_ms", "fast", "entry 1: field 'p80_ms' is not a non-negative number"},
      {"candidates_tried", 1.5, "entry 1: field 'candidates_tried' is not an integer"},
      {"tuned", 1, "entry 1: field 'tuned' is not true or false"},
      {"created_unix", -5, "entry 1: field 'created_unix' is out of range"},
  };
  for (const Case& c : cases) {
    json bad = good;
    if (c.value.is_null()) bad["entries"][1].erase(c.field);
    else bad["entries"][1][c.field] = c.value;
    const std::string error = import_error(bad);
    EXPECT_NE(error.find(c.message), std::string::npos) << c.field << ": " << error;
  }

  json huge_tile = good;
  huge_tile["entries"][1]["spec"]["block_m"] = 1 << 30;
  EXPECT_NE(import_error(huge_tile).find("entry 1: must not run: spec generic_sm90_bf16_d128_m1073741824"),
            std::string::npos)
      << import_error(huge_tile);
  // Bytes that are not a cubin, with a matching SHA-256 (so only the ELF check can refuse them).
  json not_elf = good;
  not_elf["entries"][1]["cubin_base64"] = base64_encode("#!/bin/sh\nrm -rf /\n");
  not_elf["entries"][1]["cubin_sha256"] = sha256_hex("#!/bin/sh\nrm -rf /\n");
  EXPECT_NE(import_error(not_elf).find("entry 1: must not run: cubin is not a CUDA binary: not an ELF file"),
            std::string::npos)
      << import_error(not_elf);

  json unknown = good;
  unknown["entries"][4]["colour"] = "blue";
  EXPECT_NE(import_error(unknown).find("entry 4: unknown field 'colour'"), std::string::npos);
  // A hostile field name is quoted short and escaped, NUL included.
  json hostile = good;
  hostile["entries"][4][std::string("col\0our", 7)] = "blue";
  EXPECT_NE(import_error(hostile).find("entry 4: unknown field 'col\\x00our'"), std::string::npos)
      << import_error(hostile);
  json not_object = good;
  not_object["entries"][0] = 17;
  EXPECT_NE(import_error(not_object).find("entry 0: is not a JSON object"), std::string::npos);

  EXPECT_EQ(target_rows(), 0u);  // entries 0..2 were valid, and still nothing was stored
}

TEST_F(CacheJson, RefusesWhatIsNotAnExport) {
  auto summary = import_from_json(*target_, "{not json");
  ASSERT_FALSE(bool(summary));
  EXPECT_EQ(llvm::toString(summary.takeError()), "import: not valid JSON");
  EXPECT_NE(import_error(json{{"format", "something"}}).find("not a flashjit cache export"), std::string::npos);
  EXPECT_NE(import_error(json{{"format", "flashjit-tuning-cache"}, {"format_version", 2}, {"entries", json::array()}})
                .find("format_version 2 is not one this flashjit reads (1)"),
            std::string::npos);
  EXPECT_NE(import_error(json{{"format", "flashjit-tuning-cache"}, {"format_version", 1}})
                .find("field 'entries' is missing or not a list"),
            std::string::npos);
  auto missing = import_from_file(*target_, dir_.file("nowhere.json"));
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("import: cannot read " + dir_.file("nowhere.json")),
            std::string::npos);
}

TEST_F(CacheJson, ImportIntoAReadOnlyCacheIsAnError) {
  fill_source();
  auto text = export_to_json(*source_);
  ASSERT_TRUE(bool(text));
  auto reader = testing::open_cache(dir_.file("target.sqlite"), /*read_only=*/true);
  ASSERT_TRUE(bool(reader)) << llvm::toString(reader.takeError());
  auto summary = import_from_json(**reader, *text);
  ASSERT_FALSE(bool(summary));
  EXPECT_NE(llvm::toString(summary.takeError()).find("is read-only (opened read-only as asked)"),
            std::string::npos);
}

}  // namespace
}  // namespace flashjit::cache
