// The generated source stays compilable by every NVRTC FlashJIT loads: each variant, at a few head
// dims, is compiled with each NVRTC found -- the toolkit's (13), and CUDA 12.9's and 11.8's that
// scripts/setup.sh installs (named by FLASHJIT_TEST_OLD_NVRTC) -- for every architecture of the
// variant that NVRTC targets and whose rules let that NVRTC build it (wgmma_sm90 needs sm_90a, CUDA
// 12 or newer). A template change that uses what an older NVRTC lacks (a newer builtin, a C++
// feature) fails here. Each compile must give a cubin for its SM holding the kernel, from PTX whose
// .target is that SM; registers and spills are printed, not judged (the no-spill checks do that).
// Needs NVRTC, not a GPU.
//
//   flashjit_nvrtc_variant_matrix [--jobs N]
//
// Exit 0 when every compile passes; 1 when one fails, or when an older NVRTC is missing and
// FLASHJIT_REQUIRE_OLD_NVRTC=1 (CI must not skip it); 77 (a skip to CTest) when one is missing
// otherwise.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <llvm/Support/Error.h>

#include "cuda/cubin_elf.h"
#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_compiler.h"
#include "cuda/nvrtc_discovery.h"
#include "codegen/old_nvrtc_programs.h"
#include "generator/device_description.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "problem/problem.h"

namespace flashjit {
namespace {

struct VariantCase {
  Variant variant;
  int arch;
  DType dtype;
};

// Each variant on the architectures it is written for (generic also on Maxwell and Volta, where
// it is what runs), f16 everywhere and bf16 where the variant is the one that serves it.
const std::vector<VariantCase> kCases = {
    {Variant::generic, 50, DType::f16},    {Variant::generic, 70, DType::f16},
    {Variant::generic, 90, DType::bf16},   {Variant::mma_sm70, 70, DType::f16},
    {Variant::mma_sm75, 75, DType::f16},   {Variant::mma_sm80, 80, DType::f16},
    {Variant::mma_sm80, 80, DType::bf16},  {Variant::wgmma_sm90, 90, DType::f16},
};
constexpr int kHeadDims[] = {64, 256};

struct Compile {
  const cuda::NvrtcLibrary* nvrtc;
  VariantCase c;
  int head_dim;
};

// Contiguous tensors of these features: only the features matter to which kernel is built.
Problem problem_for(DType dtype, int head_dim) {
  auto problem = Problem::of_features(ProblemFeatures{dtype, head_dim, MaskKind::causal});
  if (!problem) {
    std::printf("FAIL: no problem of d%d: %s\n", head_dim, llvm::toString(problem.takeError()).c_str());
    std::exit(1);
  }
  return std::move(*problem);
}

std::string describe(const Compile& job) {
  return job.nvrtc->describe() + " " + variant_name(job.c.variant) + " sm_" + std::to_string(job.c.arch) + " " +
         dtype_name(job.c.dtype) + " d" + std::to_string(job.head_dim);
}

// Empty when the compile is everything it must be; otherwise what is wrong.
std::string run(const Compile& job, std::string& line) {
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(job.c.arch);
  const Problem problem = problem_for(job.c.dtype, job.head_dim);
  auto spec = gen::default_spec(job.c.variant, device, problem);
  if (!spec) return "no default spec: " + llvm::toString(spec.takeError());
  auto kernel = gen::emit(*spec);
  if (!kernel) return "emit failed: " + llvm::toString(kernel.takeError());
  auto compiled = cuda::compile_kernel(*kernel, *spec, *job.nvrtc);
  if (!compiled) return llvm::toString(compiled.takeError());
  auto cubin = cuda::read_cubin(compiled->cubin);
  if (!cubin) return "the cubin does not read: " + llvm::toString(cubin.takeError());
  if (cubin->arch != job.c.arch) return "the cubin is for sm_" + std::to_string(cubin->arch);
  bool has_kernel = false;
  for (const std::string& name : cubin->functions) has_kernel = has_kernel || name == compiled->lowered_name;
  if (!has_kernel) return "the cubin lacks " + compiled->lowered_name;
  const std::string target = gen::target_name(*spec);
  if (compiled->ptx.find("\n.target " + target) == std::string::npos) return "the PTX's .target is not " + target;
  line = compiled->key + ": " + std::to_string(compiled->resources.registers) + " registers, " +
         std::to_string(compiled->resources.spill_store_bytes) + " bytes spill stores";
  return {};
}

int matrix_main(int argc, char** argv) {
  unsigned jobs = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--jobs" && i + 1 < argc) jobs = static_cast<unsigned>(std::atoi(argv[++i]));
  }
  if (jobs == 0) jobs = 1;

  std::vector<const cuda::NvrtcLibrary*> nvrtcs;
  const cuda::NvrtcLibrary* newest = cuda::newest_nvrtc(cuda::nvrtc_libraries());
  if (newest == nullptr) {
    std::printf("FAIL: no usable NVRTC found (the toolkit's is needed)\n");
    return 1;
  }
  nvrtcs.push_back(newest);
  std::string missing;
  for (int major : {12, 11}) {
    if (const cuda::NvrtcLibrary* library = codegen::old_nvrtc(major)) {
      nvrtcs.push_back(library);
      continue;
    }
    missing += " NVRTC " + std::to_string(major) + ".x";
  }

  std::vector<Compile> compiles;
  for (const cuda::NvrtcLibrary* nvrtc : nvrtcs)
    for (const VariantCase& c : kCases) {
      const gen::VariantVerdict verdict = gen::judge_variant(
          c.variant, gen::DeviceDescription::for_arch(c.arch), problem_for(c.dtype, 64), nvrtc->targets);
      if (!nvrtc->targets.supports(c.arch) || (!verdict.usable && !verdict.forcible)) {
        std::printf("not built by %s: %s sm_%d %s (%s)\n", nvrtc->describe().c_str(), variant_name(c.variant), c.arch,
                    dtype_name(c.dtype),
                    nvrtc->targets.supports(c.arch) ? verdict.reason.c_str() : "does not target it");
        continue;
      }
      for (int head_dim : kHeadDims) compiles.push_back({nvrtc, c, head_dim});
    }

  std::atomic<int> failures{0};
  std::mutex print;
  codegen::for_each_in_parallel(compiles.size(), jobs, [&](size_t i) {
    std::string line;
    const std::string problem = run(compiles[i], line);
    std::lock_guard<std::mutex> lock(print);
    if (!problem.empty()) {
      ++failures;
      std::printf("FAIL %s: %s\n", describe(compiles[i]).c_str(), problem.c_str());
    } else {
      std::printf("ok   %s: %s\n", compiles[i].nvrtc->describe().c_str(), line.c_str());
    }
  });

  std::printf("%zu compiles with %zu NVRTCs, %d failed\n", compiles.size(), nvrtcs.size(), failures.load());
  if (failures > 0) return 1;
  if (!missing.empty()) return codegen::missing_old_nvrtc_status(missing);
  std::printf("every variant compiles with every NVRTC found\n");
  return 0;
}

}  // namespace
}  // namespace flashjit

int main(int argc, char** argv) { return flashjit::matrix_main(argc, argv); }
