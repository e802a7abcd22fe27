// From validated arguments to the kernel's parameter block and grid.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "runtime/launch_params.h"
#include "problem/validate.h"
#include "helpers/test_problem.h"

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

// ---- wgmma_sm90: a persistent grid and tensor maps -------------------------------------------------

gen::KernelSpec wgmma_spec() {
  gen::KernelSpec spec;
  spec.variant = Variant::wgmma_sm90;
  spec.arch = 90;
  spec.arch_specific = true;
  spec.head_dim = 128;
  spec.block_m = 128;
  spec.block_n = 128;
  spec.warps = 12;
  spec.stages = 2;
  return spec;
}

// Sizes only: launch_shape reads no pointer or stride.
AttentionArgs sized(int batch, int heads, int seqlen_q) {
  AttentionArgs a;
  a.batch = batch;
  a.num_heads = heads;
  a.num_kv_heads = heads;
  a.seqlen_q = seqlen_q;
  a.seqlen_k = seqlen_q;
  a.head_dim = 128;
  return a;
}

// The persistent kernel runs at most one block per SM, on a 1D grid; its blocks walk the
// ceil(seqlen_q / block_m) * heads * batch tiles (templates/wgmma_tile_scheduler.cuh).
TEST(LaunchParams, WgmmaGridIsPersistentAndOneDimensional) {
  const gen::KernelSpec spec = wgmma_spec();
  const AttentionArgs many = sized(10, 12, 25 * 128);  // 25 * 12 * 10 = 3000 tiles
  const cuda::LaunchShape full = launch_shape(spec, many, 132);
  EXPECT_EQ(full.grid[0], 132u);
  EXPECT_EQ(full.grid[1], 1u);
  EXPECT_EQ(full.grid[2], 1u);
  EXPECT_EQ(full.block[0], 384u);  // 12 warps
  // 1024 + (128 + 2*2*128) * 128*2 + 8 * (2 + 3*2): the rules' formula.
  EXPECT_EQ(full.dynamic_shared_bytes, 164928u);
  EXPECT_EQ(full.dynamic_shared_bytes, static_cast<unsigned>(gen::shared_memory_bytes(spec)));

  // Fewer tiles than SMs: one block per tile, no idle blocks.
  const AttentionArgs few = sized(1, 2, 5 * 128 - 1);  // ceil(639 / 128) * 2 * 1 = 10 tiles
  const cuda::LaunchShape small = launch_shape(spec, few, 132);
  EXPECT_EQ(small.grid[0], 10u);
  EXPECT_EQ(small.grid[1], 1u);
  EXPECT_EQ(small.grid[2], 1u);

  // No SM count (0): one block per tile.
  EXPECT_EQ(launch_shape(spec, many, 0).grid[0], 3000u);
  EXPECT_EQ(launch_shape(spec, many).grid[0], 3000u);
}

// The SM count only bounds the persistent kernel: the other variants keep one block per tile on a
// (query blocks, heads, batch) grid.
TEST(LaunchParams, OtherVariantsIgnoreThePersistentBound) {
  gen::KernelSpec spec = wgmma_spec();
  spec.variant = Variant::mma_sm80;
  spec.arch_specific = false;
  spec.warps = 4;
  const cuda::LaunchShape shape = launch_shape(spec, sized(10, 12, 25 * 128), 132);
  EXPECT_EQ(shape.grid[0], 25u);
  EXPECT_EQ(shape.grid[1], 12u);
  EXPECT_EQ(shape.grid[2], 10u);
  EXPECT_EQ(shape.block[0], 128u);
}

// A validated GQA problem: bf16, 4 query heads over 2 kv heads, contiguous.
AttentionArgs validated_gqa(test::HostProblem& p) {
  test::ProblemShape s;
  s.batch = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.seqlen_q = 40;
  s.seqlen_k = 70;
  s.head_dim = 128;
  s.dtype = DType::bf16;
  p = test::make_problem(s);
  p.bind();
  Result<AttentionArgs> a = validate_args(p.args);
  EXPECT_TRUE(a.ok());
  return a.ok() ? *a : AttentionArgs{};
}

// An encoder standing in for cuTensorMapEncodeTiled: it records each request and returns bits
// marked with the call's number.
struct RecordingEncoder {
  std::vector<TensorMapRequest> requests;
  TensorMapEncoder function() {
    return [this](const TensorMapRequest& r) -> llvm::Expected<TensorMapBits> {
      requests.push_back(r);
      TensorMapBits bits{};
      for (unsigned long long& word : bits.opaque) word = 0xC0FFEE00ull + requests.size();
      return bits;
    };
  }
};

// One tensor map per input: Q in boxes of 64 rows (one consumer warpgroup's), K and V in boxes of
// block_n rows, each of its own tensor; the maps and the coordinate slots land in the right
// TmaTensor, and the plain parameters ride along.
TEST(LaunchParams, WgmmaParamsEncodeOneTensorMapPerInput) {
  test::HostProblem p;
  const AttentionArgs a = validated_gqa(p);
  gen::KernelSpec spec = wgmma_spec();
  spec.block_n = 96;
  RecordingEncoder encoder;
  auto params = make_wgmma_params(spec, a, encoder.function());
  ASSERT_TRUE(static_cast<bool>(params)) << llvm::toString(params.takeError());

  ASSERT_EQ(encoder.requests.size(), 3u);
  const TensorMapRequest& q = encoder.requests[0];
  const TensorMapRequest& k = encoder.requests[1];
  const TensorMapRequest& v = encoder.requests[2];
  EXPECT_EQ(q.address, a.q.data);
  EXPECT_EQ(q.box[q.seq_slot], 64u);
  EXPECT_EQ(q.dims[2], 40u);  // seqlen_q, after the head dimension (head stride < seq stride)
  EXPECT_EQ(k.address, a.k.data);
  EXPECT_EQ(k.box[k.seq_slot], 96u);
  EXPECT_EQ(k.dims[1], 2u);  // num_kv_heads
  EXPECT_EQ(k.dims[2], 70u);  // seqlen_k
  EXPECT_EQ(v.address, a.v.data);
  EXPECT_EQ(v.box[v.seq_slot], 96u);
  for (const TensorMapRequest& r : encoder.requests) {
    EXPECT_EQ(r.dtype, DType::bf16);
    EXPECT_EQ(r.box[0], 64u);
  }

  EXPECT_EQ(params->q.map.opaque[0], 0xC0FFEE01ull);
  EXPECT_EQ(params->k.map.opaque[0], 0xC0FFEE02ull);
  EXPECT_EQ(params->v.map.opaque[15], 0xC0FFEE03ull);
  // Contiguous BSHD: head, then sequence, then batch (not the defaults 1, 2, 3 for seq, head, batch).
  for (const TmaTensor* t : {&params->q, &params->k, &params->v}) {
    EXPECT_EQ(t->head_slot, 1);
    EXPECT_EQ(t->seq_slot, 2);
    EXPECT_EQ(t->batch_slot, 3);
  }
  EXPECT_EQ(params->attention.q, a.q.data);
  EXPECT_EQ(params->attention.v, a.v.data);
  EXPECT_EQ(params->attention.num_kv_heads, 2);
  EXPECT_EQ(params->attention.seqlen_k, 70);
  EXPECT_FLOAT_EQ(params->attention.softmax_scale, a.softmax_scale);
}

// A layout whose slots differ per tensor: head-major V keeps its own order.
TEST(LaunchParams, WgmmaParamsCopyEachTensorsSlots) {
  test::HostProblem p;
  AttentionArgs a = validated_gqa(p);
  a.v.strides.seq = 128;
  a.v.strides.head = 70 * 128;
  a.v.strides.batch = 2 * 70 * 128;
  RecordingEncoder encoder;
  auto params = make_wgmma_params(wgmma_spec(), a, encoder.function());
  ASSERT_TRUE(static_cast<bool>(params)) << llvm::toString(params.takeError());
  EXPECT_EQ(params->v.seq_slot, 1);
  EXPECT_EQ(params->v.head_slot, 2);
  EXPECT_EQ(params->v.batch_slot, 3);
  EXPECT_EQ(params->k.head_slot, 1);
  EXPECT_EQ(params->k.seq_slot, 2);
}

// The driver's refusal reaches the caller as is, and no parameter block is made.
TEST(LaunchParams, WgmmaParamsPassOnAnEncoderError) {
  test::HostProblem p;
  const AttentionArgs a = validated_gqa(p);
  int calls = 0;
  const TensorMapEncoder failing = [&calls](const TensorMapRequest&) -> llvm::Expected<TensorMapBits> {
    if (++calls == 2)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "cuTensorMapEncodeTiled failed: CUDA_ERROR_INVALID_VALUE");
    return TensorMapBits{};
  };
  auto params = make_wgmma_params(wgmma_spec(), a, failing);
  ASSERT_FALSE(static_cast<bool>(params));
  EXPECT_EQ(llvm::toString(params.takeError()), "cuTensorMapEncodeTiled failed: CUDA_ERROR_INVALID_VALUE");
  EXPECT_EQ(calls, 2);  // stops at the first failure

  calls = 0;
  auto block = make_kernel_parameters(wgmma_spec(), a, failing);
  ASSERT_FALSE(static_cast<bool>(block));
  EXPECT_EQ(llvm::toString(block.takeError()), "cuTensorMapEncodeTiled failed: CUDA_ERROR_INVALID_VALUE");
}

// make_kernel_parameters picks the block the spec's kernel takes: tensor maps for wgmma_sm90 only;
// the other variants never ask the encoder.
TEST(LaunchParams, KernelParametersFollowTheVariant) {
  test::HostProblem p;
  const AttentionArgs a = validated_gqa(p);
  RecordingEncoder encoder;

  gen::KernelSpec mma = wgmma_spec();
  mma.variant = Variant::mma_sm80;
  mma.arch_specific = false;
  mma.warps = 4;
  auto plain = make_kernel_parameters(mma, a, encoder.function());
  ASSERT_TRUE(static_cast<bool>(plain)) << llvm::toString(plain.takeError());
  EXPECT_TRUE(encoder.requests.empty());
  const auto* attention = static_cast<const AttentionParams*>(plain->arguments()[0]);
  EXPECT_EQ(plain->arguments()[1], nullptr) << "a dense kernel takes one parameter";
  EXPECT_EQ(attention->q, a.q.data);
  EXPECT_EQ(attention->o, a.out.data);
  EXPECT_EQ(attention->seqlen_q, 40);

  auto tma = make_kernel_parameters(wgmma_spec(), a, encoder.function());
  ASSERT_TRUE(static_cast<bool>(tma)) << llvm::toString(tma.takeError());
  EXPECT_EQ(encoder.requests.size(), 3u);
  const auto* wgmma = static_cast<const WgmmaParams*>(tma->arguments()[0]);
  EXPECT_EQ(wgmma->q.map.opaque[0], 0xC0FFEE01ull);
  EXPECT_EQ(wgmma->v.map.opaque[0], 0xC0FFEE03ull);
  EXPECT_EQ(wgmma->attention.q, a.q.data);
  EXPECT_EQ(wgmma->attention.seqlen_q, 40);
}

// A kernel with modifiers takes ScoreModParams second: the window, the softcap (with the softmax
// scale folded in), the slopes and the offsets, as the call gave them.
TEST(LaunchParams, AKernelWithModifiersTakesTheirParameters) {
  test::HostProblem p;
  AttentionArgs a = validated_gqa(p);
  const float slopes[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
  a.window_left = 7;
  a.window_right = 3;
  a.softcap = 30.0f;
  a.alibi_slopes = slopes;
  RecordingEncoder encoder;
  gen::KernelSpec spec = wgmma_spec();
  spec.variant = Variant::generic;
  spec.arch_specific = false;
  spec.window = spec.softcap = spec.alibi = true;
  auto params = make_kernel_parameters(spec, a, encoder.function());
  ASSERT_TRUE(static_cast<bool>(params)) << llvm::toString(params.takeError());
  const auto* mods = static_cast<const ScoreModParams*>(params->arguments()[1]);
  ASSERT_NE(mods, nullptr);
  EXPECT_EQ(mods->window_left, 7);
  EXPECT_EQ(mods->window_right, 3);
  EXPECT_FLOAT_EQ(mods->softcap, 30.0f);
  EXPECT_FLOAT_EQ(mods->softcap_scale, a.softmax_scale / 30.0f);
  EXPECT_EQ(mods->alibi_slopes, slopes);
  EXPECT_EQ(mods->cu_seqlens_q, nullptr);
}

}  // namespace
}  // namespace flashjit
