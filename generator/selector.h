// The one selector: (device, problem, compiler) -> the variant that runs and why. Dispatch and
// `flashjit doctor` both call it, so "what is supported" and "what runs" cannot disagree.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "flashjit/types.h"
#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "problem/problem.h"

namespace flashjit::gen {

struct VariantVerdict {
  Variant variant = Variant::generic;
  bool usable = false;     // the selector may choose it (and the tuner time it)
  bool forcible = false;   // not usable, but runs here when forced (VariantRules::unforced_problem)
  std::string reason;      // why usable, or why not
};

struct Selection {
  KernelSpec spec;                      // the variant with its default tiles, for this device
  std::string reason;                   // why this variant
  // Which NVRTC compiles it and why not the others found (CompilerTargets::choice): "NVRTC 12.9
  // (PATH); passed over: NVRTC 13.0 targets sm_75..sm_121 only"; empty for targets of no loader.
  std::string compiled_by;
  std::vector<VariantVerdict> verdicts; // every variant, most capable first
};

VariantVerdict judge_variant(Variant variant, const DeviceDescription& device,
                             const Problem& problem, const CompilerTargets& targets);

// The most capable usable variant, or `forced` if it is usable; an error explains why none is
// (invalid_argument when `forced` is not usable: the caller asked for what cannot be honoured).
llvm::Expected<Selection> select_variant(const DeviceDescription& device, const Problem& problem,
                                         const CompilerTargets& targets,
                                         std::optional<Variant> forced = std::nullopt);

// The same for contiguous tensors with these features, where only they matter (doctor, run's JIT
// check, bench's check of a forced variant); an invalid_argument error for features no problem has.
llvm::Expected<Selection> select_for_features(const DeviceDescription& device, const ProblemFeatures& features,
                                              const CompilerTargets& targets,
                                              std::optional<Variant> forced = std::nullopt);

// The heuristic default tiles of `variant` for this device and problem (the tuner's fallback).
llvm::Expected<KernelSpec> default_spec(Variant variant, const DeviceDescription& device,
                                        const Problem& problem);

}  // namespace flashjit::gen
