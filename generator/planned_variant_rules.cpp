// The Hopper variant is designed (see DESIGN.md) but its templates are not in this build yet. Its
// architecture rule is real, so `doctor` and the selector can already say what would serve a
// device and why another variant runs instead.
#include <llvm/Support/FormatVariadic.h>

#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"

namespace flashjit::gen {
namespace {

std::vector<std::string> not_built(const KernelSpec& s) {
  return {llvm::formatv("{0} is not available in this build", variant_name(s.variant)).str()};
}
int no_shared_memory(const KernelSpec&) { return 0; }

std::string sm90_arch(int arch, DType dtype) {
  if (arch != 90) return llvm::formatv("wgmma_sm90 needs compute capability 9.0 exactly (sm_90a), not sm_{0}", arch);
  if (dtype == DType::f32) return "wgmma_sm90 computes f16 and bf16, not f32";
  return {};
}

}  // namespace

const VariantRules& wgmma_sm90_rules() {
  static const VariantRules rules{Variant::wgmma_sm90, false, sm90_arch, not_built,
                                  no_shared_memory, "", "", nullptr, nullptr};
  return rules;
}

}  // namespace flashjit::gen
