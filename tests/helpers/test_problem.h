// Host-side attention problems for tests: random inputs of a dtype and layout, and comparison of an
// output against a reference.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "flashjit/types.h"
#include "problem/problem_shape.h"

namespace flashjit::test {

// A test case: the library's ProblemShape (batch, heads, lengths), the features, and the layout and
// options that vary between cases.
struct ProblemShape : ::flashjit::ProblemShape {
  int head_dim = 64;
  DType dtype = DType::f16;
  MaskKind mask = MaskKind::none;
  float softmax_scale = 0.0f;
  // Extra elements between heads and between sequence rows, to make layouts non-contiguous (a
  // padding that is not a multiple of 8 elements makes rows that are not 16-byte aligned).
  int head_padding = 0;
  int seq_padding = 0;
  // False: args.lse is null, so the kernel must compute without writing any lse.
  bool with_lse = true;

  // "b2_h4_kv2_q17_k33_d64_f16_causal", then what differs from the defaults ("_hpad8_spad3",
  // "_scale0p3", "_nolse"), so that two shapes with different layouts never share a name.
  std::string name() const;
};

ProblemShape shape(int batch, int heads, int kv_heads, int seqlen_q, int seqlen_k, int head_dim, DType dtype,
                   MaskKind mask = MaskKind::none);

// GoogleTest prints parameters with this (instead of their bytes).
inline void PrintTo(const ProblemShape& shape, std::ostream* os) { *os << shape.name(); }

// What make_problem fills the lse buffer with; a value no real lse takes for these inputs.
inline constexpr float kLsePoison = 12345.0f;

// Host buffers of a problem, with strides set in `args` (pointers into the vectors).
struct HostProblem {
  ProblemShape shape;
  std::vector<uint8_t> q, k, v, out;
  std::vector<float> lse;
  AttentionArgs args;

  // Re-points args at the vectors (after a copy or move); args.lse stays null when the shape asks
  // for no lse.
  void bind();
};

// Deterministic random inputs in [-1, 1) (scaled so scores are O(1)); out filled with NaN poison
// and lse with a poison value, so unwritten elements are caught.
HostProblem make_problem(const ProblemShape& shape, uint32_t seed = 1234);

// Output element (b, s, h, d) of a problem's out buffer as float.
float output_at(const HostProblem& p, int b, int s, int h, int d);

}  // namespace flashjit::test
