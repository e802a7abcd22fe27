#include "generator/variant_rules.h"

namespace flashjit::gen {

const VariantRules& rules_for(Variant variant) {
  switch (variant) {
    case Variant::generic: return generic_rules();
    case Variant::mma_sm75: return mma_sm75_rules();
    case Variant::mma_sm80: return mma_sm80_rules();
    case Variant::wgmma_sm90: return wgmma_sm90_rules();
    case Variant::mma_sm70: return mma_sm70_rules();
  }
  return generic_rules();
}

const std::vector<Variant>& variants_by_preference() {
  static const std::vector<Variant> order = {Variant::wgmma_sm90, Variant::mma_sm80, Variant::mma_sm75,
                                             Variant::mma_sm70, Variant::generic};
  return order;
}

std::string variant_names_text() {
  const std::vector<Variant>& variants = variants_by_preference();
  std::string text;
  for (size_t i = 0; i < variants.size(); ++i) {
    const char* separator = i == 0 ? "" : i + 1 == variants.size() ? " or " : ", ";
    text += separator + std::string(rules_for(variants[variants.size() - 1 - i]).name);
  }
  return text;
}

const char* kernel_parameter_declaration(ParameterBlock block) {
  switch (block) {
    case ParameterBlock::attention: return "const ::flashjit::AttentionParams";
    // TMA reads the tensor maps where they are: in the kernel's parameter space.
    case ParameterBlock::tma: return "const __grid_constant__ ::flashjit::WgmmaParams";
  }
  return "";
}

}  // namespace flashjit::gen

namespace flashjit {

// The public enum's names come from the table, so a new variant is named where it is described.
const char* variant_name(Variant variant) {
  for (Variant known : gen::variants_by_preference())
    if (known == variant) return gen::rules_for(known).name;
  return "unknown";
}

}  // namespace flashjit
