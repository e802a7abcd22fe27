// The public Runtime end to end on the CPU backend, and its errors where no GPU is usable.
#include <cmath>

#include <gtest/gtest.h>

#include "runtime/cpu/cpu_isa.h"

#include "flashjit/runtime.h"
#include "cuda/driver_api.h"
#include "helpers/compare.h"
#include "helpers/naive_reference.h"
#include "helpers/test_problem.h"
#include "problem/validate.h"

namespace flashjit {
namespace {

test::ProblemShape small_shape(DType dtype, MaskKind mask) {
  test::ProblemShape s;
  s.batch = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.seqlen_q = 19;
  s.seqlen_k = 45;
  s.head_dim = 40;
  s.dtype = dtype;
  s.mask = mask;
  return s;
}

bool driver_present() {
  auto api = cuda::driver_api();
  if (api) return true;
  llvm::consumeError(api.takeError());
  return false;
}

TEST(Runtime, CpuBackendComputesAttention) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  EXPECT_EQ((*runtime)->backend(), Backend::cpu);
  EXPECT_EQ((*runtime)->device_name(), "cpu");
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    test::HostProblem p = test::make_problem(small_shape(t, MaskKind::causal));
    Result<AttentionArgs> normalized = validate_args(p.args);
    ASSERT_TRUE(normalized.ok());
    const test::ReferenceOutput reference = test::naive_attention(*normalized);
    Status s = (*runtime)->forward(p.args);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(test::matches_reference(p, reference, true, test::kCpuLseTolerance)) << dtype_name(t);
  }
}

TEST(Runtime, InvalidArgumentsAreRejectedWithTheirMessage) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok());
  test::HostProblem p = test::make_problem(small_shape(DType::f16, MaskKind::none));
  p.args.num_kv_heads = 3;
  Status s = (*runtime)->forward(p.args);
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.to_string(), "invalid_argument: num_heads 4 is not a multiple of num_kv_heads 3");
  // Nothing was computed: the poison is intact.
  EXPECT_TRUE(std::isnan(test::output_at(p, 0, 0, 0, 0)));
}

// A ragged batch through the public API on the CPU backend: computed with its modifiers, and bad
// offsets (which the CPU backend always checks) refused by their index with nothing written.
TEST(Runtime, CpuBackendComputesARaggedBatchAndChecksItsOffsets) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok());
  test::ProblemShape s = test::ragged_shape({9, 0, 30}, {12, 5, 30}, 4, 2, 40, DType::bf16, MaskKind::causal);
  s.window_left = 6;
  s.softcap = 3.0f;
  s.alibi = true;
  test::HostProblem p = test::make_problem(s);
  Result<AttentionArgs> normalized = validate_args(p.args);
  ASSERT_TRUE(normalized.ok()) << normalized.status().to_string();
  const test::ReferenceOutput reference = test::naive_attention(*normalized);
  ASSERT_TRUE((*runtime)->forward(p.args).ok());
  EXPECT_TRUE(test::matches_reference(p, reference, true, test::kCpuLseTolerance));

  test::HostProblem bad = test::make_problem(s);
  bad.cu_seqlens_q = {0, 9, 9, 41};  // sequence 2 claims 32 query tokens, the maximum is 30
  bad.bind();
  Status refused = (*runtime)->forward(bad.args);
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(refused.message(), "cu_seqlens_q[3] - cu_seqlens_q[2] = 32: sequence 2 is longer than seqlen_q = 30, the "
                               "longest sequence the call declares");
  EXPECT_TRUE(test::output_is_poisoned(bad));
  EXPECT_TRUE(test::lse_is_poisoned(bad));
}

TEST(Runtime, PlanNamesTheCpuKernelAndWhy) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  options.cpu_threads = 3;
  auto runtime = Runtime::create(options);
  ASSERT_TRUE(runtime.ok());
  test::HostProblem p = test::make_problem(small_shape(DType::bf16, MaskKind::none));
  Result<KernelChoice> choice = (*runtime)->plan(p.args);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_EQ(choice->kernel_key, std::string("cpu_blocked_online_softmax_f32_") + cpu::cpu_isa_name(cpu::best_cpu_isa()));
  EXPECT_FALSE(choice->variant.has_value()) << "the CPU backend runs no kernel variant";
  EXPECT_NE(choice->reason.find("on 3 threads"), std::string::npos) << choice->reason;
  EXPECT_NE(choice->reason.find(std::string(cpu::cpu_isa_name(cpu::best_cpu_isa())) +
                                " kernels (the best this CPU runs)"),
            std::string::npos)
      << choice->reason;
}

// cpu_isa forces a lower instruction set, and plan() says so; the result still matches the best
// set's within the reference's tolerance (each is checked against it in cpu_attention_test).
TEST(Runtime, CpuIsaForcesTheCpuKernelsAndPlanSaysSo) {
  for (cpu::CpuIsa isa : cpu::runnable_cpu_isas()) {
    RuntimeOptions options;
    options.backend = Backend::cpu;
    options.cpu_isa = cpu::cpu_isa_name(isa);
    auto runtime = Runtime::create(options);
    ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
    test::HostProblem p = test::make_problem(small_shape(DType::f16, MaskKind::causal));
    Result<KernelChoice> choice = (*runtime)->plan(p.args);
    ASSERT_TRUE(choice.ok()) << choice.status().to_string();
    EXPECT_EQ(choice->kernel_key, std::string("cpu_blocked_online_softmax_f32_") + cpu::cpu_isa_name(isa));
    if (isa != cpu::best_cpu_isa()) {
      EXPECT_NE(choice->reason.find("kernels (forced by cpu_isa)"), std::string::npos) << choice->reason;
    }
    // A bf16 problem says whether it multiplies in bf16 pairs: only on avx512_bf16.
    test::HostProblem bf16_problem = test::make_problem(small_shape(DType::bf16, MaskKind::none));
    Result<KernelChoice> bf16_choice = (*runtime)->plan(bf16_problem.args);
    ASSERT_TRUE(bf16_choice.ok()) << bf16_choice.status().to_string();
    EXPECT_EQ(bf16_choice->reason.find("bf16 products (VDPBF16PS)") != std::string::npos,
              isa == cpu::CpuIsa::avx512_bf16)
        << bf16_choice->reason;
    Result<AttentionArgs> normalized = validate_args(p.args);
    ASSERT_TRUE(normalized.ok()) << normalized.status().to_string();
    const test::ReferenceOutput ref = test::naive_attention(*normalized);
    ASSERT_TRUE((*runtime)->forward(p.args).ok());
    EXPECT_TRUE(test::matches_reference(p, ref, /*check_lse=*/false, test::kCpuLseTolerance)) << options.cpu_isa;
  }
}

TEST(Runtime, AnUnknownCpuIsaIsRefusedWhateverTheBackend) {
  for (Backend backend : {Backend::cpu, Backend::automatic}) {
    RuntimeOptions options;
    options.backend = backend;
    options.cpu_isa = "avx1024";
    auto runtime = Runtime::create(options);
    ASSERT_FALSE(runtime.ok());
    EXPECT_EQ(runtime.status().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(runtime.status().message(),
              "cpu_isa 'avx1024' is not an instruction set of the CPU backend (expected portable, avx2, avx512, "
              "avx512_bf16, or empty for the best this CPU runs)");
  }
}

TEST(Runtime, FlashjitCpuIsaSetsTheDefault) {
  ASSERT_EQ(setenv("FLASHJIT_CPU_ISA", "portable", 1), 0);
  const RuntimeOptions from_environment;
  unsetenv("FLASHJIT_CPU_ISA");
  EXPECT_EQ(from_environment.cpu_isa, "portable");
  EXPECT_EQ(RuntimeOptions().cpu_isa, "") << "unset: the best this CPU runs";
}

TEST(Runtime, NegativeCpuThreadsIsAnError) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  options.cpu_threads = -2;
  auto runtime = Runtime::create(options);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().message(), "cpu_threads must be 0 (all cores) or positive, got -2");
}

// Every field of RuntimeOptions in its range, or invalid_argument naming it (enums by their
// number: a value outside the enum has no name). An unknown backend used to run as automatic.
TEST(Runtime, OptionsOutOfTheirRangeAreRefusedByName) {
  auto refusal = [](void (*change)(RuntimeOptions&)) {
    RuntimeOptions options;
    options.backend = Backend::cpu;
    change(options);
    auto runtime = Runtime::create(options);
    if (runtime.ok()) return std::string("created");
    EXPECT_EQ(runtime.status().code(), ErrorCode::invalid_argument) << runtime.status().to_string();
    return runtime.status().message();
  };
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.backend = static_cast<Backend>(7); }),
            "backend 7 is not a known Backend (expected automatic, cuda or cpu)");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.backend = static_cast<Backend>(-1); }),
            "backend -1 is not a known Backend (expected automatic, cuda or cpu)");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.force_variant = static_cast<Variant>(9); }),
            "force_variant 9 is not a known Variant (expected generic, mma_sm70, mma_sm75, mma_sm80 or wgmma_sm90)");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.force_tiles = TileConfig{64, 32, -4, 0}; }),
            "force_tiles.warps must be 0 (the variant's default) or positive, got -4");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.device_index = -1; }), "device_index must be 0 or positive, got -1");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.tune_budget_ms = std::nan(""); }),
            "tune_budget_ms must be a finite number of milliseconds, 0 or more, got nan");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.tune_budget_ms = -5; }),
            "tune_budget_ms must be a finite number of milliseconds, 0 or more, got -5.00");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.tune_max_candidates = -3; }),
            "tune_max_candidates must be 0 (every candidate) or positive, got -3");
  // The remote tier: a malformed URL is refused without being echoed (it may hold the password).
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.remote_cache.url = "redis://:Sekrit-Pw@cache:70000"; }),
            "remote_cache.url (FLASHJIT_REMOTE_CACHE) is not a remote cache URL: the port is not a number from 1 to "
            "65535");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.remote_cache.url = "memcached://cache"; }),
            "remote_cache.url (FLASHJIT_REMOTE_CACHE) is not a remote cache URL: the URL must start with redis:// or "
            "unix:// (redis://[user:password@]host[:port][/db], unix:///path/to/redis.sock)");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.remote_cache.timeout_ms = 0; }),
            "remote_cache.timeout_ms (FLASHJIT_REMOTE_CACHE_TIMEOUT_MS) must be between 1 and 60000, got 0");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.remote_cache.backoff_ms = -1; }),
            "remote_cache.backoff_ms must be between 0 and 86400000, got -1");
  EXPECT_EQ(refusal([](RuntimeOptions& o) { o.remote_cache.single_flight_wait_ms = 3600001; }),
            "remote_cache.single_flight_wait_ms must be between 0 and 3600000, got 3600001");
}

// The remote tier is off unless configured, and its environment variables set the defaults.
TEST(Runtime, TheRemoteCacheIsOffByDefaultAndConfiguredFromTheEnvironment) {
  const RemoteCacheOptions defaults;
  if (std::getenv("FLASHJIT_REMOTE_CACHE") == nullptr) {
    EXPECT_EQ(defaults.url, "");
  }
  ASSERT_EQ(setenv("FLASHJIT_REMOTE_CACHE", "redis://cache:6380/1", 1), 0);
  ASSERT_EQ(setenv("FLASHJIT_REMOTE_CACHE_KEY_FILE", "/etc/flashjit/fleet.key", 1), 0);
  ASSERT_EQ(setenv("FLASHJIT_REMOTE_CACHE_PASSWORD_FILE", "/etc/flashjit/redis.password", 1), 0);
  ASSERT_EQ(setenv("FLASHJIT_REMOTE_CACHE_UNSIGNED", "1", 1), 0);
  ASSERT_EQ(setenv("FLASHJIT_REMOTE_CACHE_TIMEOUT_MS", "75", 1), 0);
  const RemoteCacheOptions configured;
  ASSERT_EQ(setenv("FLASHJIT_REMOTE_CACHE_TIMEOUT_MS", "soon", 1), 0);
  const RemoteCacheOptions not_a_number;
  for (const char* name : {"FLASHJIT_REMOTE_CACHE", "FLASHJIT_REMOTE_CACHE_KEY_FILE", "FLASHJIT_REMOTE_CACHE_PASSWORD_FILE",
                           "FLASHJIT_REMOTE_CACHE_UNSIGNED", "FLASHJIT_REMOTE_CACHE_TIMEOUT_MS"})
    unsetenv(name);
  EXPECT_EQ(configured.url, "redis://cache:6380/1");
  EXPECT_EQ(configured.key_file, "/etc/flashjit/fleet.key");
  EXPECT_EQ(configured.password_file, "/etc/flashjit/redis.password");
  EXPECT_TRUE(configured.allow_unsigned);
  EXPECT_EQ(configured.timeout_ms, 75);
  EXPECT_EQ(not_a_number.timeout_ms, 50) << "a value that is not a number keeps the default, with a warning";
  EXPECT_FALSE(RemoteCacheOptions().allow_unsigned);
  EXPECT_EQ(RemoteCacheOptions().timeout_ms, 50);
}

// The CPU backend runs no kernel variant or tile: a forced one is refused, not silently ignored.
TEST(Runtime, TheCpuBackendRefusesForcedChoices) {
  RuntimeOptions options;
  options.backend = Backend::cpu;
  options.force_variant = Variant::mma_sm80;
  auto runtime = Runtime::create(options);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().to_string(),
            "invalid_argument: force_variant mma_sm80 cannot be honoured by the CPU backend, which runs no kernel");

  options.force_variant.reset();
  options.force_tiles = TileConfig{64, 0, 0, 0};
  runtime = Runtime::create(options);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().to_string(),
            "invalid_argument: force_tiles (block_m 64, block_n 0, warps 0, stages 0) cannot be honoured by the CPU "
            "backend, which runs no kernel");
}

// Backend::automatic falling back to the CPU does not drop a forced choice either, and says why it
// fell back.
TEST(Runtime, AutomaticRefusesForcedChoicesWhenItFallsBackToTheCpu) {
  if (driver_present()) GTEST_SKIP() << "a CUDA driver is installed here";
  RuntimeOptions options;
  options.force_variant = Variant::generic;
  options.force_tiles = TileConfig{32, 32, 4, 1};
  auto runtime = Runtime::create(options);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(runtime.status().message().rfind(
                "force_variant generic and force_tiles (block_m 32, block_n 32, warps 4, stages 1) cannot be honoured "
                "by the CPU backend, which runs no kernel (Backend::automatic fell back to it: no usable GPU: cannot "
                "load the CUDA driver library libcuda.so.1",
                0),
            0u)
      << runtime.status().message();
}

TEST(Runtime, CudaBackendWithoutADriverSaysWhy) {
  if (driver_present()) GTEST_SKIP() << "a CUDA driver is installed here";
  RuntimeOptions options;
  options.backend = Backend::cuda;
  auto runtime = Runtime::create(options);
  ASSERT_FALSE(runtime.ok());
  EXPECT_EQ(runtime.status().code(), ErrorCode::no_device);
  EXPECT_NE(runtime.status().message().find("no usable GPU: cannot load the CUDA driver library libcuda.so.1"),
            std::string::npos)
      << runtime.status().message();
}

TEST(Runtime, AutomaticFallsBackToTheCpuWithTheReason) {
  if (driver_present()) GTEST_SKIP() << "a CUDA driver is installed here";
  auto runtime = Runtime::create();
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  EXPECT_EQ((*runtime)->backend(), Backend::cpu);
  EXPECT_NE((*runtime)->fallback_reason().find("libcuda.so.1"), std::string::npos);
}

}  // namespace
}  // namespace flashjit
