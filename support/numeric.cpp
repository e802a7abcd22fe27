// Host conversions between float and f16/bf16 bit patterns (IEEE binary16 and bfloat16).
#include "flashjit/numeric.h"

#include <cstring>

namespace flashjit {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

uint16_t float_to_half_bits(float value) {
  const uint32_t u = bits_of(value);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u); // rounds to infinity
  if (abs < 0x38800000u) {
    // Subnormal or zero in half: value = mantissa * 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    const int exponent = static_cast<int>(abs >> 23);
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - exponent;  // 14 + (127 - 1 - exponent) ... bits to drop beyond 13
    const uint32_t dropped_bits = static_cast<uint32_t>(shift);
    uint32_t result = mantissa >> dropped_bits;
    const uint32_t remainder = mantissa & ((1u << dropped_bits) - 1u);
    const uint32_t halfway = 1u << (dropped_bits - 1u);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
  uint32_t rebased = abs - 0x38000000u;
  rebased += 0x0fffu + ((rebased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rebased >> 13));
}

float half_bits_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1fu) return float_of(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return float_of(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return float_of(sign);
  // Subnormal half: normalize.
  int e = -1;
  do {
    ++e;
    mantissa <<= 1;
  } while ((mantissa & 0x400u) == 0);
  return float_of(sign | ((112u - static_cast<uint32_t>(e)) << 23) | ((mantissa & 0x3ffu) << 13));
}

uint16_t float_to_bf16_bits(float value) {
  uint32_t u = bits_of(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float bf16_bits_to_float(uint16_t bits) { return float_of(static_cast<uint32_t>(bits) << 16); }

float load_as_float(const void* data, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(data)[index];
    case DType::f16: return half_bits_to_float(static_cast<const uint16_t*>(data)[index]);
    case DType::bf16: return bf16_bits_to_float(static_cast<const uint16_t*>(data)[index]);
  }
  return 0.0f;
}

void store_from_float(void* data, DType dtype, int64_t index, float value) {
  switch (dtype) {
    case DType::f32: static_cast<float*>(data)[index] = value; return;
    case DType::f16: static_cast<uint16_t*>(data)[index] = float_to_half_bits(value); return;
    case DType::bf16: static_cast<uint16_t*>(data)[index] = float_to_bf16_bits(value); return;
  }
}

}  // namespace flashjit
