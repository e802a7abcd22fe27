// What the variant-rule tests share: a spec from a tile, a spec's problems on its nominal device, and
// the check that a spec has exactly one, expected problem.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "generator/device_description.h"
#include "generator/kernel_spec.h"

namespace flashjit::gen {

// `variant` at `arch` (the arch-specific target for wgmma_sm90) with a tile.
inline KernelSpec tile_spec(Variant variant, int arch, int head_dim, int block_m, int block_n, int warps, int stages,
                            DType dtype = DType::f16) {
  KernelSpec s;
  s.variant = variant;
  s.arch = arch;
  s.arch_specific = variant == Variant::wgmma_sm90;
  s.dtype = dtype;
  s.head_dim = head_dim;
  s.block_m = block_m;
  s.block_n = block_n;
  s.warps = warps;
  s.stages = stages;
  return s;
}

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
