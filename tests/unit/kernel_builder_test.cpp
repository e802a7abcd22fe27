// The kernel builder on a scripted fake GPU and a real SQLite cache: the path every kernel takes
// (forced options, cache, tuner or heuristic, store, load), `warm` over a manifest on a GPU and
// cross-compiling, and the context it must make current before it loads anything.
#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "helpers/problems.h"
#include "cache/sqlite_database.h"
#include "runtime/cache_entries.h"
#include "runtime/kernel_builder.h"
#include "runtime/kernel_table.h"
#include "runtime/open_cache.h"
#include "runtime/warm.h"
#include "tuner/manifest.h"
#include "unit/cache_test_support.h"
#include "unit/fake_build_device.h"

namespace flashjit {
namespace {

using testing::FakeBuildDevice;
using testing::FakeDeviceRecord;

std::vector<Problem> shipped_manifest() {
  std::ifstream in(FLASHJIT_SOURCE_DIR "/examples/deploy-manifest.json");
  std::stringstream text;
  text << in.rdbuf();
  auto problems = tuner::parse_manifest(text.str());
  if (!problems) {
    ADD_FAILURE() << llvm::toString(problems.takeError());
    return {};
  }
  return std::move(*problems);
}

BuildOptions quick_tuning() {
  BuildOptions options;
  options.tune_options.warmup_runs = 0;
  options.tune_options.budget_ms_per_candidate = 0;
  options.tune_options.max_samples = 3;
  options.tune_options.compile_threads = 2;
  return options;
}

// A builder as one process would have it: a fresh fake device (counting into `record`) and the
// cache file at `path` opened anew.
std::unique_ptr<KernelBuilder> builder_for(const std::shared_ptr<FakeDeviceRecord>& record, const std::string& path,
                                           BuildOptions options = quick_tuning(), bool can_run = true,
                                           cache::OpenOptions cache_options = {}) {
  auto cache = open_tuning_cache(path, cache_options);
  if (!cache) ADD_FAILURE() << llvm::toString(cache.takeError());
  return std::make_unique<KernelBuilder>(std::make_unique<FakeBuildDevice>(record, can_run),
                                         cache ? std::move(*cache) : nullptr, options);
}

std::vector<std::string> what_happened(const std::vector<WarmOutcome>& outcomes) {
  std::vector<std::string> lines;
  for (const WarmOutcome& o : outcomes)
    lines.push_back(o.status.ok() ? o.problem_key + ": " + o.what_happened() : o.problem_key + ": " + o.status.to_string());
  return lines;
}

// The bug the builder fixed: `flashjit warm` on a GPU never made the context current, so on a warm
// cache every module load failed and every problem was tuned again. A second warm over the same
// manifest must find every problem in the cache and tune, compile and store nothing.
TEST(Warm, ASecondWarmOverTheSameManifestTunesNothing) {
  cache::testing::ScratchDir dir;
  const std::vector<Problem> problems = shipped_manifest();
  ASSERT_EQ(problems.size(), 4u);

  auto first_record = std::make_shared<FakeDeviceRecord>();
  const std::vector<WarmOutcome> first = warm(*builder_for(first_record, dir.file("c.sqlite")), problems);
  EXPECT_EQ(what_happened(first),
            (std::vector<std::string>{"bf16_d128_causal_gqa4_len1024: tuned and stored",
                                      "bf16_d128_causal_gqa4_len4096: tuned and stored",
                                      "bf16_d128_none_gqa4_len16384: tuned and stored",
                                      "f16_d64_causal_gqa1_len2048: tuned and stored"}));
  EXPECT_EQ(first_record->tuning_backends, 4);

  auto second_record = std::make_shared<FakeDeviceRecord>();
  const std::vector<WarmOutcome> second = warm(*builder_for(second_record, dir.file("c.sqlite")), problems);
  EXPECT_EQ(what_happened(second),
            (std::vector<std::string>{"bf16_d128_causal_gqa4_len1024: already in the cache",
                                      "bf16_d128_causal_gqa4_len4096: already in the cache",
                                      "bf16_d128_none_gqa4_len16384: already in the cache",
                                      "f16_d64_causal_gqa1_len2048: already in the cache"}));
  EXPECT_EQ(second_record->tuning_backends, 0);
  EXPECT_EQ(second_record->compiles, 0);
  // Each cached kernel was loaded, inside the device's context, and is the first warm's winner.
  EXPECT_EQ(second_record->loads, 4);
  for (size_t i = 0; i < problems.size(); ++i) {
    EXPECT_EQ(second[i].origin, KernelOrigin::cache);
    EXPECT_EQ(second[i].kernel_key, first[i].kernel_key);
    EXPECT_FALSE(second[i].stored.has_value());
  }
  EXPECT_EQ(second_record->current, 0) << "every scope the builder entered was left";
}

// Cross-compiling (`warm --arch`) stores untuned kernels for any device of the architecture; again
// a second run compiles nothing. A GPU of that architecture then finds them, tunes (its tuning is
// on) and replaces them; after that, a third process finds the tuned kernels.
TEST(Warm, CrossCompiledEntriesAreFoundByTheArchitectureAndTunedThere) {
  cache::testing::ScratchDir dir;
  const std::vector<Problem> problems = shipped_manifest();
  BuildOptions compile_only;
  compile_only.tune = false;

  auto build_machine = std::make_shared<FakeDeviceRecord>();
  const auto first = warm(*builder_for(build_machine, dir.file("c.sqlite"), compile_only, false), problems);
  for (const std::string& line : what_happened(first)) EXPECT_NE(line.find(": stored (untuned)"), std::string::npos) << line;
  EXPECT_EQ(build_machine->compiles, 4);
  EXPECT_EQ(build_machine->loads, 0);

  auto again = std::make_shared<FakeDeviceRecord>();
  const auto second = warm(*builder_for(again, dir.file("c.sqlite"), compile_only, false), problems);
  for (const std::string& line : what_happened(second))
    EXPECT_NE(line.find(": already in the cache"), std::string::npos) << line;
  EXPECT_EQ(again->compiles, 0);

  auto gpu = std::make_shared<FakeDeviceRecord>();
  const auto on_gpu = warm(*builder_for(gpu, dir.file("c.sqlite")), problems);
  for (const std::string& line : what_happened(on_gpu)) EXPECT_NE(line.find(": tuned and stored"), std::string::npos) << line;
  EXPECT_EQ(gpu->tuning_backends, 4);

  auto later = std::make_shared<FakeDeviceRecord>();
  const auto third = warm(*builder_for(later, dir.file("c.sqlite")), problems);
  for (const std::string& line : what_happened(third))
    EXPECT_NE(line.find(": already in the cache"), std::string::npos) << line;
  EXPECT_EQ(later->tuning_backends, 0);
}

// A warm exists to fill the cache: a kernel built but not stored (the database locked by another
// writer past the busy timeout, here) fails the warm and says why.
TEST(Warm, AStoreThatFailsFailsTheWarm) {
  cache::testing::ScratchDir dir;
  BuildOptions compile_only;
  compile_only.tune = false;
  cache::OpenOptions impatient;
  impatient.busy_timeout_ms = 50;
  auto builder = builder_for(std::make_shared<FakeDeviceRecord>(), dir.file("c.sqlite"), compile_only, false, impatient);
  auto other_writer = cache::Database::open(dir.file("c.sqlite"), cache::Database::Mode::read_write);
  ASSERT_TRUE(static_cast<bool>(other_writer)) << llvm::toString(other_writer.takeError());
  auto locked = cache::WriteTransaction::begin(**other_writer);
  ASSERT_TRUE(static_cast<bool>(locked)) << llvm::toString(locked.takeError());

  const auto outcomes = warm(*builder, {flashjit::testing::problem_with(DType::bf16, 128, MaskKind::causal)});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].status.ok()) << "the kernel itself was built";
  EXPECT_FALSE(outcomes[0].ok());
  EXPECT_FALSE(outcomes[0].stored.has_value());
  EXPECT_NE(outcomes[0].store_error.find("locked"), std::string::npos) << outcomes[0].store_error;
  EXPECT_EQ(outcomes[0].what_happened().rfind("compiled (untuned); not stored: ", 0), 0u) << outcomes[0].what_happened();
}

// With tuning off, a GPU takes an untuned entry as it is and loads it.
TEST(KernelBuilder, WithTuningOffAnUntunedEntryIsUsed) {
  cache::testing::ScratchDir dir;
  const Problem problem = flashjit::testing::problem_with(DType::bf16, 128, MaskKind::causal);
  BuildOptions untuned;
  untuned.tune = false;
  auto writer = std::make_shared<FakeDeviceRecord>();
  auto stored = builder_for(writer, dir.file("c.sqlite"), untuned)->obtain(problem);
  ASSERT_TRUE(static_cast<bool>(stored)) << llvm::toString(stored.takeError());
  EXPECT_EQ(stored->origin, KernelOrigin::heuristic);
  EXPECT_EQ(stored->stored, std::optional<cache::StoreOutcome>(cache::StoreOutcome::added));
  ASSERT_NE(stored->kernel, nullptr);

  auto reader = std::make_shared<FakeDeviceRecord>();
  auto cached = builder_for(reader, dir.file("c.sqlite"), untuned)->obtain(problem);
  ASSERT_TRUE(static_cast<bool>(cached)) << llvm::toString(cached.takeError());
  EXPECT_EQ(cached->origin, KernelOrigin::cache);
  EXPECT_EQ(gen::canonical_key(cached->spec), gen::canonical_key(stored->spec));
  EXPECT_EQ(reader->compiles, 0);
  EXPECT_EQ(reader->loads, 1);
}

// The winner of a tuning run is stored and then loaded from its cubin, inside the context.
TEST(KernelBuilder, TheTunedWinnerIsStoredAndLoaded) {
  cache::testing::ScratchDir dir;
  auto record = std::make_shared<FakeDeviceRecord>();
  auto builder = builder_for(record, dir.file("c.sqlite"));
  const Problem problem = flashjit::testing::problem_with(DType::f16, 64);
  auto built = builder->obtain(problem);
  ASSERT_TRUE(static_cast<bool>(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::tuned);
  ASSERT_NE(built->kernel, nullptr);
  EXPECT_EQ(record->loaded_keys, std::vector<std::string>{gen::canonical_key(built->spec)});

  const cache::CacheKey key = cache_key_for(builder->device().description(), builder->device().compiler(), problem);
  auto row = builder->cache()->lookup(key);
  ASSERT_TRUE(row && row->has_value());
  EXPECT_TRUE((*row)->tuned);
  EXPECT_EQ((*row)->kernel_symbol, "fake_" + gen::canonical_key(built->spec));
  EXPECT_EQ((*row)->key.device_name, "Fake H100");
}

// When no candidate survives tuning, the heuristic default still serves the call (and is stored
// untuned, to be tuned by a later process).
TEST(KernelBuilder, FailedTuningFallsBackToTheHeuristicDefault) {
  cache::testing::ScratchDir dir;
  auto record = std::make_shared<FakeDeviceRecord>();
  auto builder = builder_for(record, dir.file("c.sqlite"));
  const Problem problem = flashjit::testing::problem_with(DType::f16, 64);
  auto list = tuner::candidates(builder->device().description(), problem, builder->device().compiler());
  ASSERT_TRUE(static_cast<bool>(list));
  for (const gen::KernelSpec& spec : list->specs) record->scripts[gen::canonical_key(spec)].time_fails = true;

  auto built = builder->obtain(problem);
  ASSERT_TRUE(static_cast<bool>(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::heuristic);
  EXPECT_EQ(built->stored, std::optional<cache::StoreOutcome>(cache::StoreOutcome::added));
  EXPECT_EQ(gen::canonical_key(built->spec), gen::canonical_key(list->specs.front()));
}

// A kernel fault during tuning poisons the context: no fallback is compiled, nothing is stored,
// and the error says the tuning stopped.
TEST(KernelBuilder, AFaultDuringTuningBuildsAndStoresNothingMore) {
  cache::testing::ScratchDir dir;
  auto record = std::make_shared<FakeDeviceRecord>();
  auto builder = builder_for(record, dir.file("c.sqlite"));
  const Problem problem = flashjit::testing::problem_with(DType::f16, 64);
  auto list = tuner::candidates(builder->device().description(), problem, builder->device().compiler());
  ASSERT_TRUE(static_cast<bool>(list));
  record->scripts[gen::canonical_key(list->specs.front())].faults_device = true;

  const std::string message = flashjit::testing::message_of(builder->obtain(problem), ErrorCode::driver_error);
  EXPECT_NE(message.find("tuning stopped: the GPU context was lost while running"), std::string::npos) << message;
  EXPECT_EQ(record->compiles, 0) << "no heuristic fallback was compiled";
  auto rows = builder->cache()->list();
  ASSERT_TRUE(static_cast<bool>(rows));
  EXPECT_TRUE(rows->empty());
}

TEST(KernelBuilder, AForcedTileTheDeviceCannotRunIsRefusedBeforeAnyCompile) {
  auto record = std::make_shared<FakeDeviceRecord>();
  BuildOptions options;
  options.force_variant = Variant::mma_sm80;
  options.force_tiles = TileConfig{128, 48, 4, 2};
  KernelBuilder builder(std::make_unique<FakeBuildDevice>(record), nullptr, options);
  EXPECT_EQ(flashjit::testing::message_of(builder.obtain(flashjit::testing::problem_with(DType::bf16, 128)),
                                          ErrorCode::invalid_argument),
            "forced tiles give spec mma_sm80_sm90_bf16_d128_m128n48w4s2_none, which cannot run on Fake H100: "
            "mma_sm80 block_n 48 must be 16, 32, 64 or 128");
  EXPECT_EQ(record->compiles, 0);
}

TEST(KernelBuilder, AForcedVariantBypassesCacheAndTuner) {
  auto record = std::make_shared<FakeDeviceRecord>();
  BuildOptions options;
  options.force_variant = Variant::mma_sm75;
  KernelBuilder builder(std::make_unique<FakeBuildDevice>(record), nullptr, options);
  auto built = builder.obtain(flashjit::testing::problem_with(DType::f16, 128));
  ASSERT_TRUE(static_cast<bool>(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(built->origin, KernelOrigin::forced);
  EXPECT_EQ(built->spec.variant, Variant::mma_sm75);
  EXPECT_EQ(record->tuning_backends, 0);
  EXPECT_EQ(record->loads, 1);

  // A variant that cannot serve the problem says why, as invalid_argument (the forced choice is the
  // caller's to change), and nothing compiles.
  options.force_variant = Variant::mma_sm80;
  const int compiles_before = record->compiles;
  KernelBuilder f32(std::make_unique<FakeBuildDevice>(record), nullptr, options);
  EXPECT_EQ(flashjit::testing::message_of(f32.obtain(flashjit::testing::problem_with(DType::f32, 128)),
                                          ErrorCode::invalid_argument),
            "forced variant mma_sm80 cannot run on Fake H100 (sm_90): mma_sm80 computes f16 and bf16, not f32");
  EXPECT_EQ(record->compiles, compiles_before);
}

// What plan() shows is what a forced forward() would build: the forced tiles over the variant's
// defaults, and a refusal, before any compile, where they cannot run.
TEST(KernelBuilder, SelectShowsAndChecksTheForcedTiles) {
  auto record = std::make_shared<FakeDeviceRecord>();
  BuildOptions options;
  options.force_variant = Variant::mma_sm80;
  options.force_tiles = TileConfig{64, 0, 0, 3};
  KernelBuilder builder(std::make_unique<FakeBuildDevice>(record), nullptr, options);
  const Problem problem = flashjit::testing::problem_with(DType::bf16, 128);
  auto selection = builder.select(problem);
  ASSERT_TRUE(static_cast<bool>(selection)) << llvm::toString(selection.takeError());
  auto built = builder.obtain(problem);
  ASSERT_TRUE(static_cast<bool>(built)) << llvm::toString(built.takeError());
  EXPECT_EQ(gen::canonical_key(selection->spec), gen::canonical_key(built->spec));
  EXPECT_EQ(selection->spec.block_m, 64);
  EXPECT_EQ(selection->spec.stages, 3);

  options.force_tiles = TileConfig{128, 48, 4, 2};
  KernelBuilder refused(std::make_unique<FakeBuildDevice>(record), nullptr, options);
  EXPECT_EQ(flashjit::testing::message_of(refused.select(problem), ErrorCode::invalid_argument),
            "forced tiles give spec mma_sm80_sm90_bf16_d128_m128n48w4s2_none, which cannot run on Fake H100: "
            "mma_sm80 block_n 48 must be 16, 32, 64 or 128");
  EXPECT_EQ(record->compiles, 1) << "only the first builder's kernel was compiled";
}

// Issue 14: a windowed problem of a dense problem's shape is a problem of its own. It is tuned
// under its own key, with its window bounds in the problem the tuner times, stored beside the dense
// one, and each later process finds its own kernel: the dense kernel never serves the window.
TEST(KernelBuilder, ATunedDenseKernelIsNotReusedForAWindowedProblem) {
  cache::testing::ScratchDir dir;
  const ProblemFeatures causal{DType::bf16, 128, MaskKind::causal};
  const ProblemShape shape{2, 8, 8, 4096, 4096};
  auto dense = Problem::of_shape(causal, shape);
  auto windowed = Problem::of_shape(causal, shape, ScoreModValues{256, 0, 0.0f});
  ASSERT_TRUE(dense && windowed);
  ASSERT_NE(dense->key(), windowed->key());
  EXPECT_EQ(windowed->key().str(), "bf16_d128_causal_window_gqa1_len4096");

  auto record = std::make_shared<FakeDeviceRecord>();
  auto builder = builder_for(record, dir.file("c.sqlite"));
  auto built_dense = builder->obtain(*dense);
  auto built_window = builder->obtain(*windowed);
  ASSERT_TRUE(built_dense && built_window);
  EXPECT_EQ(built_dense->origin, KernelOrigin::tuned);
  EXPECT_EQ(built_window->origin, KernelOrigin::tuned);
  EXPECT_FALSE(built_dense->spec.features().window);
  EXPECT_TRUE(built_window->spec.features().window);
  ASSERT_EQ(record->tuning_backends, 2) << "the windowed problem was tuned, not served the dense kernel";
  EXPECT_EQ(record->tuned_problems[1].key(), windowed->key());
  EXPECT_EQ(record->tuned_problems[1].score_mod_values(), (ScoreModValues{256, 0, 0.0f}));

  auto rows = builder->cache()->list();
  ASSERT_TRUE(static_cast<bool>(rows)) << llvm::toString(rows.takeError());
  ASSERT_EQ(rows->size(), 2u);
  std::vector<std::string> keys = {(*rows)[0].key.problem_key, (*rows)[1].key.problem_key};
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"bf16_d128_causal_gqa1_len4096", "bf16_d128_causal_window_gqa1_len4096"}));

  // The kernel table keys them apart too.
  KernelTable table;
  for (const Problem* p : {&*dense, &*windowed})
    ASSERT_TRUE(static_cast<bool>(table.get_or_build(p->key(), [&] { return builder->obtain(*p); })));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_TRUE(table.find(windowed->key())->spec.features().window);
  EXPECT_FALSE(table.find(dense->key())->spec.features().window);

  auto later = std::make_shared<FakeDeviceRecord>();
  auto second = builder_for(later, dir.file("c.sqlite"));
  auto cached_window = second->obtain(*windowed);
  auto cached_dense = second->obtain(*dense);
  ASSERT_TRUE(cached_window && cached_dense);
  EXPECT_EQ(cached_window->origin, KernelOrigin::cache);
  EXPECT_EQ(cached_dense->origin, KernelOrigin::cache);
  EXPECT_EQ(gen::canonical_key(cached_window->spec), gen::canonical_key(built_window->spec));
  EXPECT_EQ(gen::canonical_key(cached_dense->spec), gen::canonical_key(built_dense->spec));
  EXPECT_EQ(later->tuning_backends, 0);
}

// The exact device's key names it; the architecture's key (what a cross-compile stores) does not.
TEST(CacheEntries, TheArchitectureKeyLeavesTheDeviceOut) {
  const Problem problem = flashjit::testing::problem_with(DType::bf16, 128, MaskKind::causal);
  const gen::CompilerTargets nvrtc{13, 0, {90}};
  FakeBuildDevice gpu(std::make_shared<FakeDeviceRecord>());
  const cache::CacheKey exact = cache_key_for(gpu.description(), nvrtc, problem);
  const cache::CacheKey any = cache_key_for(gen::DeviceDescription::for_arch(90), nvrtc, problem);
  EXPECT_EQ(exact.device_name, "Fake H100");
  EXPECT_EQ(exact.sm_count, 132);
  EXPECT_EQ(exact.driver_version, 13000);
  EXPECT_EQ(any.device_name, "");
  EXPECT_EQ(any.sm_count, 0);
  EXPECT_EQ(any.driver_version, 0);
  for (const cache::CacheKey* key : {&exact, &any}) {
    EXPECT_EQ(key->compute_capability, 90);
    EXPECT_EQ(key->nvrtc_version, 13000);
    EXPECT_EQ(key->problem_key, "bf16_d128_causal_gqa1_len128");
    EXPECT_EQ(key->compile_options, "--gpu-architecture=sm_90 -std=c++17 --ptxas-options=-v");
  }
}

}  // namespace
}  // namespace flashjit
