// The host conversions between float and f16/bf16 bits, checked exhaustively where the domain is
// 16 bits wide and against an independent round-to-nearest-even in double arithmetic elsewhere.
#include "flashjit/numeric.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace flashjit {
namespace {

float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

bool is_half_nan(uint16_t bits) { return (bits & 0x7c00u) == 0x7c00u && (bits & 0x03ffu) != 0; }
bool is_bf16_nan(uint16_t bits) { return (bits & 0x7f80u) == 0x7f80u && (bits & 0x007fu) != 0; }

// The value of a finite half straight from the IEEE binary16 definition.
double half_value(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int fraction = bits & 0x3ff;
  const double magnitude =
      exponent == 0 ? std::ldexp(fraction, -24) : std::ldexp(1024 + fraction, exponent - 25);
  return (bits & 0x8000u) ? -magnitude : magnitude;
}

// `value` rounded to nearest even on a grid of `spacing` (a power of two), computed in double,
// where both the quotient and the product are exact.
double round_to_grid(double value, double spacing) {
  return std::copysign(std::nearbyint(std::abs(value) / spacing) * spacing, value);
}

// The half a finite float should become: 11 significant bits, subnormal spacing 2^-24, and
// infinity from 65520 (half-way to 2^16) up.
double expected_half(float f) {
  if (std::abs(f) >= 65520.0f) return std::copysign(std::numeric_limits<double>::infinity(), f);
  const int exponent = f == 0.0f ? -24 : std::max(std::ilogb(f), -14);
  return round_to_grid(f, std::ldexp(1.0, exponent - 10));
}

// The bf16 a finite float should become: 8 significant bits, same exponent range as float.
double expected_bf16(float f) {
  const double largest = std::ldexp(255.0, 120);  // (2 - 2^-7) * 2^127
  const double spacing = std::ldexp(1.0, std::max(f == 0.0f ? -126 : std::ilogb(f), -126) - 7);
  if (std::abs(static_cast<double>(f)) >= largest + spacing / 2)
    return std::copysign(std::numeric_limits<double>::infinity(), f);
  return round_to_grid(f, spacing);
}

TEST(NumericHalf, DecodesEveryBitPatternAsDefined) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const float f = half_bits_to_float(h);
    if (is_half_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << bits;
    } else if ((h & 0x7fffu) == 0x7c00u) {
      EXPECT_TRUE(std::isinf(f) && std::signbit(f) == ((h & 0x8000u) != 0)) << std::hex << bits;
    } else {
      ASSERT_EQ(f, half_value(h)) << std::hex << bits;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << std::hex << bits;
    }
  }
}

TEST(NumericHalf, EveryBitPatternRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const uint16_t back = float_to_half_bits(half_bits_to_float(h));
    if (is_half_nan(h)) {
      EXPECT_TRUE(is_half_nan(back)) << std::hex << bits << " -> " << back;
      EXPECT_EQ(back & 0x8000u, h & 0x8000u) << std::hex << bits;
    } else {
      ASSERT_EQ(back, h) << std::hex << bits;
    }
  }
}

// Every midpoint between two adjacent finite halves (subnormal and normal, both signs) rounds to the
// even one, and the floats just either side of it round to the nearer one.
TEST(NumericHalf, TiesRoundToEven) {
  for (uint16_t lower = 0; lower < 0x7bff; ++lower) {
    const uint16_t upper = lower + 1;
    const float midpoint = static_cast<float>((half_value(lower) + half_value(upper)) / 2);  // exact
    const uint16_t even = (lower & 1u) ? upper : lower;
    for (uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
      const float s = sign ? -1.0f : 1.0f;
      ASSERT_EQ(float_to_half_bits(s * midpoint), sign | even) << std::hex << lower;
      ASSERT_EQ(float_to_half_bits(s * std::nextafter(midpoint, 0.0f)), sign | lower) << std::hex << lower;
      ASSERT_EQ(float_to_half_bits(s * std::nextafter(midpoint, 1e9f)), sign | upper) << std::hex << lower;
    }
  }
}

TEST(NumericHalf, Subnormals) {
  const float smallest = std::ldexp(1.0f, -24);
  EXPECT_EQ(float_to_half_bits(smallest), 0x0001);
  EXPECT_EQ(float_to_half_bits(-smallest), 0x8001);
  EXPECT_EQ(float_to_half_bits(1023 * smallest), 0x03ff);  // largest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(float_to_half_bits(smallest / 2), 0x0000);  // tie between 0 and 2^-24: even is 0
  EXPECT_EQ(float_to_half_bits(std::nextafter(smallest / 2, 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half_bits(1.5f * smallest), 0x0002);  // tie between 1 and 2: even is 2
  EXPECT_EQ(float_to_half_bits(2.5f * smallest), 0x0002);  // tie between 2 and 3: even is 2
  EXPECT_EQ(float_to_half_bits(1023.5f * smallest), 0x0400);  // rounds up into the normals
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(float_to_half_bits(-std::ldexp(1.0f, -30)), 0x8000);  // keeps the sign of zero
  EXPECT_EQ(float_to_half_bits(FLT_TRUE_MIN), 0x0000);
  EXPECT_EQ(half_bits_to_float(0x0001), smallest);
  EXPECT_EQ(half_bits_to_float(0x03ff), 1023 * smallest);
  EXPECT_EQ(half_bits_to_float(0x8200), -512 * smallest);
}

TEST(NumericHalf, OverflowsToInfinity) {
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);  // the tie with 2^16 rounds to "even" infinity
  EXPECT_EQ(float_to_half_bits(-65520.0f), 0xfc00);
  EXPECT_EQ(float_to_half_bits(1e6f), 0x7c00);
  EXPECT_EQ(float_to_half_bits(FLT_MAX), 0x7c00);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(float_to_half_bits(-std::numeric_limits<float>::infinity()), 0xfc00);
}

TEST(NumericHalf, NaNStaysNaN) {
  // 0x7f800001 has payload only in bits a truncating conversion would drop (it would give inf).
  for (uint32_t bits : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7fa00000u}) {
    const uint16_t h = float_to_half_bits(float_from_bits(bits));
    EXPECT_TRUE(is_half_nan(h)) << std::hex << bits << " -> " << h;
    EXPECT_EQ((h & 0x8000u) != 0, (bits & 0x80000000u) != 0) << std::hex << bits;
  }
}

// Random floats over the whole range a half can reach (and well below, into underflow).
TEST(NumericHalf, RandomFloatsRoundToTheNearestHalf) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> magnitude_bits(0, 0x47900000u);  // up to ~73728
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t bits = magnitude_bits(rng) | ((rng() & 1u) << 31);
    const float f = float_from_bits(bits);
    const uint16_t h = float_to_half_bits(f);
    const double want = expected_half(f);
    const double got = std::isinf(want) ? half_bits_to_float(h) : half_value(h);
    ASSERT_EQ(got, want) << "float bits " << std::hex << bits << " -> half " << h;
    ASSERT_EQ(std::signbit(got), std::signbit(f)) << std::hex << bits;
  }
}

TEST(NumericBf16, EveryBitPatternRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const uint16_t b = static_cast<uint16_t>(bits);
    const float f = bf16_bits_to_float(b);
    const uint16_t back = float_to_bf16_bits(f);
    if (is_bf16_nan(b)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << bits;
      EXPECT_TRUE(is_bf16_nan(back)) << std::hex << bits << " -> " << back;
    } else {
      ASSERT_EQ(back, b) << std::hex << bits;
    }
  }
}

// Midpoints between adjacent bf16 values (all finite ones, both signs, the last one rounding to
// infinity) go to the even neighbour; one float ulp either side goes to the nearer one.
TEST(NumericBf16, TiesRoundToEven) {
  for (uint32_t lower = 0; lower < 0x7f80; ++lower) {
    const uint32_t upper = lower + 1;
    const uint32_t even = (lower & 1u) ? upper : lower;
    for (uint32_t sign : {0u, 0x8000u}) {
      const uint32_t midpoint = ((sign | lower) << 16) | 0x8000u;
      ASSERT_EQ(float_to_bf16_bits(float_from_bits(midpoint)), sign | even) << std::hex << lower;
      ASSERT_EQ(float_to_bf16_bits(float_from_bits(midpoint - 1)), sign | lower) << std::hex << lower;
      ASSERT_EQ(float_to_bf16_bits(float_from_bits(midpoint + 1)), sign | upper) << std::hex << lower;
    }
  }
}

TEST(NumericBf16, NaNStaysNaN) {
  // A NaN whose payload lies in the low 16 bits, and one whose rounding would carry into the sign.
  for (uint32_t bits : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0xffffffffu}) {
    const uint16_t b = float_to_bf16_bits(float_from_bits(bits));
    EXPECT_TRUE(is_bf16_nan(b)) << std::hex << bits << " -> " << b;
    EXPECT_EQ((b & 0x8000u) != 0, (bits & 0x80000000u) != 0) << std::hex << bits;
  }
}

TEST(NumericBf16, RandomFloatsRoundToTheNearestBf16) {
  std::mt19937 rng(11);
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    const float f = float_from_bits(bits);
    if (std::isnan(f)) continue;
    const uint16_t b = float_to_bf16_bits(f);
    const double want = std::isinf(f) ? static_cast<double>(f) : expected_bf16(f);
    ASSERT_EQ(static_cast<double>(bf16_bits_to_float(b)), want) << "float bits " << std::hex << bits << " -> " << b;
    ASSERT_EQ(std::signbit(bf16_bits_to_float(b)), std::signbit(f)) << std::hex << bits;
  }
}

TEST(NumericStorage, LoadAndStoreUseTheDtypeLayout) {
  std::vector<uint8_t> buffer(16, 0);
  store_from_float(buffer.data(), DType::f16, 3, 1.5f);
  EXPECT_EQ(buffer[6], 0x00);
  EXPECT_EQ(buffer[7], 0x3e);  // little-endian 0x3e00
  EXPECT_EQ(load_as_float(buffer.data(), DType::f16, 3), 1.5f);
  EXPECT_EQ(load_as_float(buffer.data(), DType::f16, 2), 0.0f);

  store_from_float(buffer.data(), DType::bf16, 1, -2.5f);
  EXPECT_EQ(buffer[2], 0x20);
  EXPECT_EQ(buffer[3], 0xc0);  // 0xc020
  EXPECT_EQ(load_as_float(buffer.data(), DType::bf16, 1), -2.5f);

  store_from_float(buffer.data(), DType::f32, 2, 0.1f);
  EXPECT_EQ(load_as_float(buffer.data(), DType::f32, 2), 0.1f);
  EXPECT_EQ(load_as_float(buffer.data(), DType::f16, 3), 1.5f);  // bytes 6..7 untouched by others
}

}  // namespace
}  // namespace flashjit
