// Per-variant rules: everything that makes one kernel variant different from another, in one row
// per variant. Its name, why it is worth running, which architectures, dtypes and problems it
// serves, which tiles are legal and how much shared memory they need, which template makes it, its
// parameter block and its grid. The selector, spec validation, default choice, emission, the name
// parser and the launch all read this one table; nothing else branches on which variant it is.
#pragma once

#include <string>
#include <vector>

#include "flashjit/types.h"
#include "generator/compiler_targets.h"
#include "problem/problem.h"

namespace flashjit::gen {

struct KernelSpec;

// The kernel's one by-value parameter: what the host builds and the template takes.
enum class ParameterBlock {
  attention,  // AttentionParams (templates/attention_params.cuh): pointers and strides
  tma,        // WgmmaParams (templates/tma_params.cuh): AttentionParams plus a TMA tensor map per input
};

// How blocks map to work.
enum class GridKind {
  per_tile,    // one block per (query block, head, batch)
  persistent,  // at most one block per SM, each walking the tiles (templates/wgmma_tile_scheduler.cuh)
};

struct VariantRules {
  Variant variant = Variant::generic;
  const char* name = "";          // variant_name(): "generic", "mma_sm80", ...
  const char* usable_reason = "";  // why the selector runs it when it can: "tensor cores through ..."
  // Compiled for the arch-specific target (sm_90a): features such as wgmma that exist on one
  // architecture only.
  bool arch_specific = false;

  // Why the variant cannot target `arch` for `dtype`; empty when it can.
  std::string (*arch_problem)(int arch, DType dtype) = nullptr;
  // Why the variant is not generated for `head_dim` (the selector says that, rather than that no
  // tile fits); null when it takes every head dim a problem may have.
  std::string (*head_dim_problem)(int head_dim) = nullptr;
  // Why the selector does not choose it by itself on `arch`, where it runs when forced (mma_sm70
  // past Volta: m8n8k4 is slower than Turing's m16n8k8 and emulated on the CUDA cores from sm_80 on,
  // so only a test asks for it there); empty where it may. Null: chosen wherever it can run. Such a
  // variant is neither the selector's choice nor a tuning candidate there.
  std::string (*unforced_problem)(int arch) = nullptr;
  // Why it cannot serve this problem with this compiler beyond the above (wgmma_sm90: an NVRTC
  // that targets sm_90a, tensors TMA can address); null when nothing more is needed.
  std::string (*problem_rule)(const Problem& problem, const CompilerTargets& targets) = nullptr;

  // The ragged batches and score modifiers (issue 14) its template computes; a problem with
  // another is refused by modifier_problem() below, which the selector and spec checks ask.
  struct Modifiers {
    bool ragged = false;
    bool window = false;
    bool softcap = false;
    bool alibi = false;
    // Issue 15: keys from a KV cache (seqused_k), in pages (block_table), appended first (k_new).
    bool kv_cache = false;
    bool paged = false;
    bool append = false;
    // What a ragged call must give for the template to take it, as `flashjit doctor` says it;
    // empty: nothing beyond the offsets. (The Problem's own checks enforce it.)
    const char* ragged_condition = "";
    // The same for a KV cache: which cache calls it takes (the Problem's rules enforce it).
    const char* kv_condition = "";
    // Whether the template splits a cache's keys over several blocks (split-KV, KvCacheParams'
    // num_splits). One that does not is not chosen for a call the heuristic splits (judge_variant),
    // and its launches never split.
    bool splits_keys = true;
  } modifiers;

  // Why the tile (block_m/block_n/warps/stages against head_dim) is illegal; empty when legal.
  std::vector<std::string> (*tile_problems)(const KernelSpec& spec) = nullptr;
  // Dynamic shared memory of a tile, in bytes. The generated shell checks it against the
  // template's own count (`shared_bytes_of`), so every compile compares the two.
  int (*shared_memory_bytes)(const KernelSpec& spec) = nullptr;
  // The tuner's tiles: `base` (variant, arch, features) with each tile of the search grid, in a
  // fixed order.
  std::vector<KernelSpec> (*tile_grid)(const KernelSpec& base) = nullptr;
  // The heuristic default: `base` with tiles in order of preference; the selector takes the first
  // that fits the device (spec_problems empty).
  std::vector<KernelSpec> (*preferred_tiles)(const KernelSpec& base) = nullptr;

  // Root template (under templates/), the kernel template defined in it, and the template's
  // class that counts its shared memory (kSharedBytes), each instantiated with the shell's traits.
  const char* template_file = "";
  const char* kernel_template = "";
  const char* shared_bytes_of = "";
  // The registers per thread the kernel must be compiled to and loaded with because its code counts
  // on them (wgmma_sm90: setmaxnreg moves registers between warpgroups, templates/
  // warpgroup_register_budget.cuh); 0 for a tile whose count ptxas may pick. The generated shell
  // checks the template's `kEntryRegisters` on the class `entry_registers_of` names against it; the
  // runtime refuses a compiled or loaded kernel with another count. Null: ptxas picks for every tile.
  int (*entry_registers)(const KernelSpec& spec) = nullptr;
  const char* entry_registers_of = "";
  ParameterBlock parameters = ParameterBlock::attention;
  GridKind grid = GridKind::per_tile;
};

const VariantRules& rules_for(Variant variant);
// All variants, most capable first: the order the selector tries them in.
const std::vector<Variant>& variants_by_preference();

// The variants' names, least capable first, as a sentence: "generic, mma_sm75, mma_sm80 or
// wgmma_sm90" (messages and the CLI's help).
std::string variant_names_text();

// The template's declaration of the kernel's parameters (emitted into the shell): the parameter
// block, the ScoreModParams of a kernel specialized on a ragged batch, a score modifier or a KV
// cache, and the KvCacheParams of one reading a KV cache.
std::string kernel_parameter_declaration(ParameterBlock block, const ProblemFeatures& features);

// The kernel template's entry for these features: `kernel_template` for a dense kernel, with
// "_modified" for one with ScoreModParams, "_kvcache" for one that also takes KvCacheParams.
std::string kernel_entry(const VariantRules& rules, const ProblemFeatures& features);

// Why `rules`' variant does not compute the features' ragged batch or score modifiers ("mma_sm80
// does not compute ALiBi or softcap"); empty when it computes them all.
std::string modifier_problem(const VariantRules& rules, const ProblemFeatures& features);

// Defined next to each variant's rules.
const VariantRules& generic_rules();
const VariantRules& mma_sm70_rules();
const VariantRules& mma_sm75_rules();
const VariantRules& mma_sm80_rules();
const VariantRules& wgmma_sm90_rules();

}  // namespace flashjit::gen
