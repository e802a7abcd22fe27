// The candidate list on nominal devices of several families, with an injected NVRTC target list:
// what is pruned (and why) depends on the device's own limits, and the selector's default leads.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "helpers/problems.h"
#include "helpers/errors.h"
#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "tuner/tuner.h"
#include "unit/tuner_fake_backend.h"

namespace flashjit::tuner {
namespace {

// Like a CUDA 12.x NVRTC, which still targets Pascal.
gen::CompilerTargets nvrtc_for_61_75_90() { return {12, 4, {61, 75, 90}}; }

Problem problem(DType dtype, int head_dim) { return flashjit::testing::problem_with(dtype, head_dim); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

CandidateList listed(int cc, const Problem& p) {
  auto list = candidates(gen::DeviceDescription::for_arch(cc), p, nvrtc_for_61_75_90());
  if (!list) {
    ADD_FAILURE() << "sm_" << cc << ": " << llvm::toString(list.takeError());
    return {};
  }
  return std::move(*list);
}

std::string list_error(int cc, const Problem& p, const gen::CompilerTargets& targets) {
  auto list = candidates(gen::DeviceDescription::for_arch(cc), p, targets);
  if (list) {
    ADD_FAILURE() << "sm_" << cc << " unexpectedly listed " << list->specs.size() << " candidates";
    return "";
  }
  return flashjit::testing::message_of(list.takeError(), ErrorCode::unsupported);
}

int pruned_for_shared_memory(const CandidateList& list) {
  int count = 0;
  for (const CandidateReport& report : list.pruned)
    if (contains(report.detail, "shared memory")) ++count;
  return count;
}

TEST(TunerCandidates, TheSelectorsDefaultComesFirst) {
  for (int cc : {61, 75, 90}) {
    const Problem p = problem(DType::f16, 128);
    auto selection = gen::select_variant(gen::DeviceDescription::for_arch(cc), p, nvrtc_for_61_75_90());
    ASSERT_TRUE(static_cast<bool>(selection)) << llvm::toString(selection.takeError());
    const CandidateList list = listed(cc, p);
    ASSERT_FALSE(list.specs.empty());
    EXPECT_EQ(list.specs.front(), selection->spec) << "sm_" << cc;
  }
}

// On Hopper the wgmma_sm90 grid leads for TMA-addressable tensors; for a layout TMA cannot address
// no wgmma_sm90 tile is a candidate (kept or pruned): mma_sm80's grid leads instead.
TEST(TunerCandidates, HopperTunesWgmmaOnlyWhereTmaCanAddressTheTensors) {
  auto count = [](const CandidateList& list, Variant v) {
    int n = 0;
    for (const gen::KernelSpec& s : list.specs) n += s.variant == v;
    return n;
  };
  const CandidateList aligned = listed(90, problem(DType::bf16, 128));
  ASSERT_FALSE(aligned.specs.empty());
  EXPECT_EQ(aligned.specs.front().variant, Variant::wgmma_sm90);
  EXPECT_GT(count(aligned, Variant::wgmma_sm90), 1);

  const CandidateList unaligned =
      listed(90, flashjit::testing::problem_with_q_seq_stride({DType::bf16, 128, MaskKind::none}, 100));
  ASSERT_FALSE(unaligned.specs.empty());
  EXPECT_EQ(unaligned.specs.front().variant, Variant::mma_sm80);
  EXPECT_EQ(count(unaligned, Variant::wgmma_sm90), 0);
  for (const CandidateReport& r : unaligned.pruned) EXPECT_NE(r.spec.variant, Variant::wgmma_sm90);
}

// Volta tunes mma_sm70's grid for f16; on newer GPUs, where the selector takes mma_sm70 only when
// forced, it is no candidate at all (kept or pruned), so tuning cannot pick it either.
TEST(TunerCandidates, OnlyVoltaTunesMma70) {
  const gen::CompilerTargets nvrtc12{12, 9, {61, 70, 72, 75, 80, 90}};
  auto variants_listed = [&](int cc) {
    auto list = candidates(gen::DeviceDescription::for_arch(cc), problem(DType::f16, 128), nvrtc12);
    EXPECT_TRUE(static_cast<bool>(list)) << "sm_" << cc;
    std::multiset<Variant> variants;
    if (!list) {
      llvm::consumeError(list.takeError());
      return variants;
    }
    for (const gen::KernelSpec& s : list->specs) variants.insert(s.variant);
    for (const CandidateReport& r : list->pruned) variants.insert(r.spec.variant);
    return variants;
  };
  for (int cc : {70, 72}) {
    const std::multiset<Variant> volta = variants_listed(cc);
    EXPECT_GT(volta.count(Variant::mma_sm70), 8u) << "sm_" << cc;
    EXPECT_EQ(volta.count(Variant::mma_sm75), 0u) << "sm_" << cc;
  }
  for (int cc : {75, 80, 90}) EXPECT_EQ(variants_listed(cc).count(Variant::mma_sm70), 0u) << "sm_" << cc;
}

TEST(TunerCandidates, EveryGridTileIsListedOnceEitherKeptOrPruned) {
  const CandidateList list = listed(61, problem(DType::f32, 256));
  std::set<std::string> keys;
  for (const gen::KernelSpec& spec : list.specs) EXPECT_TRUE(keys.insert(gen::canonical_key(spec)).second);
  for (const CandidateReport& report : list.pruned) EXPECT_TRUE(keys.insert(report.key).second);
  EXPECT_EQ(keys.size(), 4u * 3u * 4u);  // block_m x block_n x warps of the generic grid
}

TEST(TunerCandidates, FortyEightKilobytePartsPruneLargeTilesAtHeadDim256) {
  const gen::DeviceDescription pascal = gen::DeviceDescription::for_arch(61);
  const CandidateList list = listed(61, problem(DType::f32, 256));
  ASSERT_FALSE(list.specs.empty());
  for (const gen::KernelSpec& spec : list.specs) {
    EXPECT_LE(gen::shared_memory_bytes(spec), 48 * 1024) << gen::canonical_key(spec);
    EXPECT_TRUE(gen::spec_problems(spec, pascal).empty()) << gen::canonical_key(spec);
  }
  EXPECT_GT(pruned_for_shared_memory(list), 0);
  // The same grid fits Hopper's 227 KB: only registers and divisibility prune there.
  EXPECT_EQ(pruned_for_shared_memory(listed(90, problem(DType::f32, 256))), 0);
  EXPECT_GT(listed(90, problem(DType::f32, 256)).specs.size(), list.specs.size());
}

TEST(TunerCandidates, PrunedCandidatesSayWhy) {
  const CandidateList list = listed(61, problem(DType::f16, 256));
  ASSERT_FALSE(list.pruned.empty());
  for (const CandidateReport& report : list.pruned) {
    EXPECT_EQ(report.status, CandidateStatus::pruned);
    EXPECT_FALSE(report.detail.empty()) << report.key;
    EXPECT_EQ(report.key, gen::canonical_key(report.spec));
  }
}

TEST(TunerCandidates, TheOrderIsDeterministic) {
  const CandidateList first = listed(75, problem(DType::f16, 64));
  const CandidateList second = listed(75, problem(DType::f16, 64));
  EXPECT_EQ(first.specs, second.specs);
  ASSERT_EQ(first.pruned.size(), second.pruned.size());
  for (size_t i = 0; i < first.pruned.size(); ++i) EXPECT_EQ(first.pruned[i].key, second.pruned[i].key);
}

TEST(TunerCandidates, ADeviceTheCompilerCannotTargetIsAnError) {
  const std::string error = list_error(61, problem(DType::f16, 128), gen::CompilerTargets{13, 0, {75, 80, 90}});
  EXPECT_TRUE(contains(error, "sm_61")) << error;
}

// A KV problem on a GPU lists the split counts around its key's heuristic count (issue 15); a nominal
// device (no SM count) and a problem without a cache list none.
TEST(TunerCandidates, AKvProblemOnAGpuListsItsSplitCounts) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::none};
  f.kv_cache = f.paged = true;
  auto decode = Problem::of_shape(f, ProblemShape{1, 32, 8, 1, 32768});
  ASSERT_TRUE(static_cast<bool>(decode)) << llvm::toString(decode.takeError());
  gen::DeviceDescription h200 = gen::DeviceDescription::for_arch(90);
  h200.nominal = false;
  h200.sm_count = 132;
  auto list = candidates(h200, *decode, nvrtc_for_61_75_90());
  ASSERT_TRUE(static_cast<bool>(list)) << llvm::toString(list.takeError());
  EXPECT_EQ(list->key_splits, 16);
  EXPECT_EQ(list->split_counts, (std::vector<int>{8, 16, 32}));
  for (const gen::KernelSpec& spec : list->specs) EXPECT_EQ(spec.splits, 0) << gen::canonical_key(spec);

  EXPECT_TRUE(listed(90, *decode).split_counts.empty());
  auto dense = candidates(h200, problem(DType::bf16, 128), nvrtc_for_61_75_90());
  ASSERT_TRUE(static_cast<bool>(dense)) << llvm::toString(dense.takeError());
  EXPECT_TRUE(dense->split_counts.empty());
}

TEST(TunerCandidates, MaxCandidatesOneTunesOnlyTheDefault) {
  const CandidateList list = listed(61, problem(DType::f16, 256));
  testing::FakeBackend backend;
  TuneOptions options;
  options.max_candidates = 1;
  options.compile_threads = 2;
  auto result = tune(list, backend, options);
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  EXPECT_EQ(backend.total_compiles(), 1);
  EXPECT_EQ(result->winner.spec, list.specs.front());
  EXPECT_EQ(result->candidates.size(), list.specs.size() + list.pruned.size());
}

}  // namespace
}  // namespace flashjit::tuner
