#include "support/json_fields.h"

#include <climits>

#include <nlohmann/json.hpp>

#include "support/error.h"

namespace flashjit {

llvm::Error field_error(const char* field, const std::string& why) {
  return make_error(ErrorCode::invalid_argument, std::string("field '") + field + "': " + why);
}

llvm::Expected<int> int_field(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end()) return field_error(field, "missing");
  if (!it->is_number_integer()) return field_error(field, "not an integer");
  // Compared in the type the value has (JSON's non-negative integers parse as unsigned).
  const bool fits = it->is_number_unsigned()
                        ? it->get<unsigned long long>() <= INT_MAX
                        : it->get<long long>() >= INT_MIN && it->get<long long>() <= INT_MAX;
  if (!fits) return field_error(field, "out of range for an int");
  return it->get<int>();
}

llvm::Expected<std::string> string_field(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end()) return field_error(field, "missing");
  if (!it->is_string()) return field_error(field, "not a string");
  return it->get<std::string>();
}

}  // namespace flashjit
