// flashjit warm MANIFEST.json [--arch sm_XY] [--cache PATH] [--remote URL]: pre-warm the tuning cache for every
// problem a deployment lists. On a GPU each problem is tuned (or found in the cache); with --arch
// and no GPU, the heuristic choice is compiled for that arch and stored untuned, for any device
// of that compute capability, to be tuned on the target later. With --remote (or
// $FLASHJIT_REMOTE_CACHE) the fleet's remote cache is looked in first and every result is
// published to it: one build machine or one GPU server warms the whole fleet.
#include <optional>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "generator/spec_json.h"
#include "runtime/compile_only_device.h"
#include "runtime/cuda_device.h"
#include "runtime/kernel_builder.h"
#include "runtime/warm.h"
#include "support/quote.h"
#include "support/untrusted_input.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/progress_bar.h"
#include "tools/subcommands.h"
#include "tuner/manifest.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;

cl::opt<std::string> manifest_path(cl::Positional, cl::desc("MANIFEST.json"), cl::sub(warm_command), cl::cat(flashjit_options));
cl::opt<std::string> arch("arch", cl::desc("Compile for this architecture without a GPU (stored untuned)"),
                          cl::sub(warm_command), cl::cat(flashjit_options));

int fail(const std::string& message, int code = 1) {
  llvm::errs() << "flashjit warm: error: " << message << "\n";
  return code;
}

// Warms every problem through `builder`, one line each; 1 when any failed.
int warm_all(const KernelBuilder& builder, const std::vector<Problem>& problems) {
  ProgressBar bar("warming");
  WarmCallbacks callbacks;
  callbacks.starting = [&](size_t i, size_t total, const Problem& problem) {
    bar.update(static_cast<int>(i), static_cast<int>(total), builder.key_of(problem).str());
  };
  // Numbered from 1, as "duplicate of entry N" counts.
  size_t number = 0;
  callbacks.finished = [&](const WarmOutcome& outcome) {
    bar.finish();
    ++number;
    if (!outcome.status.ok()) {
      llvm::outs() << llvm::formatv("{0,4}  {1,-36} FAILED: {2}{3}\n", number, outcome.problem_key,
                                    outcome.duplicate_of ? outcome.what_happened() + ": " : "",
                                    outcome.status.message());
      return;
    }
    llvm::outs() << llvm::formatv("{0,4}  {1,-36} {2}: {3}{4}{5}\n", number, outcome.problem_key,
                                  outcome.kernel_key, outcome.ok() ? "" : "FAILED: ", outcome.what_happened(),
                                  outcome.duplicate_of ? "" : llvm::formatv(" in {0:F2} s", outcome.seconds).str());
  };
  const std::vector<WarmOutcome> outcomes = warm(builder, problems, callbacks);
  for (const WarmOutcome& outcome : outcomes)
    if (!outcome.ok()) return 1;
  return 0;
}

}  // namespace

int run_warm() {
  if (manifest_path.empty()) return fail("give the manifest: flashjit warm MANIFEST.json [--arch sm_XY]", 2);
  auto max_bytes = max_input_bytes_from_options(kMaxManifestBytes);
  if (!max_bytes) return fail(llvm::toString(max_bytes.takeError()), 2);
  auto text = read_input_file(manifest_path, *max_bytes, "--max-input-bytes");
  if (!text) return fail(llvm::toString(text.takeError()));
  auto problems = tuner::parse_manifest(*text);
  if (!problems) return fail(quote_prefix(manifest_path, 512) + ": " + llvm::toString(problems.takeError()));
  // The options before the cache is opened (or created): a bad one changes nothing.
  auto tune_options = tune_options_from_options();
  if (!tune_options) return fail(llvm::toString(tune_options.takeError()), 2);
  std::optional<int> target_arch;
  if (!arch.empty()) {
    auto target = gen::parse_arch(arch);
    if (!target) return fail("--arch: " + llvm::toString(target.takeError()), 2);
    target_arch = target->first;
  }

  auto remote = remote_from_options(/*required=*/false);
  if (!remote) return fail(llvm::toString(remote.takeError()), 2);
  if (*remote && !(*remote)->settings().key && !(*remote)->settings().allow_unsigned)
    return fail("the remote tuning cache " + (*remote)->settings().endpoint.describe() + " needs the fleet key to sign "
                "what this warm publishes: set FLASHJIT_REMOTE_CACHE_KEY_FILE (or FLASHJIT_REMOTE_CACHE_UNSIGNED=1)",
                2);
  auto opened = cache_from_options();
  if (!opened) return fail(llvm::toString(opened.takeError()));
  if ((*opened)->read_only()) return fail((*opened)->path() + " is read-only: " + (*opened)->read_only_reason());
  const std::string path = (*opened)->path();

  std::unique_ptr<BuildDevice> device;
  BuildOptions options;
  if (target_arch) {
    device = std::make_unique<CompileOnlyDevice>(*target_arch);
    options.tune = false;
    llvm::outs() << llvm::formatv("compiling {0} problems for {1} without tuning into {2}\n", problems->size(), arch,
                                  path);
  } else {
    auto gpu = CudaDevice::open(0);
    if (!gpu)
      return fail("no usable GPU to tune on (" + llvm::toString(gpu.takeError()) +
                  "); give --arch sm_XY to compile without tuning");
    llvm::outs() << llvm::formatv("warming {0} problems on {1} (sm_{2}) into {3}\n", problems->size(),
                                  (*gpu)->description().name, (*gpu)->description().compute_capability(), path);
    options.tune_options = *tune_options;
    device = std::move(*gpu);
  }
  if (*remote) llvm::outs() << "publishing to the remote tuning cache " << (*remote)->describe() << "\n";
  const KernelBuilder builder(std::move(device), std::move(*opened), options, std::move(*remote));
  const int status = warm_all(builder, *problems);
  if (cache::RemoteCache* fleet = builder.remote()) {
    const cache::RemoteCounters counters = fleet->counters();
    llvm::outs() << llvm::formatv("remote tuning cache: {0} fetched, {1} published, {2} kept its entry, {3} rejected{4}\n",
                                  counters.hits, counters.published, counters.publish_kept, counters.rejected,
                                  counters.failures ? llvm::formatv(", unavailable {0} time(s)", counters.failures).str()
                                                    : std::string());
  }
  return status;
}

}  // namespace flashjit::tools
