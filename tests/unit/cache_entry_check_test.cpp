// A cache entry runs only for the problem it was built for: the check every entry passes on
// lookup, verify, export and import (runtime/cache_entry_check.h), and the cubin reader it uses.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/ADT/StringExtras.h>
#include <nlohmann/json.hpp>

#include "cache/cache_json.h"
#include "cuda/cubin_elf.h"
#include "cuda/nvrtc_compiler.h"
#include "generator/device_description.h"
#include "generator/emit.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "helpers/errors.h"
#include "helpers/minimal_cubin.h"
#include "helpers/problems.h"
#include "runtime/cache_entries.h"
#include "runtime/cache_entry_check.h"
#include "runtime/kernel_builder.h"
#include "runtime/open_cache.h"
#include "unit/cache_test_support.h"
#include "unit/fake_build_device.h"

namespace flashjit {
namespace {

using cache::CacheEntry;
using cache::testing::sample_entry;
using cache::testing::sample_key;
using flashjit::testing::CubinAbi;
using flashjit::testing::FakeBuildDevice;
using flashjit::testing::FakeDeviceRecord;
using flashjit::testing::minimal_cubin;

std::string problems_of(const CacheEntry& entry) { return llvm::join(cache_entry_problems(entry), "; "); }

// The sample entry with its spec changed by `change`.
CacheEntry with_spec(const std::function<void(gen::KernelSpec&)>& change) {
  CacheEntry entry = sample_entry(sample_key(1), true, 1);
  auto spec = gen::spec_from_json(nlohmann::json::parse(entry.spec_json));
  EXPECT_TRUE(static_cast<bool>(spec));
  change(*spec);
  entry.spec_json = gen::spec_to_json(*spec).dump();
  return entry;
}

TEST(CacheEntryCheck, TheSampleEntryMayRun) { EXPECT_EQ(problems_of(sample_entry(sample_key(1), true, 1)), ""); }

// The bug: an imported head-dim-64 kernel was launched for a head-dim-128 call.
TEST(CacheEntryCheck, ASpecForAnotherProblemIsRefused) {
  EXPECT_EQ(problems_of(with_spec([](gen::KernelSpec& s) { s.head_dim = 64; })),
            "spec is a kernel for bf16_d64_causal, not for the key's problem bf16_d128_causal_gqa2_len4096");
  EXPECT_EQ(problems_of(with_spec([](gen::KernelSpec& s) { s.dtype = DType::f16; })),
            "spec is a kernel for f16_d128_causal, not for the key's problem bf16_d128_causal_gqa2_len4096");
  EXPECT_EQ(problems_of(with_spec([](gen::KernelSpec& s) { s.mask = MaskKind::none; })),
            "spec is a kernel for bf16_d128_none, not for the key's problem bf16_d128_causal_gqa2_len4096");
}

TEST(CacheEntryCheck, ASpecForAnotherArchitectureIsRefused) {
  EXPECT_EQ(problems_of(with_spec([](gen::KernelSpec& s) { s.arch = 80; })),
            "spec targets sm_80, not the key's compute capability 90");
}

TEST(CacheEntryCheck, ASpecTheRulesDoNotAllowIsRefused) {
  const std::string tiles = problems_of(with_spec([](gen::KernelSpec& s) { s.block_m = 100000; }));
  EXPECT_EQ(tiles.rfind("spec generic_sm90_bf16_d128_m100000", 0), 0u) << tiles;

  // wgmma_sm90 reads its tensors through TMA, which a key marked unaligned cannot give it.
  CacheEntry unaligned = sample_entry(sample_key(1), true, 1);
  unaligned.key.problem_key = "bf16_d128_causal_gqa2_len4096_unaligned";
  auto wgmma = gen::default_spec(Variant::wgmma_sm90, gen::DeviceDescription::for_arch(90),
                                 flashjit::testing::problem_with(DType::bf16, 128, MaskKind::causal));
  ASSERT_TRUE(static_cast<bool>(wgmma)) << llvm::toString(wgmma.takeError());
  unaligned.spec_json = gen::spec_to_json(*wgmma).dump();
  EXPECT_EQ(problems_of(unaligned),
            "spec's variant wgmma_sm90 cannot serve bf16_d128_causal_gqa2_len4096_unaligned: TMA cannot address "
            "these tensors (the problem key marks its tensors as not TMA-addressable)");
}

TEST(CacheEntryCheck, AKeyThatDoesNotParseIsRefused) {
  CacheEntry entry = sample_entry(sample_key(1), true, 1);
  entry.key.problem_key = "bf16_d128_causal_gqa4_len4096_n1";
  EXPECT_EQ(problems_of(entry), "problem key 'bf16_d128_causal_gqa4_len4096_n1' does not end in _len<sequence bucket>");

  CacheEntry control = sample_entry(sample_key(1), true, 1);
  control.key.device_name = std::string("H100\n", 5);
  control.key.compute_capability = 5000;
  // The fields first: what the row means is judged only for a well-formed one.
  EXPECT_EQ(problems_of(control),
            "device_name 'H100\\x0a' holds bytes that are not printable; compute_capability 5000 is outside 10..999");
}

// A stored spec is exactly what spec_to_json writes: FlashJIT stored nothing else.
TEST(CacheEntryCheck, ASpecNotAsThisFlashJITWritesItIsRefused) {
  CacheEntry extra = sample_entry(sample_key(1), true, 1);
  nlohmann::json spec = nlohmann::json::parse(extra.spec_json);
  spec["launch_anyway"] = true;
  extra.spec_json = spec.dump();
  EXPECT_EQ(problems_of(extra), "spec has a field this FlashJIT does not write: 'launch_anyway'");

  CacheEntry missing = sample_entry(sample_key(1), true, 1);
  spec = nlohmann::json::parse(missing.spec_json);
  spec.erase("key");
  missing.spec_json = spec.dump();
  EXPECT_EQ(problems_of(missing), "spec lacks field 'key'");

  CacheEntry stale = sample_entry(sample_key(1), true, 1);
  spec = nlohmann::json::parse(stale.spec_json);
  spec["block_n"] = spec["block_n"].get<int>() * 2;
  stale.spec_json = spec.dump();
  const std::string problems = problems_of(stale);
  EXPECT_EQ(problems.rfind("spec field 'key' is \\x22generic_sm90_bf16_d128_", 0), 0u) << problems;
  EXPECT_NE(problems.find(", but its fields describe "), std::string::npos) << problems;
}

// A tuned split count is one the tuner could have chosen for the key's heuristic count: refused on
// an unsplit key and beyond the ceiling (a workspace sized by workspace_size would be too small).
TEST(CacheEntryCheck, ATunedSplitCountOutsideTheKeysRangeIsRefused) {
  auto kv_entry = [](const std::string& problem_key, int splits) {
    CacheEntry entry = sample_entry(sample_key(1), true, 1);
    entry.key.problem_key = problem_key;
    auto spec = gen::spec_from_json(nlohmann::json::parse(entry.spec_json));
    EXPECT_TRUE(static_cast<bool>(spec));
    spec->kv_cache = true;
    spec->mask = MaskKind::none;
    spec->splits = splits;
    entry.spec_json = gen::spec_to_json(*spec).dump();
    return entry;
  };
  EXPECT_EQ(problems_of(kv_entry("bf16_d128_none_kvcache_gqa2_len4096_split5", 10)), "");
  EXPECT_EQ(problems_of(kv_entry("bf16_d128_none_kvcache_gqa2_len4096_split5", 11)),
            "spec's split count 11 is beyond the 10 the tuner tries for the key's 5");
  EXPECT_EQ(problems_of(kv_entry("bf16_d128_none_kvcache_gqa2_len4096_split1", 2)),
            "spec has a tuned split count (2) but the key's problem bf16_d128_none_kvcache_gqa2_len4096_split1 is "
            "not split");
  EXPECT_EQ(problems_of(kv_entry("bf16_d128_none_kvcache_gqa2_len4096", 2)),
            "spec has a tuned split count (2) but the key's problem bf16_d128_none_kvcache_gqa2_len4096 is not split");
}

TEST(CacheEntryCheck, ACubinThatIsNotACudaBinaryIsRefused) {
  CacheEntry entry = sample_entry(sample_key(1), true, 1);
  entry.cubin = "not a cubin";
  EXPECT_EQ(problems_of(entry), "cubin is not a CUDA binary: not an ELF file");
  entry.cubin = minimal_cubin(90, {cache::testing::kSampleSymbol});
  entry.cubin[18] = 62;  // x86-64
  EXPECT_EQ(problems_of(entry), "cubin is not a CUDA binary: an ELF file for machine 62, not CUDA (190)");
}

TEST(CacheEntryCheck, ACubinForAnotherArchitectureOrWithoutTheKernelIsRefused) {
  CacheEntry entry = sample_entry(sample_key(1), true, 1);
  entry.cubin = minimal_cubin(80, {cache::testing::kSampleSymbol});
  EXPECT_EQ(problems_of(entry), "cubin is for sm_80, not the key's compute capability 90");
  entry.cubin = minimal_cubin(90, {"some_other_kernel"});
  EXPECT_EQ(problems_of(entry), std::string("cubin has no kernel named '") + cache::testing::kSampleSymbol + "'");
  // The encoding before CUDA 12.8 (SM in the low byte of e_flags) is read too.
  entry.cubin = minimal_cubin(90, {cache::testing::kSampleSymbol}, CubinAbi::before_cuda_12_8);
  EXPECT_EQ(problems_of(entry), "");
  entry.cubin = minimal_cubin(75, {cache::testing::kSampleSymbol}, CubinAbi::before_cuda_12_8);
  EXPECT_EQ(problems_of(entry), "cubin is for sm_75, not the key's compute capability 90");
}

// Every prefix of a cubin, and every single-byte change to its header and tables, is read without
// reading outside the bytes (ASan would say) and either refused with a reason or read as a cubin.
TEST(CubinElf, DamagedCubinsAreRefusedOrReadNeverOverrun) {
  const std::string good = minimal_cubin(90, {"kernel_a", "kernel_b"});
  for (size_t size = 0; size < good.size(); ++size) {
    auto read = cuda::read_cubin(llvm::StringRef(good.data(), size));
    if (!read) {
      EXPECT_FALSE(llvm::toString(read.takeError()).empty());
    }
  }
  for (size_t at = 0; at < good.size(); ++at)
    for (unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string bad = good;
      bad[at] = static_cast<char>(value);
      auto read = cuda::read_cubin(bad);
      if (!read) llvm::consumeError(read.takeError());
    }
  auto read = cuda::read_cubin(good);
  ASSERT_TRUE(static_cast<bool>(read)) << llvm::toString(read.takeError());
  EXPECT_EQ(read->arch, 90);
  EXPECT_EQ(read->functions, (std::vector<std::string>{"kernel_a", "kernel_b"}));
}

// What NVRTC writes is what the reader expects: the architecture, and the lowered name the cache
// stores as the kernel's symbol among the cubin's functions.
TEST(CubinElf, ReadsWhatNvrtcWrites) {
  for (int arch : {75, 90}) {
    auto spec = gen::default_spec(Variant::generic, gen::DeviceDescription::for_arch(arch),
                                  flashjit::testing::problem_with(DType::f16, 64));
    ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
    auto source = gen::emit(*spec);
    ASSERT_TRUE(static_cast<bool>(source)) << llvm::toString(source.takeError());
    auto compiled = cuda::compile_kernel(*source, *spec);
    ASSERT_TRUE(static_cast<bool>(compiled)) << llvm::toString(compiled.takeError());
    auto read = cuda::read_cubin(compiled->cubin);
    ASSERT_TRUE(static_cast<bool>(read)) << llvm::toString(read.takeError());
    EXPECT_EQ(read->arch, arch);
    EXPECT_NE(std::find(read->functions.begin(), read->functions.end(), compiled->lowered_name), read->functions.end())
        << compiled->lowered_name << " not among " << llvm::join(read->functions, ", ");
  }
}

// Through the cache: an entry that must not run, written by another program (a cache opened
// without the check), is a miss on lookup and is deleted; import refuses it by its index.
class CheckedCache : public ::testing::Test {
 protected:
  void SetUp() override {
    auto unchecked = cache::TuningCache::open(path_);
    ASSERT_TRUE(static_cast<bool>(unchecked)) << llvm::toString(unchecked.takeError());
    ASSERT_TRUE(static_cast<bool>((*unchecked)->store(wrong_head_dim_)));
  }
  cache::testing::ScratchDir dir_;
  const std::string path_ = dir_.file("cache.sqlite");
  const CacheEntry wrong_head_dim_ = with_spec([](gen::KernelSpec& s) { s.head_dim = 64; });
};

TEST_F(CheckedCache, LookupMissesAndDeletesAnEntryForAnotherProblem) {
  auto cache = open_tuning_cache(path_, {});
  ASSERT_TRUE(static_cast<bool>(cache)) << llvm::toString(cache.takeError());
  const std::string warnings = cache::testing::captured_warnings([&] {
    auto found = (*cache)->lookup(wrong_head_dim_.key);
    ASSERT_TRUE(static_cast<bool>(found)) << llvm::toString(found.takeError());
    EXPECT_FALSE(found->has_value());
  });
  if (cache::testing::warnings_are_shown()) {
    EXPECT_NE(warnings.find("must not run (spec is a kernel for bf16_d64_causal, not for the key's problem "
                            "bf16_d128_causal_gqa2_len4096); deleted it"),
              std::string::npos)
        << warnings;
  }
  EXPECT_EQ(cache::testing::query_int(path_, "SELECT count(*) FROM entries"), 0);
}

TEST_F(CheckedCache, VerifyReportsItAndExportLeavesItOut) {
  auto cache = open_tuning_cache(path_, {});
  ASSERT_TRUE(static_cast<bool>(cache)) << llvm::toString(cache.takeError());
  auto report = (*cache)->verify();
  ASSERT_TRUE(static_cast<bool>(report)) << llvm::toString(report.takeError());
  ASSERT_EQ(report->bad.size(), 1u);
  EXPECT_NE(report->bad[0].reason.find("spec is a kernel for bf16_d64_causal"), std::string::npos);
  cache::ExportSummary summary;
  auto exported = cache::export_to_json(**cache, &summary);
  ASSERT_TRUE(static_cast<bool>(exported)) << llvm::toString(exported.takeError());
  EXPECT_EQ(summary.exported, 0u);
  EXPECT_EQ(summary.skipped, 1u);
}

TEST_F(CheckedCache, ImportRefusesItByItsIndexAndStoresNothing) {
  // The export of a cache that does not check (another build, a hand-edited file).
  auto unchecked = cache::TuningCache::open(dir_.file("unchecked.sqlite"));
  ASSERT_TRUE(static_cast<bool>(unchecked));
  ASSERT_TRUE(static_cast<bool>((*unchecked)->store(sample_entry(sample_key(3), true, 3))));
  ASSERT_TRUE(static_cast<bool>((*unchecked)->store(wrong_head_dim_)));
  auto document = cache::export_to_json(**unchecked);
  ASSERT_TRUE(static_cast<bool>(document)) << llvm::toString(document.takeError());

  auto target = open_tuning_cache(dir_.file("target.sqlite"), {});
  ASSERT_TRUE(static_cast<bool>(target));
  auto imported = cache::import_from_json(**target, *document);
  ASSERT_FALSE(static_cast<bool>(imported));
  EXPECT_EQ(llvm::toString(imported.takeError()),
            "import: entry 1: must not run: spec is a kernel for bf16_d64_causal, not for the key's problem "
            "bf16_d128_causal_gqa2_len4096");
  EXPECT_EQ(cache::testing::query_int(dir_.file("target.sqlite"), "SELECT count(*) FROM entries"), 0);
}

// The last line: the builder compares the spec of a hit with the call's own problem, and a cache
// whose check was switched off still never loads a kernel for another problem.
TEST_F(CheckedCache, TheBuilderNeverLoadsAKernelForAnotherProblem) {
  cache::OpenOptions no_check;
  no_check.check_entry = [](const CacheEntry&) { return std::vector<std::string>{}; };
  auto cache = open_tuning_cache(path_, no_check);
  ASSERT_TRUE(static_cast<bool>(cache));
  auto record = std::make_shared<FakeDeviceRecord>();
  BuildOptions options;
  options.tune = false;
  auto problem = Problem::of_shape({DType::bf16, 128, MaskKind::causal}, ProblemShape{1, 2, 1, 4096, 4096});
  ASSERT_TRUE(static_cast<bool>(problem)) << llvm::toString(problem.takeError());
  // Stored under the architecture's key (what a compile-only warm writes), which the builder also
  // looks up, with a cubin and symbol the fake device would load: only the spec check stops it.
  CacheEntry planted = wrong_head_dim_;
  planted.key = cache_key_for(gen::DeviceDescription::for_arch(90), FakeBuildDevice(record, true).compiler(), *problem);
  auto spec = gen::spec_from_json(nlohmann::json::parse(planted.spec_json));
  ASSERT_TRUE(static_cast<bool>(spec));
  planted.kernel_symbol = "fake_" + gen::canonical_key(*spec);
  planted.cubin = minimal_cubin(90, {planted.kernel_symbol});
  planted.cubin_sha256.clear();
  ASSERT_TRUE(static_cast<bool>((*cache)->store(planted)));
  KernelBuilder builder(std::make_unique<FakeBuildDevice>(record, true), std::move(*cache), options);
  auto built = builder.obtain(*problem);
  ASSERT_TRUE(static_cast<bool>(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::heuristic);
  EXPECT_EQ(built->spec.head_dim, 128);
  ASSERT_EQ(record->loaded_keys.size(), 1u);
  EXPECT_NE(record->loaded_keys[0].find("_d128_"), std::string::npos) << record->loaded_keys[0];
}

}  // namespace
}  // namespace flashjit
