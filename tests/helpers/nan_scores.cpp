#include "helpers/nan_scores.h"

#include <limits>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"

namespace flashjit::test {
namespace {

void set_nan(std::vector<uint8_t>& buffer, const InputTensor& t, int b, int s, int h) {
  const int64_t element = b * t.strides.batch + s * t.strides.seq + h * t.strides.head;
  store_from_float(buffer.data(), t.dtype, element, std::numeric_limits<float>::quiet_NaN());
}

}  // namespace

HostProblem make_nan_score_problem(const ProblemShape& shape, NanScoreRows* rows) {
  EXPECT_EQ(shape.mask, MaskKind::causal) << shape.name();
  EXPECT_GT(shape.seqlen_q, shape.seqlen_k) << shape.name();
  EXPECT_GE(shape.seqlen_k, 8) << shape.name();
  HostProblem p = make_problem(shape);
  // Bottom-right causal alignment: row i sees key j when j <= i - offset.
  const int offset = shape.seqlen_q - shape.seqlen_k;
  rows->masked_nan_query = offset - 1;  // the last row that sees no key
  rows->nan_query = offset + shape.seqlen_k / 2;  // sees half the keys: whole key blocks, not only masked ones
  const int nan_key = shape.seqlen_k - 3;
  rows->first_nan_key_row = nan_key + offset;
  set_nan(p.q, p.args.q, 0, rows->masked_nan_query, 0);
  set_nan(p.q, p.args.q, 0, rows->nan_query, 0);
  set_nan(p.k, p.args.k, 0, nan_key, 0);
  return p;
}

}  // namespace flashjit::test
