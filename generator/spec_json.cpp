#include "generator/spec_json.h"

#include <nlohmann/json.hpp>

#include <llvm/ADT/StringRef.h>

#include "generator/variant_rules.h"
#include "support/error.h"
#include "support/json_fields.h"
#include "support/names.h"
#include "support/quote.h"

namespace flashjit::gen {
namespace {

// Errors of the shared field readers, with the spec named: "spec field 'mask': ...".
llvm::Error spec_error(llvm::Error error) { return with_prefix(std::move(error), "spec "); }

}  // namespace

llvm::Expected<Variant> parse_variant(const std::string& text) {
  for (Variant v : variants_by_preference())
    if (text == rules_for(v).name) return v;
  return make_error(ErrorCode::invalid_argument,
                    "unknown variant '" + quote_prefix(text) + "' (expected " + variant_names_text() + ")");
}

llvm::Expected<std::pair<int, bool>> parse_arch(const std::string& text) {
  llvm::StringRef s(text);
  s.consume_front("sm_");
  const bool specific = s.consume_back("a");
  int arch = 0;
  if (s.getAsInteger(10, arch) || arch < 10 || arch > 999)
    return make_error(ErrorCode::invalid_argument,
                      "unknown architecture '" + quote_prefix(text) + "' (expected e.g. sm_90 or sm_90a)");
  return std::make_pair(arch, specific);
}

nlohmann::json spec_to_json(const KernelSpec& s) {
  nlohmann::json j = {{"key", canonical_key(s)}, {"variant", variant_name(s.variant)}, {"target", target_name(s)},
                      {"block_m", s.block_m},    {"block_n", s.block_n},               {"warps", s.warps},
                      {"stages", s.stages}};
  write_features(s.features(), j);
  // Only a tuned split count is written: every spec without one reads and compares as before.
  if (s.splits > 0) j["splits"] = s.splits;
  return j;
}

llvm::Expected<KernelSpec> spec_from_json(const nlohmann::json& j) {
  if (!j.is_object())
    return make_error(ErrorCode::invalid_argument, "spec: not a JSON object");
  KernelSpec s;
  auto variant = string_field(j, "variant");
  if (!variant) return spec_error(variant.takeError());
  auto v = parse_variant(*variant);
  if (!v) return spec_error(field_error("variant", llvm::toString(v.takeError())));
  s.variant = *v;

  auto target = string_field(j, "target");
  if (!target) return spec_error(target.takeError());
  auto arch = parse_arch(*target);
  if (!arch) return spec_error(field_error("target", llvm::toString(arch.takeError())));
  s.arch = arch->first;
  s.arch_specific = arch->second;

  auto features = read_features(j);
  if (!features) return spec_error(features.takeError());
  s.set_features(*features);

  struct IntField {
    const char* name;
    int* slot;
  };
  for (IntField f : {IntField{"block_m", &s.block_m}, IntField{"block_n", &s.block_n},
                     IntField{"warps", &s.warps}, IntField{"stages", &s.stages}}) {
    auto value = int_field(j, f.name);
    if (!value) return spec_error(value.takeError());
    *f.slot = *value;
  }
  if (j.contains("splits")) {
    auto splits = int_field(j, "splits");
    if (!splits) return spec_error(splits.takeError());
    // 0 is what no field means, so a written field is a tuned count: 1 or more.
    if (*splits < 1)
      return spec_error(field_error("splits", "must be at least 1 (a tuned split count), not " +
                                                  std::to_string(*splits)));
    s.splits = *splits;
  }
  return s;
}

}  // namespace flashjit::gen
