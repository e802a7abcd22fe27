// Host-side conversions between float and the 16-bit storage formats, for preparing inputs and
// reading outputs without CUDA headers. Round to nearest even; NaN stays NaN.
#pragma once

#include <cstdint>

#include "flashjit/export.h"
#include "flashjit/types.h"

namespace flashjit {

FLASHJIT_API uint16_t float_to_half_bits(float value);
FLASHJIT_API float half_bits_to_float(uint16_t bits);
FLASHJIT_API uint16_t float_to_bf16_bits(float value);
FLASHJIT_API float bf16_bits_to_float(uint16_t bits);

// Element `index` of a buffer of `dtype`, as float; and the reverse.
FLASHJIT_API float load_as_float(const void* data, DType dtype, int64_t index);
FLASHJIT_API void store_from_float(void* data, DType dtype, int64_t index, float value);

}  // namespace flashjit
