#include "generator/selector.h"

#include <algorithm>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "generator/decode_splits.h"
#include "generator/variant_rules.h"
#include "support/error.h"

namespace flashjit::gen {
namespace {

KernelSpec base_spec(Variant variant, const DeviceDescription& device, const Problem& problem) {
  KernelSpec spec;
  spec.variant = variant;
  spec.arch = device.compute_capability();
  spec.arch_specific = rules_for(variant).arch_specific;
  spec.set_features(problem.features());
  return spec;
}

// "NVIDIA H100 80GB HBM3 (sm_90)", or "nominal sm_61" for a description made from an arch name.
std::string device_label(const DeviceDescription& device) {
  if (device.nominal) return device.name;
  return device.name + " (sm_" + std::to_string(device.compute_capability()) + ")";
}

// A decode-shaped call (issue 15): a KV cache read by at most one 64-row query tile per (sequence,
// KV head), which after GQA packing holds the group's rows. It is bound by reading the cache, not by
// the tensor cores, so a taller tile only adds padding rows: 128 rows for 4 real ones compute 32x
// what they need and hold twice the accumulators, which costs occupancy, i.e. loads in flight.
constexpr int kDecodeTileRows = 64;
bool decode_shaped(const Problem& problem) {
  return problem.features().kv_cache && problem.shape().seqlen_q <= kDecodeTileRows;
}

// The variant's preferred tiles, the decode-sized ones first (in their order) for a decode-shaped
// call.
std::vector<KernelSpec> preferred_tiles_for(const VariantRules& rules, const KernelSpec& base, const Problem& problem) {
  std::vector<KernelSpec> tiles = rules.preferred_tiles(base);
  if (decode_shaped(problem))
    std::stable_partition(tiles.begin(), tiles.end(),
                          [](const KernelSpec& s) { return s.block_m <= kDecodeTileRows; });
  return tiles;
}

// A template that does not split a cache's keys cannot serve a call the heuristic splits on this
// device (a nominal device, whose SM count is unknown, splits nothing).
std::string split_problem(const VariantRules& rules, const DeviceDescription& device, const Problem& problem) {
  if (rules.modifiers.splits_keys || !problem.features().kv_cache || device.sm_count <= 0) return {};
  const int splits = problem_split_count(problem.shape(), device.sm_count);
  if (splits <= 1) return {};
  return llvm::formatv("{0} does not split a cache's keys, and this call's sequences fill {1} SMs only split {2} "
                       "ways (split-KV)",
                       rules.name, device.sm_count, splits);
}

}  // namespace

llvm::Expected<KernelSpec> default_spec(Variant variant, const DeviceDescription& device,
                                        const Problem& problem) {
  const KernelSpec base = base_spec(variant, device, problem);
  const VariantRules& rules = rules_for(variant);
  // A variant that cannot serve this device or dtype at all says so, not that no tile fits.
  if (std::string why = rules.arch_problem(base.arch, base.dtype); !why.empty())
    return make_error(ErrorCode::unsupported, why);
  if (rules.head_dim_problem)
    if (std::string why = rules.head_dim_problem(base.head_dim); !why.empty())
      return make_error(ErrorCode::unsupported, why);
  std::vector<std::string> last_problems;
  for (const KernelSpec& spec : preferred_tiles_for(rules, base, problem)) {
    last_problems = spec_problems(spec, device);
    if (last_problems.empty()) return spec;
  }
  return make_error(ErrorCode::unsupported, std::string("no ") + variant_name(variant) +
                                                " tile fits: " + llvm::join(last_problems, "; "));
}

VariantVerdict judge_variant(Variant variant, const DeviceDescription& device,
                             const Problem& problem, const CompilerTargets& targets) {
  VariantVerdict verdict{variant, false, false, ""};
  const VariantRules& rules = rules_for(variant);
  const int cc = device.compute_capability();

  if (std::string why = rules.arch_problem(cc, problem.dtype()); !why.empty()) {
    verdict.reason = why;
    return verdict;
  }
  if (auto target = choose_target(cc, targets); !target) {
    verdict.reason = llvm::toString(target.takeError());
    return verdict;
  }
  if (std::string why = modifier_problem(rules, problem.features()); !why.empty()) {
    verdict.reason = why;
    return verdict;
  }
  if (rules.problem_rule)
    if (std::string why = rules.problem_rule(problem, targets); !why.empty()) {
      verdict.reason = why;
      return verdict;
    }
  if (std::string why = split_problem(rules, device, problem); !why.empty()) {
    verdict.reason = why;
    return verdict;
  }
  auto spec = default_spec(variant, device, problem);
  if (!spec) {
    verdict.reason = llvm::toString(spec.takeError());
    return verdict;
  }
  if (rules.unforced_problem)
    if (std::string why = rules.unforced_problem(cc); !why.empty()) {
      verdict.forcible = true;
      verdict.reason = why;
      return verdict;
    }
  verdict.usable = true;
  verdict.reason = rules.usable_reason;
  return verdict;
}

llvm::Expected<Selection> select_for_features(const DeviceDescription& device, const ProblemFeatures& features,
                                              const CompilerTargets& targets, std::optional<Variant> forced) {
  auto problem = Problem::of_features(features);
  if (!problem) return problem.takeError();
  return select_variant(device, *problem, targets, forced);
}

llvm::Expected<Selection> select_variant(const DeviceDescription& device, const Problem& problem,
                                         const CompilerTargets& targets,
                                         std::optional<Variant> forced) {
  // A device this NVRTC cannot compile for is said once rather than once per variant. (The problem
  // itself was validated when it was made.)
  if (auto target = choose_target(device.compute_capability(), targets); !target)
    return with_prefix(target.takeError(), "no kernel can be compiled for " + device_label(device) + ": ");

  Selection selection;
  for (Variant v : variants_by_preference())
    selection.verdicts.push_back(judge_variant(v, device, problem, targets));

  const VariantVerdict* chosen = nullptr;
  if (forced) {
    for (const VariantVerdict& v : selection.verdicts)
      if (v.variant == *forced) chosen = &v;
    if (!chosen)
      return make_error(ErrorCode::invalid_argument, "forced variant " + std::to_string(static_cast<int>(*forced)) +
                                                         " is not a known Variant (expected " +
                                                         variant_names_text() + ")");
    // A forced choice that cannot be honoured is the caller's to change: invalid_argument, as for
    // forced tiles (unsupported is for what the selector finds on its own).
    if (!chosen->usable && !chosen->forcible)
      return make_error(ErrorCode::invalid_argument, llvm::formatv("forced variant {0} cannot run on {1}: {2}",
                                                                   variant_name(*forced), device_label(device),
                                                                   chosen->reason)
                                                         .str());
  } else {
    for (const VariantVerdict& v : selection.verdicts) {
      if (v.usable) {
        chosen = &v;
        break;
      }
    }
  }

  if (!chosen) {
    std::vector<std::string> reasons;
    for (const VariantVerdict& v : selection.verdicts)
      reasons.push_back(std::string(variant_name(v.variant)) + ": " + v.reason);
    return make_error(ErrorCode::unsupported,
                      llvm::formatv("no kernel variant can run {0} head_dim {1} on {2}: {3}", dtype_name(problem.dtype()),
                                    problem.head_dim(), device_label(device), llvm::join(reasons, "; "))
                          .str());
  }

  auto spec = default_spec(chosen->variant, device, problem);
  if (!spec) return spec.takeError();
  selection.spec = *spec;
  if (forced) {
    selection.reason = std::string("forced by options: ") + rules_for(chosen->variant).usable_reason;
    // Say so when the selector would not have chosen it here.
    if (chosen->forcible) selection.reason += " (" + chosen->reason + ")";
    selection.compiled_by = targets.choice;
    return selection;
  }
  // Say why the more capable variants were passed over.
  std::vector<std::string> passed_over;
  for (const VariantVerdict& v : selection.verdicts) {
    if (&v == chosen) break;
    passed_over.push_back(std::string(variant_name(v.variant)) + ": " + v.reason);
  }
  selection.reason = chosen->reason;
  if (!passed_over.empty()) selection.reason += " (not " + llvm::join(passed_over, "; ") + ")";
  if (decode_shaped(problem) && selection.spec.block_m <= kDecodeTileRows)
    selection.reason += llvm::formatv("; a {0}-row tile: a decode's {1} query row{2} per KV head need no taller one",
                                      selection.spec.block_m, problem.shape().seqlen_q,
                                      problem.shape().seqlen_q == 1 ? "" : "s")
                            .str();
  selection.compiled_by = targets.choice;
  return selection;
}

}  // namespace flashjit::gen
