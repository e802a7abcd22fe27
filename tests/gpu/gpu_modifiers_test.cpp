// Issue 14 on the GPU: ragged batches, sliding windows, softcap and ALiBi through every variant the
// GPU runs (forced, default tiles) and through the selector's own choice, against the CPU backend on
// odd shapes with the output poisoned first; a variant that does not compute a feature is refused
// with why, and the selector then picks one that does; the opt-in argument check (check_args) finds a
// bad offset on the device by its index. Skipped, with the reason, where no GPU (or not this
// variant's) is usable.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/runtime.h"
#include "helpers/compare.h"
#include "helpers/device_problem.h"
#include "helpers/gpu_runtime.h"
#include "helpers/test_problem.h"

namespace flashjit {
namespace {

using test::HostProblem;
using test::ProblemShape;
using test::capped;
using test::windowed;
using test::with_alibi;

// The cases every variant runs, in the dtype it computes (f16 runs everywhere with tensor cores).
std::vector<ProblemShape> modifier_cases(DType dtype) {
  constexpr MaskKind causal = MaskKind::causal;
  using test::ragged_shape;
  using test::shape;
  return {
      windowed(shape(2, 4, 2, 301, 517, 64, dtype), 70, 30),
      windowed(shape(1, 2, 2, 400, 180, 128, dtype, causal), 33, -1),
      capped(shape(2, 2, 1, 133, 77, 64, dtype), 0.5f),
      capped(shape(1, 4, 4, 257, 257, 128, dtype, causal), 30.0f),
      with_alibi(shape(2, 4, 2, 150, 333, 64, dtype), false),
      with_alibi(shape(3, 2, 1, 97, 61, 128, dtype, causal), true),
      ragged_shape({0, 1, 37, 300, 5}, {7, 0, 37, 200, 513}, 4, 2, 64, dtype),
      ragged_shape({129, 0, 64, 3}, {129, 9, 400, 1}, 2, 2, 128, dtype, causal),
      with_alibi(capped(windowed(ragged_shape({33, 1, 290}, {270, 12, 245}, 4, 2, 64, dtype, causal), 40, -1), 2.0f),
                 true),
  };
}

struct ModifierCase {
  std::optional<Variant> variant;  // empty: the selector's choice
  ProblemShape shape;
};

void PrintTo(const ModifierCase& c, std::ostream* os) {
  *os << (c.variant ? variant_name(*c.variant) : "auto") << " " << c.shape.name();
}

std::vector<ModifierCase> every_variant() {
  std::vector<ModifierCase> cases;
  for (const ProblemShape& s : modifier_cases(DType::bf16)) cases.push_back({std::nullopt, s});
  for (const ProblemShape& s : modifier_cases(DType::f16)) cases.push_back({std::nullopt, s});
  for (Variant v : {Variant::generic, Variant::mma_sm80, Variant::wgmma_sm90})
    for (const ProblemShape& s : modifier_cases(DType::bf16)) cases.push_back({v, s});
  for (Variant v : {Variant::mma_sm75, Variant::mma_sm70})
    for (const ProblemShape& s : modifier_cases(DType::f16)) cases.push_back({v, s});
  for (const ProblemShape& s : modifier_cases(DType::f32)) cases.push_back({Variant::generic, s});
  return cases;
}

Runtime* runtime_for(const ModifierCase& c, std::string* skip) { return test::variant_runtime(c.variant, skip); }

class GpuModifiers : public testing::TestWithParam<ModifierCase> {};

TEST_P(GpuModifiers, MatchesTheCpuBackend) {
  const ModifierCase& c = GetParam();
  std::string skip;
  Runtime* runtime = runtime_for(c, &skip);
  if (!runtime) GTEST_SKIP() << skip;
  HostProblem p = test::make_problem(c.shape);
  Result<KernelChoice> choice = runtime->plan(p.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  if (c.variant) {
    EXPECT_EQ(choice->variant, c.variant) << choice->kernel_key;
  }
  SCOPED_TRACE(choice->kernel_key + ": " + choice->reason);
  EXPECT_TRUE(test::device_matches_cpu(*runtime, p));
}

std::string case_name(const testing::TestParamInfo<ModifierCase>& info) {
  return std::string(info.param.variant ? variant_name(*info.param.variant) : "auto") + "_" + info.param.shape.name();
}

INSTANTIATE_TEST_SUITE_P(EveryVariant, GpuModifiers, testing::ValuesIn(every_variant()), case_name);

// On Hopper a ragged batch that gives its token counts runs wgmma_sm90; one that does not runs
// mma_sm80, and plan() says why wgmma_sm90 was passed over; forced onto wgmma_sm90 it is refused with
// that reason and nothing runs.
TEST(GpuModifiersSelection, RaggedBatchesOnHopperRunWgmmaSm90WithTheirTokenCounts) {
  std::string skip;
  Runtime* runtime = test::shared_gpu_runtime({}, &skip);
  if (!runtime) GTEST_SKIP() << "no usable GPU: " << skip;
  if (test::gpu_compute_capability(&skip) != 90) GTEST_SKIP() << "not a Hopper GPU";
  ProblemShape shape = test::ragged_shape({100, 7, 0, 260}, {100, 300, 5, 130}, 4, 2, 128, DType::bf16);
  HostProblem counted = test::make_problem(shape);
  Result<KernelChoice> choice = runtime->plan(counted.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_EQ(choice->variant, std::optional<Variant>(Variant::wgmma_sm90)) << choice->kernel_key;
  EXPECT_NE(choice->kernel_key.find("_varlen"), std::string::npos) << choice->kernel_key;
  EXPECT_TRUE(test::device_matches_cpu(*runtime, counted));

  shape.with_totals = false;
  HostProblem uncounted = test::make_problem(shape);
  choice = runtime->plan(uncounted.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_EQ(choice->variant, std::optional<Variant>(Variant::mma_sm80)) << choice->kernel_key;
  EXPECT_NE(choice->reason.find("total_q"), std::string::npos) << choice->reason;
  EXPECT_TRUE(test::device_matches_cpu(*runtime, uncounted));

  RuntimeOptions forced;
  forced.force_variant = Variant::wgmma_sm90;
  Runtime* wgmma = test::shared_gpu_runtime(forced, &skip);
  ASSERT_NE(wgmma, nullptr) << skip;
  HostProblem refused = test::make_problem(shape);
  const Status status = run_on_device(*wgmma, refused);
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument);
  EXPECT_NE(status.message().find("token counts are not given"), std::string::npos) << status.message();
  EXPECT_TRUE(test::output_is_poisoned(refused));
}

// FLASHJIT_CHECK_ARGS / RuntimeOptions::check_args: offsets on the device are copied and checked; a
// decreasing one is refused by its index and nothing is launched. Without the check the same call
// is not refused (what it computes is then undefined, as in FlashAttention).
TEST(GpuModifiersCheckArgs, ADecreasingOffsetIsFoundByItsIndex) {
  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.tune = false;
  options.use_cache = false;
  options.check_args = true;
  auto created = Runtime::create(options);
  if (!created) GTEST_SKIP() << "no usable GPU: " << created.status().message();
  HostProblem p = test::make_problem(test::ragged_shape({5, 9, 4}, {5, 9, 4}, 2, 2, 64, DType::f16));
  p.cu_seqlens_k = {0, 5, 3, 18};  // entry 2 goes back
  p.bind();
  const Status refused = run_on_device(**created, p);
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(refused.message(), "cu_seqlens_k[2] = 3 is smaller than cu_seqlens_k[1] = 5: offsets must not decrease");
  EXPECT_TRUE(test::output_is_poisoned(p));

  // An offset past the tensors' end, without token counts: k holds 18 tokens, the offsets claim 40.
  ProblemShape uncounted = test::ragged_shape({5, 9, 4}, {5, 9, 4}, 2, 2, 64, DType::f16);
  uncounted.with_totals = false;
  HostProblem q = test::make_problem(uncounted);
  q.cu_seqlens_k = {0, 5, 14, 40};
  q.shape.k_lengths = {5, 9, 26};
  q.args.seqlen_k = 26;
  q.bind();
  const Status past = run_on_device(**created, q);
  EXPECT_EQ(past.code(), ErrorCode::invalid_argument);
  EXPECT_NE(past.message().find("runs past its allocation"), std::string::npos) << past.message();
  EXPECT_TRUE(test::output_is_poisoned(q));

  // The same with the token counts given: the last offset past total_k, by its index.
  HostProblem r = test::make_problem(test::ragged_shape({5, 9, 4}, {5, 9, 4}, 2, 2, 64, DType::f16));
  r.cu_seqlens_k = {0, 5, 14, 40};
  r.shape.k_lengths = {5, 9, 26};
  r.args.seqlen_k = 26;
  r.bind();
  const Status past_count = run_on_device(**created, r);
  EXPECT_EQ(past_count.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(past_count.message(), "cu_seqlens_k[3] = 40 is past total_k = 18, the packed tensor's token count");
  EXPECT_TRUE(test::output_is_poisoned(r));
}

}  // namespace
}  // namespace flashjit
