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

  // Issue 14. A ragged batch: one query and one key length per sequence (batch, seqlen_q and
  // seqlen_k then become the count and the longest of each); empty: dense.
  std::vector<int> q_lengths;
  std::vector<int> k_lengths;
  // A ragged batch's args carry the packed tensors' token counts (total_q, total_k); false leaves
  // them out, as a caller that does not know them would.
  bool with_totals = true;
  int window_left = -1;
  int window_right = -1;
  float softcap = 0.0f;
  // ALiBi slopes: ALiBi's geometric 2^(-8 (h + 1) / num_heads), and with alibi_per_batch a
  // [batch, num_heads] table whose rows differ.
  bool alibi = false;
  bool alibi_per_batch = false;

  bool ragged() const { return !q_lengths.empty(); }

  // "b2_h4_kv2_q17_k33_d64_f16_causal", then what differs from the defaults ("_hpad8_spad3",
  // "_scale0p3", "_nolse"), so that two shapes with different layouts never share a name.
  std::string name() const;
};

ProblemShape shape(int batch, int heads, int kv_heads, int seqlen_q, int seqlen_k, int head_dim, DType dtype,
                   MaskKind mask = MaskKind::none);

// A ragged batch of q_lengths.size() sequences (k_lengths of the same size).
ProblemShape ragged_shape(std::vector<int> q_lengths, std::vector<int> k_lengths, int heads, int kv_heads,
                          int head_dim, DType dtype, MaskKind mask = MaskKind::none);

// `s` with a sliding window, a softcap, or ALiBi slopes (per batch entry when per_batch).
ProblemShape windowed(ProblemShape s, int left, int right);
ProblemShape capped(ProblemShape s, float softcap);
ProblemShape with_alibi(ProblemShape s, bool per_batch = false);

// GoogleTest prints parameters with this (instead of their bytes).
inline void PrintTo(const ProblemShape& shape, std::ostream* os) { *os << shape.name(); }

// What make_problem fills the lse buffer with; a value no real lse takes for these inputs.
inline constexpr float kLsePoison = 12345.0f;

// Host buffers of a problem, with strides set in `args` (pointers into the vectors).
struct HostProblem {
  ProblemShape shape;
  std::vector<uint8_t> q, k, v, out;
  std::vector<float> lse;
  std::vector<int32_t> cu_seqlens_q, cu_seqlens_k;  // a ragged batch's offsets
  std::vector<float> alibi_slopes;
  AttentionArgs args;

  // Sequence b's lengths and first tokens (0 when dense), and where its (head h, row i) lse is.
  int seqlen_q_of(int b) const;
  int seqlen_k_of(int b) const;
  int64_t q_row0(int b) const;
  int64_t k_row0(int b) const;
  size_t lse_index(int b, int h, int i) const;

  // Re-points args at the vectors (after a copy or move); args.lse stays null when the shape asks
  // for no lse.
  void bind();
};

// Deterministic random inputs in [-1, 1) (scaled so scores are O(1)); out filled with NaN poison
// and lse with a poison value, so unwritten elements are caught.
HostProblem make_problem(const ProblemShape& shape, uint32_t seed = 1234);

// Output element (b, s, h, d) of a problem's out buffer as float; s counts tokens of batch entry b
// (of the packed tensor when ragged: q_row0(b) + the row).
float output_at(const HostProblem& p, int b, int s, int h, int d);

}  // namespace flashjit::test
