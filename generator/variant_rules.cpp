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

std::string kernel_parameter_declaration(ParameterBlock block, const ProblemFeatures& features) {
  std::string declaration;
  switch (block) {
    case ParameterBlock::attention: declaration = "const ::flashjit::AttentionParams"; break;
    // TMA reads the tensor maps where they are: in the kernel's parameter space.
    case ParameterBlock::tma: declaration = "const __grid_constant__ ::flashjit::WgmmaParams"; break;
  }
  if (features.any_modifier()) declaration += ", const ::flashjit::ScoreModParams";
  if (features.kv_cache) declaration += ", const ::flashjit::KvCacheParams";
  return declaration;
}

std::string kernel_entry(const VariantRules& rules, const ProblemFeatures& features) {
  if (features.kv_cache) return std::string(rules.kernel_template) + "_kvcache";
  if (features.any_modifier()) return std::string(rules.kernel_template) + "_modified";
  return rules.kernel_template;
}

std::string modifier_problem(const VariantRules& rules, const ProblemFeatures& f) {
  std::vector<std::string> missing;
  if (f.ragged && !rules.modifiers.ragged) missing.push_back("ragged batches");
  if (f.window && !rules.modifiers.window) missing.push_back("sliding windows");
  if (f.softcap && !rules.modifiers.softcap) missing.push_back("softcap");
  if (f.alibi && !rules.modifiers.alibi) missing.push_back("ALiBi");
  if (f.kv_cache && !rules.modifiers.kv_cache) missing.push_back("KV caches (seqused_k)");
  if (f.paged && !rules.modifiers.paged) missing.push_back("paged KV caches");
  if (f.append && !rules.modifiers.append) missing.push_back("appended keys");
  if (missing.empty()) return {};
  std::string text = std::string(rules.name) + " does not compute ";
  for (size_t i = 0; i < missing.size(); ++i)
    text += (i == 0 ? "" : i + 1 == missing.size() ? " or " : ", ") + missing[i];
  return text;
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
