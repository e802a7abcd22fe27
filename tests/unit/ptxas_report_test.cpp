// Reading resource usage from the `ptxas -v` report that NVRTC leaves in its program log.
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "cuda/ptxas_report.h"

namespace flashjit::cuda {
namespace {

// As NVRTC 13.0 prints it for two kernels and a non-inlined device function.
const char* const kTwoKernels =
    "ptxas info    : 0 bytes gmem\n"
    "ptxas info    : Compiling entry function '_Z5firstPf' for 'sm_90'\n"
    "ptxas info    : Function properties for _Z5firstPf\n"
    "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 8 registers, used 0 barriers\n"
    "ptxas info    : Compile time = 1.714 ms\n"
    "ptxas info    : Compiling entry function '_Z6secondPf' for 'sm_90'\n"
    "ptxas info    : Function properties for _Z6secondPf\n"
    "ptxas         .     256 bytes stack frame, 24 bytes spill stores, 16 bytes spill loads\n"
    "ptxas info    : Used 30 registers, used 1 barriers, 256 bytes cumulative stack size, 4352 bytes smem, 400 bytes cmem[0]\n"
    "ptxas info    : Compile time = 3.591 ms\n"
    "ptxas info    : Function properties for _Z6helperf\n"
    "ptxas         .     64 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads\n";

ResourceUsage parsed(const std::string& log, const std::string& symbol) {
  auto usage = parse_ptxas_report(log, symbol);
  if (!usage) {
    ADD_FAILURE() << llvm::toString(usage.takeError());
    return {};
  }
  return *usage;
}

TEST(PtxasReport, ReadsTheRequestedSymbolOfTwo) {
  const ResourceUsage first = parsed(kTwoKernels, "_Z5firstPf");
  EXPECT_EQ(first.registers, 8);
  EXPECT_EQ(first.barriers, 0);
  EXPECT_EQ(first.shared_bytes, 0);
  EXPECT_EQ(first.constant_bytes, 0);
  EXPECT_EQ(first.stack_bytes, 0);
  EXPECT_EQ(first.spill_store_bytes, 0);
  EXPECT_EQ(first.spill_load_bytes, 0);
  EXPECT_FALSE(first.spills());

  const ResourceUsage second = parsed(kTwoKernels, "_Z6secondPf");
  EXPECT_EQ(second.registers, 30);
  EXPECT_EQ(second.barriers, 1);
  EXPECT_EQ(second.shared_bytes, 4352);
  EXPECT_EQ(second.constant_bytes, 400);
  EXPECT_EQ(second.stack_bytes, 256);
  EXPECT_EQ(second.spill_store_bytes, 24);
  EXPECT_EQ(second.spill_load_bytes, 16);
  EXPECT_TRUE(second.spills());
}

TEST(PtxasReport, ADeviceFunctionAfterTheKernelDoesNotOverwriteIt) {
  // _Z6helperf's stack and spills follow _Z6secondPf's report; they are not the kernel's.
  const ResourceUsage second = parsed(kTwoKernels, "_Z6secondPf");
  EXPECT_EQ(second.stack_bytes, 256);
  EXPECT_EQ(second.spill_store_bytes, 24);
}

TEST(PtxasReport, ASymbolThatIsAPrefixOfAnotherIsNotConfused) {
  // extern "C" kernels: "attn" is a prefix of "attn_v2", reported after it.
  const std::string log =
      "ptxas info    : Compiling entry function 'attn' for 'sm_80'\n"
      "ptxas info    : Function properties for attn\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 1 barriers, 1024 bytes smem, 372 bytes cmem[0]\n"
      "ptxas info    : Compiling entry function 'attn_v2' for 'sm_80'\n"
      "ptxas info    : Function properties for attn_v2\n"
      "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n"
      "ptxas info    : Used 255 registers, used 1 barriers, 2048 bytes smem, 372 bytes cmem[0]\n";
  const ResourceUsage attn = parsed(log, "attn");
  EXPECT_EQ(attn.registers, 40);
  EXPECT_EQ(attn.shared_bytes, 1024);
  EXPECT_EQ(attn.stack_bytes, 0);
  EXPECT_FALSE(attn.spills());
  const ResourceUsage v2 = parsed(log, "attn_v2");
  EXPECT_EQ(v2.registers, 255);
  EXPECT_EQ(v2.shared_bytes, 2048);
  EXPECT_TRUE(v2.spills());
}

TEST(PtxasReport, OnlyALongerSymbolIsNoReportForTheShorterOne) {
  const std::string log =
      "ptxas info    : Compiling entry function 'attn_v2' for 'sm_80'\n"
      "ptxas info    : Function properties for attn_v2\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 12 registers, used 0 barriers\n";
  auto usage = parse_ptxas_report(log, "attn");
  ASSERT_FALSE(static_cast<bool>(usage));
  EXPECT_EQ(llvm::toString(usage.takeError()), "the ptxas report has no resource usage for attn");
}

TEST(PtxasReport, ReadsTheOlderFormatWithCmem) {
  const std::string log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'kernel' for 'sm_75'\n"
      "ptxas info    : Function properties for kernel\n"
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 40 registers, 256 bytes smem, 400 bytes cmem[0]\n";
  const ResourceUsage u = parsed(log, "kernel");
  EXPECT_EQ(u.registers, 40);
  EXPECT_EQ(u.barriers, 0);
  EXPECT_EQ(u.shared_bytes, 256);
  EXPECT_EQ(u.constant_bytes, 400);
}

TEST(PtxasReport, ErrorsWhenTheSymbolIsAbsent) {
  auto usage = parse_ptxas_report(kTwoKernels, "_Z5thirdPf");
  ASSERT_FALSE(static_cast<bool>(usage));
  EXPECT_EQ(llvm::toString(usage.takeError()), "the ptxas report has no resource usage for _Z5thirdPf");
}

TEST(PtxasReport, ErrorsOnAnEmptyLog) {
  auto usage = parse_ptxas_report("", "_Z5firstPf");
  ASSERT_FALSE(static_cast<bool>(usage));
  EXPECT_EQ(llvm::toString(usage.takeError()), "the ptxas report has no resource usage for _Z5firstPf");
}

TEST(PtxasReport, ErrorsWhenTheRegisterLineIsMissing) {
  const std::string log =
      "ptxas info    : Compiling entry function 'kernel' for 'sm_90'\n"
      "ptxas info    : Function properties for kernel\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n";
  auto usage = parse_ptxas_report(log, "kernel");
  ASSERT_FALSE(static_cast<bool>(usage));
  EXPECT_EQ(llvm::toString(usage.takeError()), "the ptxas report has no resource usage for kernel");
}

// ptxas's performance advisories name the function at the end of the line, outside any per-entry
// block. Only the kernel's own are its advisories (a wgmma kernel serialized by ptxas runs far below
// its speed, so `flashjit emit` prints them); the text keeps the code and drops the function name.
TEST(PtxasReport, CollectsTheAdvisoriesNamingTheSymbol) {
  const std::string log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'wgmma_kernel' for 'sm_90a'\n"
      "ptxas info    : Function properties for wgmma_kernel\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 168 registers, used 1 barriers, 1024 bytes smem, 1152 bytes cmem[0]\n"
      "ptxas info    : (C7520) Potential Performance Loss: wgmma.mma_async instructions are serialized due to "
      "insufficient register resources for the wgmma pipeline in the function 'wgmma_kernel'\n"
      "ptxas info    : (C7520) Potential Performance Loss: wgmma.mma_async instructions are serialized due to "
      "the presence of Extern calls in the function 'other_kernel'\n"
      "ptxas info    : (C7519) warpgroup.arrive is injected in around 12 places in the function 'wgmma_kernel'\n"
      "ptxas info    : Compile time = 812.000 ms\n";
  const ResourceUsage u = parsed(log, "wgmma_kernel");
  ASSERT_EQ(u.advisories.size(), 2u);
  EXPECT_EQ(u.advisories[0],
            "(C7520) Potential Performance Loss: wgmma.mma_async instructions are serialized due to insufficient "
            "register resources for the wgmma pipeline");
  EXPECT_EQ(u.advisories[1], "(C7519) warpgroup.arrive is injected in around 12 places");
  // The advisory lines do not disturb the resource usage.
  EXPECT_EQ(u.registers, 168);
  EXPECT_EQ(u.shared_bytes, 1024);
  EXPECT_FALSE(u.spills());
}

TEST(PtxasReport, AnotherKernelsAdvisoryIsNotOurs) {
  // "attn" is a prefix of "attn_v2", whose advisory it must not take.
  const std::string log =
      "ptxas info    : Compiling entry function 'attn' for 'sm_90a'\n"
      "ptxas info    : Function properties for attn\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 1 barriers, 1024 bytes smem, 372 bytes cmem[0]\n"
      "ptxas info    : (C7520) Potential Performance Loss: wgmma.mma_async instructions are serialized due to "
      "insufficient register resources for the wgmma pipeline in the function 'attn_v2'\n";
  const ResourceUsage u = parsed(log, "attn");
  EXPECT_EQ(u.advisories.size(), 0u);
  EXPECT_EQ(u.registers, 40);
}

// A coded warning that names no function ("(C7508) setmaxnreg ignored ...") concerns every kernel
// of the program, ours included; a line with a parenthesis that is not a code is no advisory.
TEST(PtxasReport, CodedWarningsWithoutAFunctionAreOurs) {
  const std::string log =
      "ptxas info    : Compiling entry function 'wgmma_kernel' for 'sm_90a'\n"
      "ptxas info    : Function properties for wgmma_kernel\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 168 registers, used 1 barriers\n"
      "ptxas warning : (C7508) setmaxnreg ignored; unable to determine register count at entry\n"
      "ptxas info    : (Compile time) = 12.000 ms\n";
  const ResourceUsage u = parsed(log, "wgmma_kernel");
  ASSERT_EQ(u.advisories.size(), 1u);
  EXPECT_EQ(u.advisories[0], "(C7508) setmaxnreg ignored; unable to determine register count at entry");
}

TEST(PtxasReport, ACleanLogHasNoAdvisories) {
  EXPECT_TRUE(parsed(kTwoKernels, "_Z5firstPf").advisories.empty());
  EXPECT_TRUE(parsed(kTwoKernels, "_Z6secondPf").advisories.empty());
}

}  // namespace
}  // namespace flashjit::cuda
