// What the variant-rule tests share: a spec's problems on its nominal device, and the check that a
// spec has exactly one, expected problem.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "generator/device_description.h"
#include "generator/kernel_spec.h"

namespace flashjit::gen {

inline std::vector<std::string> problems_of(const KernelSpec& s) {
  return spec_problems(s, DeviceDescription::for_arch(s.arch));
}

inline std::string joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const std::string& p : problems) out += "[" + p + "] ";
  return out;
}

// Exactly one problem, and that one is `expected`.
inline void expect_only_problem(const KernelSpec& s, const std::string& expected) {
  const std::vector<std::string> problems = problems_of(s);
  ASSERT_EQ(problems.size(), 1u) << canonical_key(s) << ": " << joined(problems);
  EXPECT_EQ(problems[0], expected) << canonical_key(s);
}

}  // namespace flashjit::gen
