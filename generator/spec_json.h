// KernelSpec <-> JSON, for dump files, `flashjit emit` and (later) the cache and its export.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <llvm/Support/Error.h>

#include "generator/kernel_spec.h"

namespace flashjit::gen {

nlohmann::json spec_to_json(const KernelSpec& spec);
// Every field is checked; an error names the field and what was wrong with it.
llvm::Expected<KernelSpec> spec_from_json(const nlohmann::json& json);

llvm::Expected<Variant> parse_variant(const std::string& text);
// "sm_90", "sm_90a", "90" -> (90, arch_specific)
llvm::Expected<std::pair<int, bool>> parse_arch(const std::string& text);

}  // namespace flashjit::gen
