// Typed fields of a JSON object, with invalid_argument errors that name the field:
// "field 'head_dim': not an integer". Callers put their context in front ("spec field ...").
#pragma once

#include <string>

#include <llvm/Support/Error.h>
#include <nlohmann/json_fwd.hpp>

namespace flashjit {

// An error "field '<field>': <why>".
llvm::Error field_error(const char* field, const std::string& why);

// An integer that fits an int: a larger value must not wrap into a different, valid-looking one.
llvm::Expected<int> int_field(const nlohmann::json& object, const char* field);
llvm::Expected<std::string> string_field(const nlohmann::json& object, const char* field);

}  // namespace flashjit
