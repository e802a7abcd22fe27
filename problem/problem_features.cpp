#include "problem/problem_features.h"

#include <tuple>

#include <nlohmann/json.hpp>

#include "support/error.h"
#include "support/json_fields.h"
#include "support/names.h"

namespace flashjit {
namespace {

auto fields(const ProblemFeatures& f) { return std::tie(f.dtype, f.head_dim, f.mask); }

}  // namespace

bool ProblemFeatures::operator==(const ProblemFeatures& other) const { return fields(*this) == fields(other); }

bool ProblemFeatures::operator<(const ProblemFeatures& other) const { return fields(*this) < fields(other); }

ProblemFeatures features_of(const AttentionArgs& a) { return {a.q.dtype, a.head_dim, a.mask}; }

void set_features(const ProblemFeatures& f, AttentionArgs& a) {
  a.q.dtype = a.k.dtype = a.v.dtype = a.out.dtype = f.dtype;
  a.head_dim = f.head_dim;
  a.mask = f.mask;
}

std::string shape_key(const ProblemFeatures& f) {
  return std::string(dtype_name(f.dtype)) + "_d" + std::to_string(f.head_dim);
}

std::string modifier_key(const ProblemFeatures& f) { return mask_name(f.mask); }

std::vector<KernelTrait> modifier_traits(const ProblemFeatures& f) {
  return {{"bool", "kCausal", f.mask == MaskKind::causal ? "true" : "false"}};
}

void write_features(const ProblemFeatures& f, nlohmann::json& object) {
  object["dtype"] = dtype_name(f.dtype);
  object["head_dim"] = f.head_dim;
  object["mask"] = mask_name(f.mask);
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
  return f;
}

}  // namespace flashjit
