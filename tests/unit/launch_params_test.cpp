// From validated arguments to the kernel's parameter block and grid.
#include <cmath>

#include <gtest/gtest.h>

#include "runtime/launch_params.h"
#include "runtime/validate.h"
#include "support/test_problem.h"

namespace flashjit {
namespace {

TEST(LaunchParams, CarryStridesSizesAndTheScaleInBase2) {
  test::ProblemShape s;
  s.batch = 3;
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.seqlen_q = 70;
  s.seqlen_k = 90;
  s.head_dim = 64;
  s.head_padding = 8;
  test::HostProblem p = test::make_problem(s);
  Result<AttentionArgs> a = validate_args(p.args);
  ASSERT_TRUE(a.ok());
  const AttentionParams params = make_params(*a);
  EXPECT_EQ(params.k_strides.head, 72);
  EXPECT_EQ(params.k_strides.seq, 72 * 2);
  EXPECT_EQ(params.o_strides.batch, 72 * 8 * 70);
  EXPECT_EQ(params.num_kv_heads, 2);
  EXPECT_FLOAT_EQ(params.softmax_scale, 0.125f);
  EXPECT_FLOAT_EQ(params.scale_log2, 0.125f / std::log(2.0f));
  EXPECT_EQ(params.lse, p.lse.data());
}

TEST(LaunchParams, GridCoversEveryQueryRowHeadAndBatch) {
  test::ProblemShape s;
  s.batch = 3;
  s.num_heads = 5;
  s.seqlen_q = 70;
  s.seqlen_k = 9;
  s.head_dim = 32;
  test::HostProblem p = test::make_problem(s);
  Result<AttentionArgs> a = validate_args(p.args);
  ASSERT_TRUE(a.ok());
  gen::KernelSpec spec;
  spec.block_m = 32;
  spec.block_n = 32;
  spec.warps = 4;
  spec.head_dim = 32;
  const cuda::LaunchShape shape = launch_shape(spec, *a);
  EXPECT_EQ(shape.grid[0], 3u);  // ceil(70 / 32)
  EXPECT_EQ(shape.grid[1], 5u);
  EXPECT_EQ(shape.grid[2], 3u);
  EXPECT_EQ(shape.block[0], 128u);
  EXPECT_EQ(shape.dynamic_shared_bytes, static_cast<unsigned>(gen::shared_memory_bytes(spec)));
}

}  // namespace
}  // namespace flashjit
