// The CPU backend's vectorizable exponential against std::exp (in double) over its whole domain,
// and at the values the online softmax relies on: -inf weighs exactly 0, NaN stays NaN.
#include "runtime/cpu/fast_exp.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace flashjit {
namespace {

TEST(FastExp, WithinFourUlpOfExpOnItsDomain) {
  double worst = 0.0;
  float worst_x = 0.0f;
  // Every 2^-12 from -87 to 0, and the points between: about 360,000 values.
  for (int i = 0; i <= 87 * 4096; ++i) {
    const float x = -static_cast<float>(i) / 4096.0f;
    const double exact = std::exp(static_cast<double>(x));
    const double relative = std::abs(static_cast<double>(cpu::exp_nonpositive(x)) - exact) / exact;
    if (relative > worst) {
      worst = relative;
      worst_x = x;
    }
  }
  EXPECT_LT(worst, 4 * std::numeric_limits<float>::epsilon()) << "at x = " << worst_x;
}

TEST(FastExp, ExactAtZeroAndZeroBelowTheNormalRange) {
  EXPECT_EQ(cpu::exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(cpu::exp_nonpositive(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(cpu::exp_nonpositive(-88.5f), 0.0f);
  EXPECT_EQ(cpu::exp_nonpositive(-1e30f), 0.0f);
  // Just above the cut, a normal value close to exp's.
  EXPECT_NEAR(cpu::exp_nonpositive(-87.0f) / std::exp(-87.0), 1.0, 1e-6);
}

TEST(FastExp, NanStaysNan) {
  EXPECT_TRUE(std::isnan(cpu::exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(cpu::exp_nonpositive(-std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace flashjit
