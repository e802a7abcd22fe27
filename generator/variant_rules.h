// Per-variant rules: which architectures and dtypes a variant serves, which tiles are legal, how
// much shared memory a tile needs, and which templates make it. The selector, spec validation,
// default choice and emission all read this one table.
#pragma once

#include <string>
#include <vector>

#include "flashjit/types.h"

namespace flashjit::gen {

struct KernelSpec;

struct VariantRules {
  Variant variant;
  // Why the variant cannot target `arch` for `dtype`; empty when it can.
  std::string (*arch_problem)(int arch, DType dtype);
  // Why the tile (block_m/block_n/warps/stages against head_dim) is illegal; empty when legal.
  std::vector<std::string> (*tile_problems)(const KernelSpec& spec);
  int (*shared_memory_bytes)(const KernelSpec& spec);
  // Root template (under templates/) and the kernel template defined in it.
  const char* template_file;
  const char* kernel_template;
  // The tiles the tuner tries: `base` (variant, arch, dtype, head_dim, mask) with each tile of the
  // variant's search grid, in a fixed order.
  std::vector<KernelSpec> (*tile_grid)(const KernelSpec& base);
  // The heuristic default: `base` with tiles in order of preference; the selector takes the first
  // that fits the device (spec_problems empty).
  std::vector<KernelSpec> (*preferred_tiles)(const KernelSpec& base);
  // The kernel's one by-value parameter (templates/attention_params.cuh or tma_params.cuh).
  const char* kernel_parameters = "const ::flashjit::AttentionParams";
  // Why the variant is not generated for `head_dim` (the selector says that, rather than that no
  // tile fits); null when it takes every head dim the problem rules allow.
  std::string (*head_dim_problem)(int head_dim) = nullptr;
};

const VariantRules& rules_for(Variant variant);
// All variants, most capable first: the order the selector tries them in.
const std::vector<Variant>& variants_by_preference();

// Defined next to each variant's rules.
const VariantRules& generic_rules();
const VariantRules& mma_sm75_rules();
const VariantRules& mma_sm80_rules();
const VariantRules& wgmma_sm90_rules();

}  // namespace flashjit::gen
