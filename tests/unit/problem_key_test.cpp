// What the runtime makes of a validated call before choosing a kernel: its problem key (shared by the
// kernel table and the tuning cache) and the problem class the selector judges. Tensors TMA cannot
// address take other kernels (mma_sm80 on Hopper), so they must never share a key, or a cached
// wgmma_sm90 winner would be launched on rows it cannot load.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "runtime/kernel_provider.h"
#include "runtime/validate.h"

namespace flashjit {
namespace {

// Contiguous tensors at 16-byte aligned fake addresses (never dereferenced), with explicit strides
// as validate_args leaves them: bf16, 8 query heads over 2 kv heads, causal.
AttentionArgs contiguous_args() {
  AttentionArgs a;
  a.batch = 2;
  a.num_heads = 8;
  a.num_kv_heads = 2;
  a.seqlen_q = 1000;
  a.seqlen_k = 3000;
  a.head_dim = 128;
  a.mask = MaskKind::causal;
  a.softmax_scale = 0.088f;
  a.q = {reinterpret_cast<const void*>(0x100000), DType::bf16, contiguous_strides(1000, 8, 128)};
  a.k = {reinterpret_cast<const void*>(0x200000), DType::bf16, contiguous_strides(3000, 2, 128)};
  a.v = {reinterpret_cast<const void*>(0x300000), DType::bf16, contiguous_strides(3000, 2, 128)};
  a.out = {reinterpret_cast<void*>(0x400000), DType::bf16, contiguous_strides(1000, 8, 128)};
  return a;
}

TEST(ProblemKey, ContiguousTensorsHaveNoSuffix) {
  EXPECT_EQ(problem_key_of(contiguous_args()), "bf16_d128_causal_gqa4_len4096");
}

TEST(ProblemKey, TensorsTmaCannotAddressAreKeyedApart) {
  AttentionArgs rows = contiguous_args();
  rows.k.strides.seq = 2 * 128 + 4;  // 520-byte rows
  EXPECT_EQ(problem_key_of(rows), "bf16_d128_causal_gqa4_len4096_unaligned");

  AttentionArgs base = contiguous_args();
  base.v.data = reinterpret_cast<const void*>(0x300008);
  EXPECT_EQ(problem_key_of(base), "bf16_d128_causal_gqa4_len4096_unaligned");

  AttentionArgs out = contiguous_args();
  out.out.strides.head = 132;
  EXPECT_EQ(problem_key_of(out), "bf16_d128_causal_gqa4_len4096_unaligned");
}

TEST(ProblemClass, CarriesWhatTheSelectorJudges) {
  const gen::ProblemClass aligned = problem_class(contiguous_args());
  EXPECT_EQ(aligned.dtype, DType::bf16);
  EXPECT_EQ(aligned.head_dim, 128);
  EXPECT_EQ(aligned.mask, MaskKind::causal);
  EXPECT_EQ(aligned.tma_layout_problem, "");

  AttentionArgs rows = contiguous_args();
  rows.k.strides.seq = 2 * 128 + 4;
  EXPECT_EQ(problem_class(rows).tma_layout_problem,
            "k: the seq stride of 260 elements (520 bytes) is not a positive multiple of 16 bytes");
}

}  // namespace
}  // namespace flashjit
