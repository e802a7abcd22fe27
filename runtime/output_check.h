// How close a kernel's output must be to the CPU backend's: used by the tuner's correctness check
// and by `flashjit run`. Errors are |out - ref| / max(1, |ref|) per element; an element left
// unwritten (NaN poison) counts as infinitely wrong.
#pragma once

#include <cstdint>
#include <vector>

#include "flashjit/types.h"

namespace flashjit {

// Allowed error per dtype: a few units of the output's rounding plus fp32 accumulation.
double output_tolerance(DType dtype);

// Largest error over two buffers of `dtype` elements of equal size.
double max_output_error(const std::vector<uint8_t>& out, const std::vector<uint8_t>& reference, DType dtype);

}  // namespace flashjit
