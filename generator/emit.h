// Source emission: a thin shell of constexpr traits around the variant's template, with the
// templates it includes inlined so the result compiles with NVRTC and no include path.
#pragma once

#include <string>

#include <llvm/Support/Error.h>

#include "generator/kernel_spec.h"

namespace flashjit::gen {

// Bumped whenever the emitted shell changes meaning; part of every cache key with the template hash.
inline constexpr const char* kGeneratorVersion = "1";

struct EmittedKernel {
  std::string key;              // canonical spec key
  std::string source;           // self-contained CUDA C++
  std::string name_expression;  // for nvrtcAddNameExpression / nvrtcGetLoweredName
};

llvm::Expected<EmittedKernel> emit(const KernelSpec& spec);

// The device storage type a shell declares as Element for a dtype: "float",
// "::flashjit::dev::half_bits", "::flashjit::dev::bf16_bits".
const char* element_type(DType dtype);

// Template text with its quoted includes of other templates inlined (each file once).
llvm::Expected<std::string> expand_template(const std::string& name);

// Hash of the generator version and every template: changes whenever generated code may change.
std::string generator_hash();

}  // namespace flashjit::gen
