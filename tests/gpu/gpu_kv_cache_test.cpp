// Issue 15 on a GPU: KV caches (dense and paged, page sizes 1 to 256, shuffled and shared pages,
// counts 0, 1, a page boundary +-1 and long), appends across a page boundary, decode and chunked
// prefill (ragged queries), GQA and MQA, the score modifiers; through the selector's choice and
// every variant that computes them (generic, mma_sm80, mma_sm75; wgmma_sm90 for prefills; forced), against the
// double-precision reference with the
// output poisoned and every cache element no sequence owns NaN, and the cache after the call bit
// for bit. The opt-in argument check (check_args) finds a count past a row's pages and a table
// entry that is no page on the device, by index, before anything is written. Skipped, with the
// reason, where no GPU is usable.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cuda/driver_api.h"
#include "flashjit/runtime.h"
#include "helpers/compare.h"
#include "helpers/device_problem.h"
#include "helpers/gpu_runtime.h"
#include "helpers/kv_cache_problem.h"
#include "helpers/naive_reference.h"

namespace flashjit {
namespace {

using test::KvCacheCase;
using test::KvCacheProblem;
using test::decode_queries;
using test::kv_cache_case;

std::vector<KvCacheCase> kv_cases() {
  using test::capped;
  using test::windowed;
  using test::with_alibi;
  const DType f16 = DType::f16, bf16 = DType::bf16, f32 = DType::f32;
  std::vector<KvCacheCase> c;
  // Decode, GQA 32/8 shrunk to 8/2 at d 128: counts 0, 1, a page boundary +-1, long.
  c.push_back(kv_cache_case(decode_queries(6, 8, 2, 1, 128, bf16), {0, 1, 15, 16, 17, 1000}, 16));
  // Every page size from 1 to 256, counts around their boundaries, GQA 4 and 8.
  for (int page : {1, 2, 16, 64, 256})
    c.push_back(kv_cache_case(decode_queries(3, 8, 2, 1, 64, f16), {page - 1, page + 1, 2 * page + 3}, page));
  c.push_back(kv_cache_case(decode_queries(2, 8, 1, 2, 128, bf16), {300, 77}, 16));
  // Appends crossing a page boundary, into an empty sequence, MQA; a dense cache with appends.
  c.push_back(kv_cache_case(decode_queries(3, 4, 1, 3, 64, bf16), {15, 0, 30}, 16, 3));
  c.push_back(kv_cache_case(decode_queries(2, 3, 3, 4, 40, f16), {7, 0}, 0, 4));
  // Chunked prefill: ragged queries against cached prefixes, causal bottom-right; with appends.
  c.push_back(kv_cache_case(test::ragged_shape({1, 50, 0, 16}, {1, 1, 1, 1}, 8, 2, 128, bf16, MaskKind::causal),
                            {40, 0, 9, 333}, 16, 0));
  c.push_back(kv_cache_case(test::ragged_shape({2, 3}, {1, 1}, 2, 2, 32, f32, MaskKind::none), {17, 4}, 4, 2));
  // Prefix caching (a shared first page), seqlen_q 16; the score modifiers over pages.
  c.push_back(kv_cache_case(decode_queries(3, 4, 2, 16, 64, f16), {40, 20, 5}, 16, 0, true));
  c.push_back(kv_cache_case(windowed(decode_queries(2, 4, 2, 7, 64, f16), 20, -1), {100, 31}, 8, 1));
  c.push_back(kv_cache_case(with_alibi(capped(decode_queries(3, 4, 4, 5, 64, bf16, MaskKind::none), 5.0f), true),
                            {50, 3, 0}, 32, 2));
  return c;
}

struct GpuKvCase {
  std::optional<Variant> variant;  // empty: the selector's choice
  KvCacheCase kv;
};

void PrintTo(const GpuKvCase& c, std::ostream* os) {
  *os << (c.variant ? variant_name(*c.variant) : "auto") << " " << c.kv.name();
}

// Prefills wgmma_sm90 takes on an H200 (dense or ragged queries, pages of 64 keys and more or a dense cache,
// no appends, tiles enough that the call is not split: 256 and more per call): its TMA loads box by
// box through the table, the V rows past each sequence's keys cleared.
std::vector<KvCacheCase> wgmma_prefill_cases() {
  const DType f16 = DType::f16, bf16 = DType::bf16;
  std::vector<KvCacheCase> c;
  c.push_back(kv_cache_case(decode_queries(4, 16, 4, 256, 128, bf16, MaskKind::causal), {0, 63, 65, 700}, 64, 0, false));
  c.push_back(kv_cache_case(decode_queries(4, 16, 4, 256, 64, f16, MaskKind::none), {129, 300, 64, 1}, 256));
  c.push_back(kv_cache_case(decode_queries(4, 8, 8, 512, 64, f16, MaskKind::causal), {600, 0, 513, 77}, 0));
  // A chunked prefill: ragged queries against their cached prefixes.
  c.push_back(kv_cache_case(test::ragged_shape({512, 0, 300, 130}, {1, 1, 1, 1}, 16, 4, 128, bf16, MaskKind::causal),
                            {100, 50, 0, 700}, 64));
  return c;
}

// The selector's choice, and each variant that computes KV caches, forced, in the dtypes it computes.
std::vector<GpuKvCase> every_variant() {
  std::vector<GpuKvCase> cases;
  for (const KvCacheCase& kv : kv_cases()) cases.push_back({std::nullopt, kv});
  for (const KvCacheCase& kv : wgmma_prefill_cases()) {
    cases.push_back({std::nullopt, kv});
    cases.push_back({Variant::wgmma_sm90, kv});
    cases.push_back({Variant::mma_sm80, kv});
  }
  for (const KvCacheCase& kv : kv_cases()) cases.push_back({Variant::generic, kv});
  for (const KvCacheCase& kv : kv_cases()) {
    const DType dtype = kv.queries.dtype;
    if (dtype != DType::f32) cases.push_back({Variant::mma_sm80, kv});
    if (dtype == DType::f16) cases.push_back({Variant::mma_sm75, kv});
  }
  return cases;
}

class GpuKvCache : public testing::TestWithParam<GpuKvCase> {};

TEST_P(GpuKvCache, MatchesTheReferenceAndWritesTheAppend) {
  const GpuKvCase& c = GetParam();
  std::string skip;
  Runtime* runtime = test::variant_runtime(c.variant, &skip);
  if (!runtime) GTEST_SKIP() << skip;
  KvCacheProblem p = test::make_kv_cache_problem(c.kv);
  Result<KernelChoice> choice = runtime->plan(p.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  if (c.variant) {
    EXPECT_EQ(choice->variant, c.variant) << choice->kernel_key;
  }
  EXPECT_NE(choice->kernel_key.find("_kvcache"), std::string::npos) << choice->kernel_key;
  SCOPED_TRACE(choice->kernel_key + ": " + choice->reason);
  const test::ReferenceOutput ref = test::naive_attention(p.reference_args());
  const Status s = test::run_on_device(*runtime, p);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(test::matches_reference(p.queries, ref, p.queries.shape.with_lse, test::kKernelLseTolerance));
  EXPECT_TRUE(p.cache_holds_the_append());
}

std::string case_name(const testing::TestParamInfo<GpuKvCase>& info) {
  return std::string(info.param.variant ? variant_name(*info.param.variant) : "auto") + "_" + info.param.kv.name();
}

INSTANTIATE_TEST_SUITE_P(EveryVariant, GpuKvCache, testing::ValuesIn(every_variant()), case_name);

// FLASHJIT_CHECK_ARGS / RuntimeOptions::check_args: seqused_k and the block table are copied from
// the device and checked; a count past the pages a row holds, and a table entry that is no page,
// are refused by index, and neither the output nor the cache is written.
TEST(GpuKvCacheCheckArgs, ABadCountOrPageIsFoundByItsIndex) {
  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.tune = false;
  options.use_cache = false;
  options.check_args = true;
  auto created = Runtime::create(options);
  if (!created) GTEST_SKIP() << "no usable GPU: " << created.status().message();
  auto bad_problem = [] {
    return test::make_kv_cache_problem(kv_cache_case(decode_queries(3, 4, 2, 1, 64, DType::f16), {5, 17, 0}, 16, 1));
  };

  KvCacheProblem too_many = bad_problem();
  too_many.seqused_k[1] = too_many.args.max_pages_per_sequence * 16;  // with the append, one key too many
  too_many.bind();
  const Status counted = test::run_on_device(**created, too_many);
  EXPECT_EQ(counted.code(), ErrorCode::invalid_argument);
  EXPECT_NE(counted.message().find("seqused_k[1]"), std::string::npos) << counted.message();
  EXPECT_TRUE(test::output_is_poisoned(too_many.queries));
  EXPECT_EQ(too_many.k_cache, too_many.k_cache_before);

  KvCacheProblem no_page = bad_problem();
  // Sequence 1 (18 keys with the append) reads its second page: make it one past the last.
  const int64_t stride =
      no_page.args.block_table_stride > 0 ? no_page.args.block_table_stride : no_page.args.max_pages_per_sequence;
  no_page.block_table[static_cast<size_t>(stride + 1)] = no_page.args.num_pages;
  no_page.bind();
  const Status paged = test::run_on_device(**created, no_page);
  EXPECT_EQ(paged.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(paged.message().rfind("block_table[1][1] = " + std::to_string(no_page.args.num_pages) + " is not a page", 0),
            0u)
      << paged.message();
  EXPECT_TRUE(test::output_is_poisoned(no_page.queries));
  EXPECT_EQ(no_page.k_cache, no_page.k_cache_before);
}

// Split-KV's workspace: a long single sequence splits; forward() runs with the runtime's buffer
// outside a capture, is refused inside one without args.workspace (the capture survives), is captured
// with one of Runtime::workspace_size() bytes, and a smaller one is refused with the size needed.
TEST(GpuKvCacheWorkspace, CaptureNeedsTheCallersWorkspace) {
  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.tune = false;
  options.use_cache = false;
  auto created = Runtime::create(options);
  if (!created) GTEST_SKIP() << "no usable GPU: " << created.status().message();
  Runtime& runtime = **created;
  auto split_problem = [] {
    return test::make_kv_cache_problem(kv_cache_case(decode_queries(1, 8, 1, 1, 128, DType::bf16), {4000}, 16, 1));
  };
  KvCacheProblem first = split_problem();
  Result<size_t> needed = runtime.workspace_size(first.args);
  ASSERT_TRUE(needed.ok()) << needed.status().to_string();
  ASSERT_GT(*needed, 0u) << "the case must split";
  Result<KernelChoice> choice = runtime.plan(first.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_NE(choice->reason.find("split-KV"), std::string::npos) << choice->reason;
  const test::ReferenceOutput ref = test::naive_attention(first.reference_args());
  ASSERT_TRUE(test::run_on_device(runtime, first).ok());  // builds the kernel, the runtime's workspace
  EXPECT_TRUE(test::matches_reference(first.queries, ref, first.queries.shape.with_lse, test::kKernelLseTolerance));

  auto captured = [](bool* capture_ok, size_t workspace_bytes) {
    return [capture_ok, workspace_bytes](Runtime& r, const AttentionArgs& device_args) {
      const cuda::DriverApi& api = *cuda::driver_api();
      AttentionArgs args = device_args;
      CUdeviceptr workspace = 0;
      if (workspace_bytes > 0 && api.cuMemAlloc(&workspace, workspace_bytes) != CUDA_SUCCESS)
        return Status(ErrorCode::driver_error, "cuMemAlloc failed");
      args.workspace = reinterpret_cast<void*>(workspace);
      args.workspace_bytes = workspace_bytes;
      CUstream stream = nullptr;
      if (api.cuStreamCreate(&stream, CU_STREAM_DEFAULT) != CUDA_SUCCESS)
        return Status(ErrorCode::driver_error, "cuStreamCreate failed");
      *capture_ok = api.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL) == CUDA_SUCCESS;
      const Status forwarded = r.forward(args, stream);
      CUgraph graph = nullptr;
      *capture_ok = *capture_ok && api.cuStreamEndCapture(stream, &graph) == CUDA_SUCCESS && graph != nullptr;
      if (graph) api.cuGraphDestroy(graph);
      api.cuStreamDestroy(stream);
      if (workspace) api.cuMemFree(workspace);
      return forwarded;
    };
  };
  bool capture_ok = false;
  KvCacheProblem without = split_problem();
  const Status refused = test::run_on_device(runtime, without, captured(&capture_ok, 0));
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  EXPECT_NE(refused.message().find("pass args.workspace"), std::string::npos) << refused.message();
  EXPECT_TRUE(capture_ok) << "the refused call broke the capture";

  KvCacheProblem with = split_problem();
  const Status recorded = test::run_on_device(runtime, with, captured(&capture_ok, *needed));
  EXPECT_TRUE(recorded.ok()) << recorded.to_string();
  EXPECT_TRUE(capture_ok);

  KvCacheProblem small = split_problem();
  const Status too_small = test::run_on_device(runtime, small, captured(&capture_ok, *needed - 16));
  EXPECT_EQ(too_small.code(), ErrorCode::invalid_argument);
  EXPECT_NE(too_small.message().find("bytes this call needs for split-KV"), std::string::npos) << too_small.message();
  EXPECT_TRUE(test::output_is_poisoned(small.queries));
}

}  // namespace
}  // namespace flashjit
