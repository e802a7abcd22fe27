// flashjit tune: tune one problem on this GPU and print every candidate (spec, registers, time,
// TFLOP/s, status) and the winner. Without a GPU it says why, then lists the candidates for
// --arch with their static pruning and compiles them, which is all a machine without a GPU can do.
#include <cmath>

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "flashjit/flashjit.h"
#include "generator/spec_json.h"
#include "runtime/compile_only_device.h"
#include "runtime/cuda_device.h"
#include "runtime/kernel_builder.h"
#include "tools/commands.h"
#include "problem/gqa_packing.h"
#include "tools/common_options.h"
#include "tools/modifier_text.h"
#include "tools/progress_bar.h"
#include "tools/subcommands.h"
#include "tuner/tuner.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;

cl::opt<bool> no_store("no-store", cl::desc("Do not store the winners in the tuning cache (nor publish them)"), cl::sub(tune_command),
                       cl::cat(flashjit_options));
cl::opt<std::string> arch("arch", cl::desc("Without a GPU: the architecture to list and compile candidates for"),
                          cl::sub(tune_command), cl::cat(flashjit_options), cl::init("sm_90"));

int fail(const std::string& message) {
  llvm::errs() << "flashjit tune: error: " << message << "\n";
  return 1;
}

void print_table(const std::vector<tuner::CandidateReport>& reports, const Problem* shape) {
  llvm::outs() << llvm::formatv("{0,-44} {1,5} {2,10} {3,19} {4,8}  {5}\n", "candidate", "regs", "median ms",
                                "p20..p80 ms", "TFLOP/s", "status");
  for (const tuner::CandidateReport& r : reports) {
    const bool timed = std::isfinite(r.timing.median_ms) && r.timing.samples > 0;
    const std::string median = timed ? llvm::formatv("{0:F4}", r.timing.median_ms).str() : "-";
    const std::string spread =
        timed ? llvm::formatv("{0:F4}..{1:F4}", r.timing.p20_ms, r.timing.p80_ms).str() : "-";
    const std::string rate =
        timed && shape ? llvm::formatv("{0:F1}", attention_flops(*shape) / (r.timing.median_ms * 1e-3) / 1e12).str() : "-";
    const std::string regs = r.registers > 0 ? std::to_string(r.registers) : "-";
    std::string status = tuner::candidate_status_name(r.status);
    if (!r.detail.empty()) status += ": " + r.detail.substr(0, r.detail.find('\n'));
    llvm::outs() << llvm::formatv("{0,-44} {1,5} {2,10} {3,19} {4,8}  {5}\n", r.key, regs, median, spread, rate, status);
  }
}

// Without a GPU no timing is possible, but the candidate list, the pruning and the compiles are.
int list_and_compile(const Problem& problem) {
  auto target = gen::parse_arch(arch);
  if (!target) return fail(llvm::toString(target.takeError()));
  const KernelBuilder builder(std::make_unique<CompileOnlyDevice>(target->first), nullptr, BuildOptions{});
  ProgressBar bar("compiling");
  auto reports = builder.compile_candidates(
      problem, [&](int done, int total, const std::string& what) { bar.update(done, total, what); });
  bar.finish();
  if (!reports) return fail(llvm::toString(reports.takeError()));
  size_t pruned = 0;
  for (const tuner::CandidateReport& r : *reports) pruned += r.status == tuner::CandidateStatus::pruned;
  llvm::outs() << llvm::formatv("candidates for {0} ({1} to compile, {2} pruned); timing them needs a GPU\n", arch,
                                reports->size() - pruned, pruned);
  print_table(*reports, nullptr);
  return 0;
}

// A deliberate re-tune replaces whatever the cache held for this problem.
void store_winner(const KernelBuilder& builder, const Problem& problem, const tuner::TuneResult& result) {
  if (builder.remote()) {
    auto published = builder.publish_tuned(problem, result);
    if (!published)
      llvm::errs() << "flashjit tune: warning: winner not published: " << llvm::toString(published.takeError()) << "\n";
    else
      llvm::outs() << llvm::formatv("published to {0} ({1})\n", builder.remote()->settings().endpoint.describe(),
                                    cache::store_outcome_name(*published));
  }
  if (!builder.cache()) return;
  auto stored = builder.store_tuned(problem, result);
  if (!stored)
    llvm::errs() << "flashjit tune: warning: winner not stored: " << llvm::toString(stored.takeError()) << "\n";
  else
    llvm::outs() << llvm::formatv("stored in {0} as entry {1} ({2})\n", builder.cache()->path(), stored->id,
                                  cache::store_outcome_name(stored->outcome));
}

int tune_on_gpu(const KernelBuilder& builder, const Problem& problem) {
  const gen::DeviceDescription& device = builder.device().description();
  const ProblemShape& shape = problem.shape();
  llvm::outs() << llvm::formatv("tuning {0} head_dim {1} {2}, batch {3}, heads {4} (kv {5}), seqlen {6}{7} on {8} "
                                "(sm_{9})\n",
                                dtype_name(problem.dtype()), problem.head_dim(), mask_name(problem.mask()), shape.batch,
                                shape.num_heads, shape.num_kv_heads, shape.seqlen_q,
                                problem.features().any_modifier() ? ", " + modifiers_text(problem) : std::string(),
                                device.name, device.compute_capability());
  ProgressBar bar("tuning");
  auto result = builder.tune(problem, [&](int done, int total, const std::string& what) { bar.update(done, total, what); });
  bar.finish();
  if (!result) return fail(llvm::toString(result.takeError()));
  print_table(result->candidates, &problem);
  llvm::outs() << llvm::formatv("winner: {0}, {1:F4} ms median, {2:F1} TFLOP/s\n", result->winner.key,
                                result->timing.median_ms, attention_flops(problem) / (result->timing.median_ms * 1e-3) / 1e12);
  store_winner(builder, problem, *result);
  return 0;
}

}  // namespace

int run_tune() {
  auto problems = problems_from_options(ProblemDefaults{DType::bf16, 128, 1, 16, 4096});
  if (!problems) return fail(llvm::toString(problems.takeError()));
  // A decode step's calls run GQA-packed (problem/gqa_packing.h): tuned as they run.
  for (OptionProblem& option : *problems) {
    auto packed = gqa_packed(option.problem);
    if (!packed) return fail(llvm::toString(packed.takeError()));
    option.problem = std::move(*packed);
  }
  auto tune_options = tune_options_from_options();
  if (!tune_options) return fail(llvm::toString(tune_options.takeError()));

  std::unique_ptr<cache::RemoteCache> remote;
  if (!no_store) {
    auto configured = remote_from_options(/*required=*/false);
    if (!configured) return fail(llvm::toString(configured.takeError()));
    remote = std::move(*configured);
  }
  auto device = CudaDevice::open(0);
  if (!device) {
    llvm::outs() << "no usable GPU: " << llvm::toString(device.takeError()) << "\n";
    // Still useful without a GPU, but nothing was tuned: the exit code says so either way.
    list_and_compile(problems->front().problem);
    return 1;
  }
  std::unique_ptr<cache::TuningCache> cache;
  if (!no_store) {
    auto opened = cache_from_options();
    if (opened)
      cache = std::move(*opened);
    else
      llvm::errs() << "flashjit tune: warning: winners will not be stored: " << llvm::toString(opened.takeError())
                   << "\n";
  }
  BuildOptions options;
  options.tune_options = *tune_options;
  const KernelBuilder builder(std::move(*device), std::move(cache), options, std::move(remote));
  for (const OptionProblem& option_problem : *problems)
    if (int rc = tune_on_gpu(builder, option_problem.problem); rc != 0) return rc;
  return 0;
}

}  // namespace flashjit::tools
