// The host-side choices of the GPU tuning backend: how large the timed problem is and how many
// input sets rotate so L2 does not flatter.
#include <gtest/gtest.h>

#include "runtime/cuda_tuning_backend.h"

namespace flashjit {
namespace {

AttentionArgs big_shape() {
  AttentionArgs a;
  a.batch = 64;
  a.num_heads = 32;
  a.num_kv_heads = 8;
  a.seqlen_q = a.seqlen_k = 8192;
  a.head_dim = 128;
  a.q.dtype = a.k.dtype = a.v.dtype = a.out.dtype = DType::bf16;
  return a;
}

TEST(TuningShape, BatchShrinksUntilOneSetFits) {
  // One batch entry: q and out 8192*32*128*2 bytes each, k and v a quarter of that: 160 MiB.
  const AttentionArgs capped = capped_tuning_shape(big_shape(), int64_t{512} << 20);
  EXPECT_EQ(capped.batch, 2);
  EXPECT_EQ(capped.seqlen_q, 8192);  // the sequence lengths are the real ones
  EXPECT_EQ(capped.num_heads, 32);
}

TEST(TuningShape, SmallProblemsKeepTheirBatch) {
  AttentionArgs a = big_shape();
  a.batch = 3;
  a.seqlen_q = a.seqlen_k = 256;
  EXPECT_EQ(capped_tuning_shape(a, int64_t{512} << 20).batch, 3);
}

TEST(TuningShape, RotationCoversTheL2SeveralTimes) {
  const int l2 = 50 << 20;
  EXPECT_EQ(rotation_sets(int64_t{1} << 20, l2), 8);    // tiny sets: the cap
  EXPECT_EQ(rotation_sets(int64_t{60} << 20, l2), 4);   // 4 * 50 MiB / 60 MiB, rounded up
  EXPECT_EQ(rotation_sets(int64_t{400} << 20, l2), 2);  // never fewer than two
}

}  // namespace
}  // namespace flashjit
