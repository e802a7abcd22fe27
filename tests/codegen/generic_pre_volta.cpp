// The generic variant on Maxwell and Pascal: the default tile of each head dim, compiled for sm_50,
// sm_52, sm_60 and sm_61 by CUDA 12.9's NVRTC (and for sm_61 by 11.8's too), must not spill, and its
// PTX must target the GPU's own SM. For each it prints the occupancy ptxas's registers and the
// tile's shared memory allow (the performance notes quote the table). Needs NVRTC, not a GPU.
//
//   flashjit_generic_pre_volta [--jobs N]
//
// Exit 0 when every kernel passes; 1 when one fails, or when an older NVRTC is missing and
// FLASHJIT_REQUIRE_OLD_NVRTC=1; 77 (a skip to CTest) when one is missing otherwise.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <llvm/Support/Error.h>

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

constexpr int kHeadDims[] = {16, 32, 64, 96, 128, 192, 256};

struct Job {
  const cuda::NvrtcLibrary* nvrtc;
  int arch;
  int head_dim;
};

// Resident blocks per SM: the least of what registers (allocated per warp in units of 256),
// shared memory, threads (2048) and blocks (32) allow on Maxwell and Pascal.
int blocks_per_sm(const gen::DeviceDescription& device, const gen::KernelSpec& spec, int registers) {
  const int registers_per_warp = (registers * 32 + 255) / 256 * 256;
  const int by_registers = device.regs_per_sm / (registers_per_warp * spec.warps);
  const int smem = gen::shared_memory_bytes(spec);
  const int by_smem = smem == 0 ? 32 : device.smem_per_sm / smem;
  const int by_threads = 2048 / (spec.warps * 32);
  return std::min({by_registers, by_smem, by_threads, 32});
}

std::string run(const Job& job, std::string& line) {
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(job.arch);
  auto problem = Problem::of_features(ProblemFeatures{DType::f16, job.head_dim, MaskKind::causal});
  if (!problem) return llvm::toString(problem.takeError());
  auto spec = gen::default_spec(Variant::generic, device, *problem);
  if (!spec) return "no default tile: " + llvm::toString(spec.takeError());
  auto kernel = gen::emit(*spec);
  if (!kernel) return "emit failed: " + llvm::toString(kernel.takeError());
  auto compiled = cuda::compile_kernel(*kernel, *spec, *job.nvrtc);
  if (!compiled) return llvm::toString(compiled.takeError());
  const std::string target = "sm_" + std::to_string(job.arch);
  if (compiled->ptx.find("\n.target " + target + "\n") == std::string::npos) return "the PTX's .target is not " + target;
  const cuda::ResourceUsage& r = compiled->resources;
  if (r.spill_store_bytes != 0 || r.spill_load_bytes != 0 || r.stack_bytes != 0)
    return "spills: " + std::to_string(r.spill_store_bytes) + " bytes stored, " + std::to_string(r.spill_load_bytes) +
           " loaded, " + std::to_string(r.stack_bytes) + " bytes of stack";
  const int blocks = blocks_per_sm(device, *spec, r.registers);
  char text[256];
  std::snprintf(text, sizeof text, "NVRTC %s %s d%-3d %-9s %3d registers, %5d B smem, %2d blocks/SM, occupancy %3d%%",
                job.nvrtc->targets.version().c_str(), target.c_str(), job.head_dim,
                ("m" + std::to_string(spec->block_m) + "n" + std::to_string(spec->block_n) + "w" +
                 std::to_string(spec->warps)).c_str(),
                r.registers, gen::shared_memory_bytes(*spec), blocks, blocks * spec->warps * 100 / 64);
  line = text;
  return {};
}

int pre_volta_main(int argc, char** argv) {
  unsigned jobs = 2;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--jobs" && i + 1 < argc) jobs = std::max(1, std::atoi(argv[++i]));

  const cuda::NvrtcLibrary* cu12 = codegen::old_nvrtc(12);
  const cuda::NvrtcLibrary* cu11 = codegen::old_nvrtc(11);
  if (!cu12 || !cu11) return codegen::missing_old_nvrtc_status(!cu12 ? " NVRTC 12.x" : " NVRTC 11.x");

  std::vector<Job> all;
  for (int arch : {50, 52, 60, 61})
    for (int head_dim : kHeadDims) all.push_back({cu12, arch, head_dim});
  for (int head_dim : kHeadDims) all.push_back({cu11, 61, head_dim});

  std::vector<std::string> lines(all.size());
  std::atomic<int> failures{0};
  std::mutex print;
  codegen::for_each_in_parallel(all.size(), jobs, [&](size_t i) {
    const std::string problem = run(all[i], lines[i]);
    if (problem.empty()) return;
    ++failures;
    std::lock_guard<std::mutex> lock(print);
    std::printf("FAIL NVRTC %s sm_%d d%d: %s\n", all[i].nvrtc->targets.version().c_str(), all[i].arch,
                all[i].head_dim, problem.c_str());
  });
  for (const std::string& line : lines)
    if (!line.empty()) std::printf("%s\n", line.c_str());
  if (failures > 0) {
    std::printf("%d of %zu kernels failed\n", failures.load(), all.size());
    return 1;
  }
  std::printf("%zu generic kernels for Maxwell and Pascal: no spills, PTX for their own SM\n", all.size());
  return 0;
}

}  // namespace
}  // namespace flashjit

int main(int argc, char** argv) { return flashjit::pre_volta_main(argc, argv); }
