// The CPU backend's instruction sets: names, what this CPU runs, and the refusals of a name that is
// not one or of one this CPU lacks.
#include "runtime/cpu/cpu_isa.h"

#include <gtest/gtest.h>

#include "runtime/cpu/block_kernels.h"

namespace flashjit {
namespace {

TEST(CpuIsa, NamesRoundTrip) {
  for (cpu::CpuIsa isa : cpu::built_cpu_isas()) EXPECT_EQ(cpu::parse_cpu_isa(cpu::cpu_isa_name(isa)), isa);
  EXPECT_FALSE(cpu::parse_cpu_isa("AVX512").has_value()) << "names are lower case, as the option takes them";
  EXPECT_FALSE(cpu::parse_cpu_isa("").has_value());
}

TEST(CpuIsa, ThePortableSetAlwaysRunsAndTheBestIsTheHighestRunnable) {
  const std::vector<cpu::CpuIsa> runnable = cpu::runnable_cpu_isas();
  ASSERT_FALSE(runnable.empty());
  EXPECT_EQ(runnable.front(), cpu::CpuIsa::portable);
  EXPECT_EQ(cpu::best_cpu_isa(), runnable.back());
  for (cpu::CpuIsa isa : runnable) {
    EXPECT_EQ(cpu::missing_cpu_features(isa), "") << cpu::cpu_isa_name(isa);
    EXPECT_EQ(cpu::block_kernels(isa).isa, isa) << "the table of " << cpu::cpu_isa_name(isa);
  }
}

TEST(CpuIsa, ResolvesEmptyToTheBestAndANameToItself) {
  Result<cpu::CpuIsa> best = cpu::resolve_cpu_isa("");
  ASSERT_TRUE(best.ok()) << best.status().to_string();
  EXPECT_EQ(*best, cpu::best_cpu_isa());
  for (cpu::CpuIsa isa : cpu::runnable_cpu_isas()) {
    Result<cpu::CpuIsa> resolved = cpu::resolve_cpu_isa(cpu::cpu_isa_name(isa));
    ASSERT_TRUE(resolved.ok()) << resolved.status().to_string();
    EXPECT_EQ(*resolved, isa);
  }
}

TEST(CpuIsa, AnUnknownNameIsInvalid) {
  Result<cpu::CpuIsa> unknown = cpu::resolve_cpu_isa("sse9");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(unknown.status().message(),
            "cpu_isa 'sse9' is not an instruction set of the CPU backend (expected portable, avx2, avx512, "
            "avx512_bf16, or empty for the best this CPU runs)");
}

// Only a CPU (or build) without some set can show the refusal; on one that runs them all there is
// nothing to refuse, and the test says so instead of passing silently.
TEST(CpuIsa, ASetThisCpuLacksIsUnsupportedNamingTheFeatures) {
  bool refused_one = false;
  for (cpu::CpuIsa isa : {cpu::CpuIsa::avx2, cpu::CpuIsa::avx512}) {
    const std::string missing = cpu::missing_cpu_features(isa);
    if (missing.empty()) continue;
    Result<cpu::CpuIsa> resolved = cpu::resolve_cpu_isa(cpu::cpu_isa_name(isa));
    ASSERT_FALSE(resolved.ok());
    EXPECT_EQ(resolved.status().code(), ErrorCode::unsupported);
    EXPECT_NE(resolved.status().message().find("needs " + missing + ", which this CPU lacks"), std::string::npos)
        << resolved.status().message();
    refused_one = true;
  }
  if (!refused_one) GTEST_SKIP() << "this CPU runs every instruction set of the build";
}

}  // namespace
}  // namespace flashjit
