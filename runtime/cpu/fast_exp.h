// exp(x) for x <= 0 in branch-free fp32 that compilers vectorize: the softmax's exponentials, one
// per score, no longer a libm call each. Within a few ulp of std::exp on [-87, 0]; below about -87.7
// (where exp is subnormal, under 1e-38) it returns 0, so -inf gives exactly 0; NaN stays NaN. That
// is what the online softmax needs: a masked score weighs nothing, a NaN score poisons its row.
#pragma once

#include <cstdint>
#include <cstring>

namespace flashjit::cpu {

[[gnu::always_inline]] inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  // ln 2 split in two so that n * ln2 is exact in the high part (Cody and Waite's reduction).
  constexpr float kLn2High = 0.693359375f;
  constexpr float kLn2Low = -2.12194440e-4f;
  // -88 / ln 2 rounds to n = -127, whose 2^n below is built as 0 (the all-zero exponent field).
  constexpr float kUnderflow = -88.0f;
  // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits, without
  // a float-to-int conversion (undefined for NaN in C++).
  constexpr float kRoundingShift = 12582912.0f;

  const float clamped = x < kUnderflow ? kUnderflow : x;  // NaN compares false and stays NaN
  const float shifted = clamped * kLog2e + kRoundingShift;
  const float n = shifted - kRoundingShift;
  const float r = (clamped - n * kLn2High) - n * kLn2Low;  // |r| <= ln2 / 2
  // exp(r) by its Taylor series to r^6 (Horner): relative error under 2e-7 on |r| <= ln2 / 2.
  float p = 1.3888889e-3f;
  p = p * r + 8.3333333e-3f;
  p = p * r + 4.1666667e-2f;
  p = p * r + 1.6666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n built in the exponent field: n is in [-127, 0] after the clamp; -127 makes the field 0, and
  // with a zero mantissa the scale is exactly 0.
  // Unsigned: a NaN's bits make any n, and only unsigned arithmetic wraps without undefined
  // behaviour (the NaN then comes out of p).
  uint32_t shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
  const uint32_t exponent_bits = (shifted_bits - 0x4B400000u + 127u) << 23;
  float scale;
  std::memcpy(&scale, &exponent_bits, sizeof scale);
  return p * scale;
}

}  // namespace flashjit::cpu
