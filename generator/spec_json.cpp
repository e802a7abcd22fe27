#include "generator/spec_json.h"

#include <climits>

#include <nlohmann/json.hpp>

#include <llvm/ADT/StringRef.h>

#include "support/error.h"
#include "support/names.h"

namespace flashjit::gen {
namespace {

llvm::Error field_error(const char* field, const std::string& why) {
  return make_error(ErrorCode::invalid_argument, std::string("spec field '") + field + "': " + why);
}

llvm::Expected<int> int_field(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return field_error(field, "missing");
  if (!it->is_number_integer()) return field_error(field, "not an integer");
  // get<int>() would silently wrap a larger value into a different, valid-looking spec.
  const bool fits = it->is_number_unsigned()
                        ? it->get<unsigned long long>() <= INT_MAX
                        : it->get<long long>() >= INT_MIN && it->get<long long>() <= INT_MAX;
  if (!fits) return field_error(field, "out of range for an int");
  return it->get<int>();
}

llvm::Expected<std::string> string_field(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return field_error(field, "missing");
  if (!it->is_string()) return field_error(field, "not a string");
  return it->get<std::string>();
}

}  // namespace

llvm::Expected<Variant> parse_variant(const std::string& text) {
  for (Variant v : {Variant::generic, Variant::mma_sm75, Variant::mma_sm80, Variant::wgmma_sm90})
    if (text == variant_name(v)) return v;
  return make_error(ErrorCode::invalid_argument,
                    "unknown variant '" + text + "' (expected generic, mma_sm75, mma_sm80 or wgmma_sm90)");
}

llvm::Expected<std::pair<int, bool>> parse_arch(const std::string& text) {
  llvm::StringRef s(text);
  s.consume_front("sm_");
  const bool specific = s.consume_back("a");
  int arch = 0;
  if (s.getAsInteger(10, arch) || arch < 10 || arch > 999)
    return make_error(ErrorCode::invalid_argument,
                      "unknown architecture '" + text + "' (expected e.g. sm_90 or sm_90a)");
  return std::make_pair(arch, specific);
}

nlohmann::json spec_to_json(const KernelSpec& s) {
  return nlohmann::json{{"key", canonical_key(s)},      {"variant", variant_name(s.variant)},
                        {"target", target_name(s)},     {"dtype", dtype_name(s.dtype)},
                        {"head_dim", s.head_dim},       {"block_m", s.block_m},
                        {"block_n", s.block_n},         {"warps", s.warps},
                        {"stages", s.stages},           {"mask", mask_name(s.mask)}};
}

llvm::Expected<KernelSpec> spec_from_json(const nlohmann::json& j) {
  if (!j.is_object())
    return make_error(ErrorCode::invalid_argument, "spec: not a JSON object");
  KernelSpec s;
  auto variant = string_field(j, "variant");
  if (!variant) return variant.takeError();
  auto v = parse_variant(*variant);
  if (!v) return field_error("variant", llvm::toString(v.takeError()));
  s.variant = *v;

  auto target = string_field(j, "target");
  if (!target) return target.takeError();
  auto arch = parse_arch(*target);
  if (!arch) return field_error("target", llvm::toString(arch.takeError()));
  s.arch = arch->first;
  s.arch_specific = arch->second;

  auto dtype = string_field(j, "dtype");
  if (!dtype) return dtype.takeError();
  auto d = parse_dtype(*dtype);
  if (!d) return field_error("dtype", llvm::toString(d.takeError()));
  s.dtype = *d;

  auto mask = string_field(j, "mask");
  if (!mask) return mask.takeError();
  if (*mask != "none" && *mask != "causal") return field_error("mask", "expected none or causal");
  s.mask = *mask == "causal" ? MaskKind::causal : MaskKind::none;

  struct IntField {
    const char* name;
    int* slot;
  };
  for (IntField f : {IntField{"head_dim", &s.head_dim}, IntField{"block_m", &s.block_m},
                     IntField{"block_n", &s.block_n}, IntField{"warps", &s.warps},
                     IntField{"stages", &s.stages}}) {
    auto value = int_field(j, f.name);
    if (!value) return value.takeError();
    *f.slot = *value;
  }
  return s;
}

}  // namespace flashjit::gen
