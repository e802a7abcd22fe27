// The tensor-core variants are designed (see DESIGN.md) but their templates are not in this build
// yet. Their architecture rules are real, so `doctor` and the selector can already say what would
// serve a device and why the generic variant runs instead.
#include <llvm/Support/FormatVariadic.h>

#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"

namespace flashjit::gen {
namespace {

std::vector<std::string> not_built(const KernelSpec& s) {
  return {llvm::formatv("{0} is not available in this build", variant_name(s.variant)).str()};
}
int no_shared_memory(const KernelSpec&) { return 0; }

std::string sm75_arch(int arch, DType dtype) {
  if (arch < 75) return llvm::formatv("mma_sm75 needs compute capability 7.5 (Turing) or newer, not sm_{0}", arch);
  if (dtype != DType::f16) return llvm::formatv("mma_sm75 computes f16 only, not {0}", dtype_name(dtype));
  return {};
}

std::string sm80_arch(int arch, DType dtype) {
  if (arch < 80) return llvm::formatv("mma_sm80 needs compute capability 8.0 (Ampere) or newer, not sm_{0}", arch);
  if (dtype == DType::f32) return "mma_sm80 computes f16 and bf16, not f32";
  return {};
}

std::string sm90_arch(int arch, DType dtype) {
  if (arch != 90) return llvm::formatv("wgmma_sm90 needs compute capability 9.0 exactly (sm_90a), not sm_{0}", arch);
  if (dtype == DType::f32) return "wgmma_sm90 computes f16 and bf16, not f32";
  return {};
}

}  // namespace

const VariantRules& mma_sm75_rules() {
  static const VariantRules rules{Variant::mma_sm75, false, sm75_arch, not_built, no_shared_memory,
                                  "", ""};
  return rules;
}
const VariantRules& mma_sm80_rules() {
  static const VariantRules rules{Variant::mma_sm80, false, sm80_arch, not_built, no_shared_memory,
                                  "", ""};
  return rules;
}
const VariantRules& wgmma_sm90_rules() {
  static const VariantRules rules{Variant::wgmma_sm90, false, sm90_arch, not_built,
                                  no_shared_memory, "", ""};
  return rules;
}

}  // namespace flashjit::gen
