// Split-KV for one call (runtime/split_kv.h, issue 15): the split count and workspace a KV-cache call
// gets from its sizes and the SM count alone, the caller's workspace checked by size and alignment
// with the size needed in the message, the grid of the split kernel and of its combine step, the
// partials' layout in the workspace, and the combine step in every KV-cache kernel's module (and in
// no other). The split kernel's arithmetic runs under the emulation
// (tests/emulation/generic_kv_cache_emulation_test.cpp).
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "flashjit/runtime.h"
#include "generator/emit.h"
#include "helpers/kv_cache_problem.h"
#include "problem/validate.h"
#include "runtime/launch_params.h"
#include "runtime/split_kv.h"

namespace flashjit {
namespace {

constexpr int kH200Sms = 132;

// A decode call's arguments as validate_args leaves them: what split-KV reads is the sizes and
// whether there is a cache (nothing is dereferenced).
AttentionArgs decode_args(int batch, int heads, int kv_heads, int seqlen_q, int keys, int head_dim = 128) {
  static const int32_t counts[1] = {0};
  AttentionArgs a;
  a.batch = batch;
  a.num_heads = heads;
  a.num_kv_heads = kv_heads;
  a.seqlen_q = seqlen_q;
  a.seqlen_k = keys;
  a.head_dim = head_dim;
  a.q.dtype = a.k.dtype = a.v.dtype = a.out.dtype = DType::bf16;
  a.seqused_k = counts;
  return a;
}

// A small call validate_args accepts (host memory; for the checks that validate).
test::KvCacheProblem small_problem() {
  return test::make_kv_cache_problem(
      test::kv_cache_case(test::decode_queries(2, 4, 1, 1, 64, DType::bf16), {5, 10}, 16));
}

// The decode (batch 32, GQA 32/8, 8k keys) fills 132 SMs without splitting; one sequence of
// 32k keys splits 16 ways (8 KV heads x 16 = 128 blocks, 97% of one wave).
TEST(SplitKv, DecodeCountsOnAnH200) {
  const SplitKv full = split_kv_of(decode_args(32, 32, 8, 1, 8192), kH200Sms);
  EXPECT_EQ(full.splits, 1);
  EXPECT_EQ(full.workspace_bytes, 0u);
  const SplitKv one = split_kv_of(decode_args(1, 32, 8, 1, 32768), kH200Sms);
  EXPECT_EQ(one.splits, 16);
  EXPECT_EQ(one.rows, 32);  // one query row of 32 heads
  EXPECT_EQ(one.workspace_bytes, 16u * 32 * (128 + 1) * 4);
}

// Short caches keep two 64-key blocks per split; a call without a cache is never split.
TEST(SplitKv, ShortCachesAndCallsWithoutOne) {
  EXPECT_EQ(split_kv_of(decode_args(1, 4, 1, 1, 128), kH200Sms).splits, 1);
  EXPECT_EQ(split_kv_of(decode_args(1, 4, 1, 1, 256), kH200Sms).splits, 2);
  AttentionArgs plain = decode_args(1, 32, 8, 1, 32768);
  plain.seqused_k = nullptr;
  EXPECT_EQ(split_kv_of(plain, kH200Sms).splits, 1);
}

// The partials: [splits][rows][head_dim] floats, then [splits][rows] lse, inside the workspace.
TEST(SplitKv, PartialsLayout) {
  const AttentionArgs a = decode_args(1, 32, 8, 1, 32768);
  const SplitKv split = split_kv_of(a, kH200Sms);
  alignas(16) static float workspace[16 * 32 * 129];
  KvCacheParams kv{};
  set_split_partials(split, workspace, kv);
  EXPECT_EQ(kv.num_splits, 16);
  EXPECT_EQ(kv.partial_rows, 32);
  EXPECT_EQ(kv.partial_out, workspace);
  EXPECT_EQ(kv.partial_lse, workspace + 16 * 32 * 128);
  const SplitPartials parts = split_partials(split, workspace, a);
  EXPECT_EQ(parts.out, kv.partial_out);
  EXPECT_EQ(parts.lse, kv.partial_lse);
  EXPECT_EQ(parts.splits, 16);
  EXPECT_EQ(parts.rows, 32);
  EXPECT_EQ(parts.cu_seqlens_q, nullptr);
}

// The grid: each query block's splits side by side in x; the combine step one warp per row.
TEST(SplitKv, LaunchShapes) {
  const AttentionArgs a = decode_args(1, 32, 8, 1, 32768);
  gen::KernelSpec spec;
  spec.set_features(features_of(a));
  spec = gen::with_tile(spec, 32, 32, 4, 1);
  const SplitKv split = split_kv_of(a, kH200Sms);
  const cuda::LaunchShape main = launch_shape(spec, a, kH200Sms, split.splits);
  EXPECT_EQ(main.grid[0], 16u);
  EXPECT_EQ(main.grid[1], 32u);
  EXPECT_EQ(main.grid[2], 1u);
  const cuda::LaunchShape combine = combine_launch_shape(spec, split);
  EXPECT_EQ(combine.grid[0], 8u);  // 32 rows, 4 per block
  EXPECT_EQ(combine.block[0], 128u);
  EXPECT_EQ(combine.dynamic_shared_bytes, 0u);
}

// A tuned count (KernelSpec::splits) replaces the heuristic's up to the tuner's ceiling for it, so
// the workspace Runtime::workspace_size gives (workspace_bound) always holds what a launch takes.
TEST(SplitKv, ATunedCountIsClampedToTheBoundTheWorkspaceWasSizedFor) {
  const AttentionArgs a = decode_args(1, 32, 8, 1, 32768);  // the heuristic's 16 splits
  EXPECT_EQ(split_kv_of(a, kH200Sms, 8).splits, 8);
  EXPECT_EQ(split_kv_of(a, kH200Sms, 32).splits, 32);
  EXPECT_EQ(split_kv_of(a, kH200Sms, 100).splits, 32);  // beyond twice the heuristic's: clamped
  EXPECT_EQ(workspace_bound(a, kH200Sms), 32u * 32 * 129 * 4);
  for (int tuned : {0, 1, 8, 16, 32, 128})
    EXPECT_LE(split_kv_of(a, kH200Sms, tuned).workspace_bytes, workspace_bound(a, kH200Sms)) << tuned;
  // A call the heuristic leaves unsplit stays unsplit whatever a spec says, and needs nothing.
  const AttentionArgs full = decode_args(32, 32, 8, 1, 8192);
  EXPECT_EQ(split_kv_of(full, kH200Sms, 8).splits, 1);
  EXPECT_EQ(workspace_bound(full, kH200Sms), 0u);
  AttentionArgs plain = a;
  plain.seqused_k = nullptr;
  EXPECT_EQ(workspace_bound(plain, kH200Sms), 0u);
}

// The tuner's runs take a count as given: a correctness check's small problem splits too.
TEST(SplitKv, AnExactCountForTheTunersRuns) {
  const AttentionArgs a = decode_args(4, 4, 2, 1, 133);
  EXPECT_EQ(split_kv_of(a, kH200Sms).splits, 1);
  const SplitKv eight = split_kv_exact(a, 8);
  EXPECT_EQ(eight.splits, 8);
  EXPECT_EQ(eight.rows, 16);
  EXPECT_EQ(eight.workspace_bytes, 8u * 16 * 129 * 4);
  EXPECT_EQ(split_kv_exact(a, 1).workspace_bytes, 0u);
}

// A KV problem's key on a GPU carries its split count there; a nominal device (a compile-only
// warm-up) knows no SMs and leaves it out, as does a problem without a cache.
TEST(SplitKv, TheDeviceKeyCarriesTheSplitCount) {
  ProblemFeatures f;
  f.dtype = DType::bf16;
  f.head_dim = 128;
  f.kv_cache = f.paged = true;
  auto decode = Problem::of_shape(f, ProblemShape{1, 32, 8, 1, 32768});
  ASSERT_TRUE(static_cast<bool>(decode)) << llvm::toString(decode.takeError());
  gen::DeviceDescription h200 = gen::DeviceDescription::for_arch(90);
  h200.nominal = false;
  h200.sm_count = kH200Sms;
  const ProblemKey key = device_problem_key(*decode, h200);
  EXPECT_EQ(key.splits, 16);
  EXPECT_EQ(key.str(), "bf16_d128_none_kvcache_paged_page16_gqa4_len32768_split16");
  EXPECT_EQ(device_problem_key(*decode, gen::DeviceDescription::for_arch(90)), decode->key());
  EXPECT_EQ(decode->key().splits, 0);
  auto dense = Problem::of_shape(ProblemFeatures{DType::bf16, 128}, ProblemShape{1, 32, 8, 1, 32768});
  ASSERT_TRUE(static_cast<bool>(dense)) << llvm::toString(dense.takeError());
  EXPECT_EQ(device_problem_key(*dense, h200).splits, 0);
}

// The split a kernel launches with: wgmma_sm90's template does not split keys (it is not chosen
// for a call the heuristic splits), so its launches never do; a KV kernel of a splitting variant
// takes split_kv_of with its tuned count; a kernel without a cache none.
TEST(SplitKv, AKernelSplitsOnlyWhereItsTemplateDoes) {
  const AttentionArgs a = decode_args(1, 32, 8, 1, 32768);
  gen::KernelSpec spec;
  spec.set_features(features_of(a));
  spec.variant = Variant::mma_sm80;
  EXPECT_EQ(kernel_split(spec, a, kH200Sms).splits, 16);
  spec.splits = 8;
  EXPECT_EQ(kernel_split(spec, a, kH200Sms).splits, 8);
  spec.variant = Variant::wgmma_sm90;
  EXPECT_EQ(kernel_split(spec, a, kH200Sms).splits, 1);
  EXPECT_EQ(kernel_split(spec, a, kH200Sms).workspace_bytes, 0u);
  spec.variant = Variant::generic;
  spec.splits = 0;
  spec.kv_cache = false;
  EXPECT_EQ(kernel_split(spec, a, kH200Sms).splits, 1);
}

// A workspace the caller gives must hold the partials; the message gives the size needed.
TEST(SplitKv, TheCallersWorkspaceIsChecked) {
  AttentionArgs a = decode_args(1, 32, 8, 1, 32768);
  const SplitKv split = split_kv_of(a, kH200Sms);
  EXPECT_TRUE(check_workspace(a, split).ok()) << "no workspace: the runtime's own";
  alignas(16) static char buffer[16];
  a.workspace = buffer;
  a.workspace_bytes = split.workspace_bytes - 1;
  const Status small = check_workspace(a, split);
  EXPECT_EQ(small.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(small.message(), "workspace of 264191 bytes is smaller than the 264192 bytes this call needs for split-KV "
                             "(16 splits of 32 rows; Runtime::workspace_size gives it)");
  a.workspace_bytes = split.workspace_bytes;
  EXPECT_TRUE(check_workspace(a, split).ok());
}

TEST(SplitKv, WorkspaceFieldsAreValidated) {
  test::KvCacheProblem p = small_problem();
  AttentionArgs a = p.args;
  a.workspace_bytes = 100;
  Result<AttentionArgs> sized = validate_args(a);
  ASSERT_FALSE(sized.ok());
  EXPECT_EQ(sized.status().message(), "workspace_bytes = 100 is set but workspace is null");
  alignas(16) static char buffer[32];
  a.workspace = buffer + 4;
  Result<AttentionArgs> misaligned = validate_args(a);
  ASSERT_FALSE(misaligned.ok());
  EXPECT_NE(misaligned.status().message().find("is not aligned to 16 bytes"), std::string::npos)
      << misaligned.status().message();
}

// The CPU backend needs no workspace, and still validates the call it is asked about.
TEST(SplitKv, TheCpuBackendNeedsNoWorkspace) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  test::KvCacheProblem p = small_problem();
  Result<size_t> bytes = (*runtime)->workspace_size(p.args);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  EXPECT_EQ(*bytes, 0u);
  AttentionArgs bad = p.args;
  bad.page_size = 12;
  EXPECT_EQ((*runtime)->workspace_size(bad).status().code(), ErrorCode::invalid_argument);
}

// Every KV-cache kernel's module holds the combine step under its C name; other kernels do not.
TEST(SplitKv, TheCombineStepIsInEveryKvCacheModule) {
  gen::KernelSpec spec;
  spec.dtype = DType::bf16;
  spec.head_dim = 128;
  spec = gen::with_tile(spec, 32, 32, 4, 1);
  auto dense = gen::emit(spec);
  ASSERT_TRUE(static_cast<bool>(dense)) << llvm::toString(dense.takeError());
  EXPECT_EQ(dense->source.find(kSplitCombineSymbol), std::string::npos);
  EXPECT_EQ(dense->source.find("// ---- templates/split_combine.cuh ----"), std::string::npos);
  spec.kv_cache = true;
  auto cached = gen::emit(spec);
  ASSERT_TRUE(static_cast<bool>(cached)) << llvm::toString(cached.takeError());
  EXPECT_NE(cached->source.find("extern \"C\" __global__ void __launch_bounds__(::flashjit_generated::KernelTraits::"
                                "kWarps * 32)\n    flashjit_split_combine(const ::flashjit::AttentionParams p, "
                                "const ::flashjit::SplitPartials parts)"),
            std::string::npos);
}

}  // namespace
}  // namespace flashjit
