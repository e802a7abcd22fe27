// The public enums' names read back: the inverse of dtype_name() and mask_name() (flashjit/types.h),
// for the CLI, the deployment manifest and stored specs. Variant names are read by the generator,
// from its table of variants (generator/variant_rules.h).
#pragma once

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

#include "flashjit/types.h"

namespace flashjit {

// "f32", "f16", "bf16"; an invalid_argument error "unknown dtype 'x' (expected f32, f16 or bf16)".
llvm::Expected<DType> parse_dtype(llvm::StringRef text);
// "none", "causal"; an invalid_argument error "unknown mask 'x' (expected none or causal)".
llvm::Expected<MaskKind> parse_mask(llvm::StringRef text);

}  // namespace flashjit
