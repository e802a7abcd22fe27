// The candidate list: the default tile of every variant the selector finds usable and the tile grid
// of the one it selects, statically pruned by the same check that validates any spec, so the tuner
// never compiles a tile that cannot run here (too much shared memory for THIS device, register
// spills, bad divisibility).
#include <set>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "generator/decode_splits.h"
#include "generator/variant_rules.h"
#include "tuner/candidate_report.h"
#include "tuner/tuner.h"
#include "support/error.h"

namespace flashjit::tuner {
namespace {

// The specs to consider, unpruned, in tuning order: each usable variant's default (most capable
// variant first, so the selector's own choice leads and survives max_candidates), then the tile
// grid of the selected variant. The other usable variants compete with their default only: a
// less capable variant rarely wins, and its whole grid (48 generic tiles on Hopper) would multiply
// the first-use compile time for nothing. Duplicates are dropped later.
llvm::Expected<std::vector<gen::KernelSpec>> ordered_specs(const gen::Selection& selection,
                                                           const gen::DeviceDescription& device,
                                                           const Problem& problem) {
  std::vector<gen::KernelSpec> specs;
  for (const gen::VariantVerdict& verdict : selection.verdicts) {
    if (!verdict.usable) continue;
    auto base = gen::default_spec(verdict.variant, device, problem);
    if (!base) return base.takeError();
    specs.push_back(*base);
  }
  const gen::VariantRules& rules = gen::rules_for(selection.spec.variant);
  if (rules.tile_grid)
    for (const gen::KernelSpec& spec : rules.tile_grid(selection.spec)) specs.push_back(spec);
  return specs;
}

std::string device_label(const gen::DeviceDescription& device) {
  if (device.nominal) return device.name;
  return device.name + " (sm_" + std::to_string(device.compute_capability()) + ")";
}

}  // namespace

llvm::Expected<CandidateList> candidates(const gen::DeviceDescription& device, const Problem& problem,
                                         const gen::CompilerTargets& targets) {
  // The selector says, once, why nothing can run (bad head_dim, no NVRTC target, no variant).
  auto selection = gen::select_variant(device, problem, targets);
  if (!selection) return selection.takeError();
  auto specs = ordered_specs(*selection, device, problem);
  if (!specs) return specs.takeError();

  CandidateList list;
  if (problem.features().kv_cache && !device.nominal && device.sm_count > 0) {
    list.key_splits = gen::problem_split_count(problem.shape(), device.sm_count);
    list.split_counts = gen::tuned_split_candidates(list.key_splits);
  }
  std::set<std::string> seen;
  for (const gen::KernelSpec& spec : *specs) {
    if (!seen.insert(gen::canonical_key(spec)).second) continue;
    std::vector<std::string> problems = gen::spec_problems(spec, device);
    if (problems.empty()) {
      list.specs.push_back(spec);
      continue;
    }
    list.pruned.push_back(make_report(spec, CandidateStatus::pruned, llvm::join(problems, "; ")));
  }
  if (!list.specs.empty()) return list;
  return make_error(ErrorCode::unsupported,
                    llvm::formatv("every tuning candidate for {0} head_dim {1} on {2} was pruned: {3}",
                                  dtype_name(problem.dtype()), problem.head_dim(), device_label(device),
                                  failure_summary(list.pruned))
                        .str());
}

}  // namespace flashjit::tuner
