// The host-side choices of the GPU tuning backend: how large the timed problem is and how many
// input sets rotate so L2 does not flatter.
#include <gtest/gtest.h>

#include "runtime/cuda_tuning_backend.h"

namespace flashjit {
namespace {

Problem problem_of(int batch, int seqlen) {
  auto p = Problem::of_shape({DType::bf16, 128, MaskKind::none}, ProblemShape{batch, 32, 8, seqlen, seqlen});
  if (!p) ADD_FAILURE() << llvm::toString(p.takeError());
  return std::move(*p);
}

TEST(TuningShape, BatchShrinksUntilOneSetFits) {
  // One batch entry: q and out 8192*32*128*2 bytes each, k and v a quarter of that: 160 MiB.
  const Problem big = problem_of(64, 8192);
  const Problem capped = capped_tuning_problem(big, int64_t{512} << 20);
  EXPECT_EQ(capped.shape().batch, 2);
  EXPECT_EQ(capped.shape().seqlen_q, 8192);  // the sequence lengths are the real ones
  EXPECT_EQ(capped.shape().num_heads, 32);
  EXPECT_EQ(capped.key(), big.key());  // the same kernel is tuned
}

TEST(TuningShape, SmallProblemsKeepTheirBatch) {
  EXPECT_EQ(capped_tuning_problem(problem_of(3, 256), int64_t{512} << 20).shape().batch, 3);
}

TEST(TuningShape, RotationCoversTheL2SeveralTimes) {
  const int l2 = 50 << 20;
  EXPECT_EQ(rotation_sets(int64_t{1} << 20, l2), 8);    // tiny sets: the cap
  EXPECT_EQ(rotation_sets(int64_t{60} << 20, l2), 4);   // 4 * 50 MiB / 60 MiB, rounded up
  EXPECT_EQ(rotation_sets(int64_t{400} << 20, l2), 2);  // never fewer than two
}

}  // namespace
}  // namespace flashjit
