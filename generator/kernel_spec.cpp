#include "generator/kernel_spec.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/FormatVariadic.h>

#include "generator/decode_splits.h"
#include "generator/variant_rules.h"
#include "support/error.h"

namespace flashjit::gen {

bool KernelSpec::operator==(const KernelSpec& o) const {
  return features() == o.features() && variant == o.variant && arch == o.arch && arch_specific == o.arch_specific &&
         block_m == o.block_m && block_n == o.block_n && warps == o.warps && stages == o.stages &&
         splits == o.splits;
}

std::string target_name(const KernelSpec& spec) {
  return "sm_" + std::to_string(spec.arch) + (spec.arch_specific ? "a" : "");
}

std::string canonical_key(const KernelSpec& spec) {
  const std::string target = "sm" + std::to_string(spec.arch) + (spec.arch_specific ? "a" : "");
  return llvm::formatv("{0}_{1}_{2}_m{3}n{4}w{5}s{6}_{7}", variant_name(spec.variant), target,
                       shape_key(spec.features()), spec.block_m, spec.block_n, spec.warps, spec.stages,
                       modifier_key(spec.features()))
      .str();
}

std::string launch_key(const KernelSpec& spec) {
  if (spec.splits <= 0) return canonical_key(spec);
  return canonical_key(spec) + " x" + std::to_string(spec.splits) + (spec.splits == 1 ? " split" : " splits");
}

int threads_per_block(const KernelSpec& spec) { return spec.warps * 32; }

int shared_memory_bytes(const KernelSpec& spec) { return rules_for(spec.variant).shared_memory_bytes(spec); }

KernelSpec with_tile(const KernelSpec& base, int block_m, int block_n, int warps, int stages) {
  KernelSpec spec = base;
  spec.block_m = block_m;
  spec.block_n = block_n;
  spec.warps = warps;
  spec.stages = stages;
  return spec;
}

int entry_registers(const KernelSpec& spec) {
  const VariantRules& rules = rules_for(spec.variant);
  return rules.entry_registers ? rules.entry_registers(spec) : 0;
}

std::vector<std::string> spec_problems(const KernelSpec& spec, const DeviceDescription& limits) {
  std::vector<std::string> problems;
  auto add = [&](std::string p) { problems.push_back(std::move(p)); };

  if (spec.head_dim <= 0 || spec.head_dim > 256)
    add(llvm::formatv("head_dim {0} is outside 8..256", spec.head_dim));
  else if (spec.head_dim % 8 != 0)
    add(llvm::formatv("head_dim {0} is not a multiple of 8", spec.head_dim));
  if (spec.warps <= 0 || spec.block_m <= 0 || spec.block_n <= 0 || spec.stages <= 0) {
    add("block_m, block_n, warps and stages must be positive");
    return problems;
  }
  // A spec read from a cache file or an import may hold any int. Far beyond every legal tile, these
  // bounds keep the arithmetic below and in the variants' rules (threads, shared memory, registers)
  // inside an int, so a hostile spec is refused instead of overflowing.
  if (spec.head_dim > 1024 || spec.block_m > 4096 || spec.block_n > 4096 || spec.warps > 1024 || spec.stages > 64) {
    add(llvm::formatv("head_dim {0}, block_m {1}, block_n {2}, warps {3} or stages {4} is beyond any kernel (at most "
                      "1024, 4096, 4096, 1024 and 64)",
                      spec.head_dim, spec.block_m, spec.block_n, spec.warps, spec.stages));
    return problems;
  }
  if (spec.splits < 0 || spec.splits > kMaxDecodeSplits)
    add(llvm::formatv("splits {0} is outside 0..{1}", spec.splits, kMaxDecodeSplits));
  else if (spec.splits > 0 && !spec.kv_cache)
    add(llvm::formatv("splits {0} is set on a kernel without a KV cache (split-KV splits a cache's keys)",
                      spec.splits));
  if (threads_per_block(spec) > limits.max_threads_per_block)
    add(llvm::formatv("{0} warps make {1} threads, more than the {2} a block may have", spec.warps,
                      threads_per_block(spec), limits.max_threads_per_block));

  const VariantRules& rules = rules_for(spec.variant);
  for (std::string& p : rules.tile_problems(spec)) add(std::move(p));

  if (spec.arch != limits.compute_capability())
    add(llvm::formatv("target {0} does not match the device's compute capability {1}.{2}",
                      target_name(spec), limits.cc_major, limits.cc_minor));
  if (auto why = rules.arch_problem(spec.arch, spec.dtype); !why.empty()) add(why);
  if (auto why = modifier_problem(rules, spec.features()); !why.empty()) add(why);

  // Only meaningful once the tile itself is sane.
  if (problems.empty()) {
    const int smem = shared_memory_bytes(spec);
    if (smem > limits.smem_per_block_optin)
      add(llvm::formatv("needs {0} bytes of shared memory, more than the {1} a block may use on "
                        "{2}",
                        smem, limits.smem_per_block_optin, target_name(spec)));
  }
  return problems;
}

llvm::Error validate_spec(const KernelSpec& spec, const DeviceDescription& limits) {
  std::vector<std::string> problems = spec_problems(spec, limits);
  if (problems.empty()) return llvm::Error::success();
  return make_error(ErrorCode::unsupported, "spec " + canonical_key(spec) + ": " + llvm::join(problems, "; "));
}

}  // namespace flashjit::gen
