#include "generator/variant_rules.h"

namespace flashjit::gen {

const VariantRules& rules_for(Variant variant) {
  switch (variant) {
    case Variant::generic: return generic_rules();
    case Variant::mma_sm75: return mma_sm75_rules();
    case Variant::mma_sm80: return mma_sm80_rules();
    case Variant::wgmma_sm90: return wgmma_sm90_rules();
  }
  return generic_rules();
}

const std::vector<Variant>& variants_by_preference() {
  static const std::vector<Variant> order = {Variant::wgmma_sm90, Variant::mma_sm80,
                                             Variant::mma_sm75, Variant::generic};
  return order;
}

}  // namespace flashjit::gen
