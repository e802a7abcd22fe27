#include "problem/problem_features.h"

#include <tuple>

#include <nlohmann/json.hpp>

#include "support/error.h"
#include "support/json_fields.h"
#include "support/names.h"

namespace flashjit {
namespace {

auto fields(const ProblemFeatures& f) {
  return std::tie(f.dtype, f.head_dim, f.mask, f.ragged, f.window, f.softcap, f.alibi, f.kv_cache, f.paged, f.append);
}

// The optional boolean features of a stored spec, in key order: the JSON field and the key's word.
struct FlagField {
  const char* name;
  const char* key_word;
  bool ProblemFeatures::*flag;
};
constexpr FlagField kFlagFields[] = {{"window", "window", &ProblemFeatures::window},
                                     {"softcap", "softcap", &ProblemFeatures::softcap},
                                     {"alibi", "alibi", &ProblemFeatures::alibi},
                                     {"ragged", "varlen", &ProblemFeatures::ragged},
                                     {"kv_cache", "kvcache", &ProblemFeatures::kv_cache},
                                     {"paged", "paged", &ProblemFeatures::paged},
                                     {"append", "append", &ProblemFeatures::append}};

}  // namespace

bool ProblemFeatures::operator==(const ProblemFeatures& other) const { return fields(*this) == fields(other); }

bool ProblemFeatures::operator<(const ProblemFeatures& other) const { return fields(*this) < fields(other); }

ProblemFeatures features_of(const AttentionArgs& a) {
  ProblemFeatures f;
  f.dtype = a.q.dtype;
  f.head_dim = a.head_dim;
  f.mask = a.mask;
  f.ragged = a.cu_seqlens_q != nullptr || a.cu_seqlens_k != nullptr;
  // A causal mask already bounds the right side; only a left bound then needs the window.
  f.window = a.window_left >= 0 || (a.window_right >= 0 && a.mask != MaskKind::causal);
  f.softcap = a.softcap != 0.0f;
  f.alibi = a.alibi_slopes != nullptr;
  f.kv_cache = a.seqused_k != nullptr;
  f.paged = a.block_table != nullptr;
  f.append = a.seqlen_new > 0 || a.k_new.data != nullptr || a.v_new.data != nullptr;
  return f;
}

void set_features(const ProblemFeatures& f, AttentionArgs& a) {
  a.q.dtype = a.k.dtype = a.v.dtype = a.out.dtype = f.dtype;
  a.head_dim = f.head_dim;
  a.mask = f.mask;
}

std::string shape_key(const ProblemFeatures& f) {
  return std::string(dtype_name(f.dtype)) + "_d" + std::to_string(f.head_dim);
}

std::string modifier_key(const ProblemFeatures& f) {
  std::string key = mask_name(f.mask);
  for (const FlagField& field : kFlagFields)
    if (f.*field.flag) key += std::string("_") + field.key_word;
  return key;
}

std::vector<KernelTrait> modifier_traits(const ProblemFeatures& f) {
  auto flag = [](bool on) { return on ? "true" : "false"; };
  std::vector<KernelTrait> traits = {{"bool", "kCausal", flag(f.mask == MaskKind::causal)},
          {"bool", "kWindow", flag(f.window)},
          {"bool", "kSoftcap", flag(f.softcap)},
          {"bool", "kAlibi", flag(f.alibi)},
          {"bool", "kRagged", flag(f.ragged)}};
  // A KV cache kernel's traits only: the other kernels' shells stay as they were.
  if (!f.kv_cache) return traits;
  traits.push_back({"bool", "kKvCache", "true"});
  traits.push_back({"bool", "kPaged", flag(f.paged)});
  traits.push_back({"bool", "kAppend", flag(f.append)});
  return traits;
}

void write_features(const ProblemFeatures& f, nlohmann::json& object) {
  object["dtype"] = dtype_name(f.dtype);
  object["head_dim"] = f.head_dim;
  object["mask"] = mask_name(f.mask);
  for (const FlagField& field : kFlagFields)
    if (f.*field.flag) object[field.name] = true;
}

llvm::Expected<ProblemFeatures> read_features(const nlohmann::json& object) {
  ProblemFeatures f;
  auto dtype = string_field(object, "dtype");
  if (!dtype) return dtype.takeError();
  auto parsed_dtype = parse_dtype(*dtype);
  if (!parsed_dtype) return field_error("dtype", llvm::toString(parsed_dtype.takeError()));
  f.dtype = *parsed_dtype;

  auto head_dim = int_field(object, "head_dim");
  if (!head_dim) return head_dim.takeError();
  f.head_dim = *head_dim;

  auto mask = string_field(object, "mask");
  if (!mask) return mask.takeError();
  auto parsed_mask = parse_mask(*mask);
  if (!parsed_mask) return field_error("mask", "expected none or causal");
  f.mask = *parsed_mask;

  for (const FlagField& field : kFlagFields) {
    auto it = object.find(field.name);
    if (it == object.end()) continue;
    // Written only when true: anything else is not a spec FlashJIT wrote.
    if (!it->is_boolean() || !it->get<bool>()) return field_error(field.name, "expected true (or no field)");
    f.*field.flag = true;
  }
  return f;
}

}  // namespace flashjit
