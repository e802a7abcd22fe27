// flashjit warm MANIFEST.json [--arch sm_XY] [--cache PATH]: pre-warm the tuning cache for every
// problem a deployment lists. On a GPU each problem is tuned (or found in the cache); with --arch
// and no GPU, the heuristic choice is compiled for that arch and stored untuned, for any device
// of that compute capability, to be tuned on the target later.
#include <chrono>
#include <fstream>
#include <sstream>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "cache/tuning_cache.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "runtime/cuda/device.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/cuda_tuning_backend.h"
#include "runtime/kernel_provider.h"
#include "tools/commands.h"
#include "tools/progress_bar.h"
#include "tools/subcommands.h"
#include "tuner/manifest.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;

cl::opt<std::string> manifest_path(cl::Positional, cl::desc("MANIFEST.json"), cl::sub(warm_command), cl::cat(flashjit_options));
cl::opt<std::string> arch("arch", cl::desc("Compile for this architecture without a GPU (stored untuned)"),
                          cl::sub(warm_command), cl::cat(flashjit_options));
cl::opt<std::string> cache_path("cache", cl::desc("Cache file (default: $FLASHJIT_CACHE_DIR/flashjit.sqlite, ...)"),
                                cl::sub(warm_command), cl::cat(flashjit_options));
cl::opt<double> budget_ms("budget-ms", cl::desc("Timed-sample budget per candidate (ms)"), cl::sub(warm_command),
                          cl::cat(flashjit_options), cl::init(60.0));

int fail(const std::string& message, int code = 1) {
  llvm::errs() << "flashjit warm: error: " << message << "\n";
  return code;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int warm_compile_only(const std::vector<Problem>& problems, cache::TuningCache& cache, int cc) {
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(cc);
  int failures = 0;
  for (const Problem& job : problems) {
    const std::string problem = job.key().str();
    auto selection = gen::select_variant(device, job, cuda::nvrtc_targets());
    if (!selection) {
      llvm::outs() << llvm::formatv("  {0,-36} FAILED: {1}\n", problem, llvm::toString(selection.takeError()));
      ++failures;
      continue;
    }
    auto compiled = compile_candidate(selection->spec);
    if (!compiled) {
      llvm::outs() << llvm::formatv("  {0,-36} FAILED: {1}\n", problem, llvm::toString(compiled.takeError()));
      ++failures;
      continue;
    }
    const cache::CacheEntry entry = untuned_entry(make_cache_key(device, job), selection->spec, *compiled);
    auto stored = cache.store(entry);
    if (!stored) {
      llvm::outs() << llvm::formatv("  {0,-36} FAILED: {1}\n", problem, llvm::toString(stored.takeError()));
      ++failures;
      continue;
    }
    const char* what = stored->outcome == cache::StoreOutcome::added      ? "stored (untuned)"
                       : stored->outcome == cache::StoreOutcome::replaced ? "replaced (untuned)"
                       : stored->outcome == cache::StoreOutcome::read_only ? "not stored: cache is read-only"
                                                                           : "kept the existing entry";
    llvm::outs() << llvm::formatv("  {0,-36} {1}: {2}\n", problem, gen::canonical_key(selection->spec), what);
  }
  return failures == 0 ? 0 : 1;
}

int warm_on_gpu(const std::vector<Problem>& jobs, cache::TuningCache& cache) {
  auto device = cuda::describe_device(0);
  if (!device) return fail(llvm::toString(device.takeError()));
  auto context = cuda::PrimaryContext::retain(0);
  if (!context) return fail(llvm::toString(context.takeError()));
  ProviderOptions options;
  options.tune = true;
  options.tune_options.budget_ms_per_candidate = budget_ms;
  KernelProvider provider(*device, **context, &cache, options);
  llvm::outs() << llvm::formatv("warming {0} problems on {1} (sm_{2})\n", jobs.size(), device->name,
                                device->compute_capability());
  int failures = 0;
  ProgressBar bar("warming");
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string problem = jobs[i].key().str();
    bar.update(static_cast<int>(i), static_cast<int>(jobs.size()), problem);
    const auto start = std::chrono::steady_clock::now();
    auto ready = provider.obtain(jobs[i]);
    bar.finish();
    if (!ready) {
      llvm::outs() << llvm::formatv("  {0,-36} FAILED: {1}\n", problem, llvm::toString(ready.takeError()));
      ++failures;
      continue;
    }
    llvm::outs() << llvm::formatv("  {0,-36} {1}: {2} in {3:F2} s\n", problem, gen::canonical_key(ready->spec),
                                  ready->origin == "cache" ? "already in the cache" : "tuned and stored",
                                  seconds_since(start));
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int run_warm() {
  if (manifest_path.empty()) return fail("give the manifest: flashjit warm MANIFEST.json [--arch sm_XY]", 2);
  std::ifstream in(manifest_path);
  if (!in) return fail("cannot read " + manifest_path);
  std::stringstream text;
  text << in.rdbuf();
  auto problems = tuner::parse_manifest(text.str());
  if (!problems) return fail(manifest_path + ": " + llvm::toString(problems.takeError()));
  const std::vector<Problem>& jobs = *problems;

  auto opened = cache_path.empty() ? cache::TuningCache::open_default() : cache::TuningCache::open(cache_path);
  if (!opened) return fail(llvm::toString(opened.takeError()));
  if ((*opened)->read_only()) return fail((*opened)->path() + " is read-only: " + (*opened)->read_only_reason());

  if (!arch.empty()) {
    auto target = gen::parse_arch(arch);
    if (!target) return fail(llvm::toString(target.takeError()), 2);
    llvm::outs() << llvm::formatv("compiling {0} problems for {1} without tuning into {2}\n", jobs.size(), arch,
                                  (*opened)->path());
    return warm_compile_only(jobs, **opened, target->first);
  }
  auto device = cuda::describe_device(0);
  if (!device)
    return fail("no usable GPU to tune on (" + llvm::toString(device.takeError()) +
                "); give --arch sm_XY to compile without tuning");
  return warm_on_gpu(jobs, **opened);
}

}  // namespace flashjit::tools
