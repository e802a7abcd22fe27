// Issue 15 on a GPU, so far: no variant computes a KV cache yet, so a call with one is refused before
// anything is compiled or launched, and the refusal says which variant does not compute what (the
// CPU backend computes it: tests/unit/kv_cache_test.cpp). Skipped where no GPU is usable. When the
// kernels land, these become the device's comparisons with the CPU backend.
#include <string>

#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "helpers/gpu_runtime.h"
#include "helpers/kv_cache_problem.h"

namespace flashjit {
namespace {

TEST(GpuKvCache, APagedDecodeIsRefusedSayingWhy) {
  std::string skip;
  Runtime* runtime = test::shared_gpu_runtime({}, &skip);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << skip;
  test::KvCacheCase c;
  c.queries = test::shape(2, 8, 2, 1, 1, 128, DType::bf16, MaskKind::causal);
  c.cached = {100, 17};
  c.page_size = 16;
  c.seqlen_new = 1;
  test::KvCacheProblem p = test::make_kv_cache_problem(c);
  // plan() reads no tensor: host pointers are fine for the question.
  Result<KernelChoice> choice = runtime->plan(p.args);
  ASSERT_FALSE(choice.ok()) << choice->kernel_key;
  EXPECT_NE(choice.status().message().find("does not compute KV caches (seqused_k), paged KV caches or appended keys"),
            std::string::npos)
      << choice.status().message();
}

}  // namespace
}  // namespace flashjit
