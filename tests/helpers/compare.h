// Comparing a computed attention output (and lse) with a reference, element by element.
#pragma once

#include <gtest/gtest.h>

#include "helpers/naive_reference.h"
#include "helpers/test_problem.h"

namespace flashjit::test {

// Allowed error of an output element: abs + rel * (largest |reference| in its row), i.e. a relative
// error measured against the scale of the row (max over head_dim of |reference|), so elements near
// zero are not held to a bound their rounding cannot meet. Outputs are
// rounded to their dtype, so rel is a few units of the dtype's rounding (f16 2^-11, bf16 2^-8);
// f32 leaves room for fp32 accumulation over a thousand keys.
struct Tolerance {
  double abs;
  double rel;
};
Tolerance output_tolerance(DType dtype);

// lse is fp32 whatever the dtype. The CPU backend uses exp; the kernels use ex2.approx and another
// summation order, hence a looser bound for them.
inline constexpr double kCpuLseTolerance = 1e-5;
inline constexpr double kKernelLseTolerance = 1e-4;

// Checks every output element and (when check_lse) every lse value of `p` against `ref` (a row the
// reference has as NaN must be NaN, lse too); also that the output buffer holds exactly as many
// non-NaN values as there are output elements outside NaN rows, so every element was written and
// no padding was.
testing::AssertionResult matches_reference(const HostProblem& p, const ReferenceOutput& ref, bool check_lse,
                                           double lse_tolerance);

// Whether every value of `p`'s output buffer (padding included) is still make_problem's NaN poison,
// and every lse value still kLsePoison: what a call that launched nothing leaves behind.
testing::AssertionResult output_is_poisoned(const HostProblem& p);
testing::AssertionResult lse_is_poisoned(const HostProblem& p);

// The output and lse another backend computed into `p`, in the reference's layout.
ReferenceOutput reference_from(const HostProblem& p);

}  // namespace flashjit::test
