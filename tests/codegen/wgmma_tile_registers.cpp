// Every wgmma_sm90 tile the rules allow compiles to exactly the registers its budget assumes
// (templates/warpgroup_register_budget.cuh): a kernel whose warpgroups trade registers with setmaxnreg
// must start with the count the launch bounds give (168 for two consumer warpgroups), or its
// consumers wait forever in setmaxnreg.inc. Needs NVRTC, not a GPU.
//
//   flashjit_wgmma_tile_registers --out DIR [--jobs N]
//
// The tiles are not a list of ours: every shape of an envelope wider than any legal one is asked of
// the variant's rules (gen::spec_problems on the nominal Hopper), and each one they allow is
// compiled for sm_90a, in parallel. Its dtype and mask rotate through f16/bf16 and none/causal, so
// every combination is compiled without compiling every tile four times. Each tile is compiled twice:
// its dense kernel, and its `_modified` kernel with a sliding window, softcap and ALiBi (issue 14),
// whose state sits beside the same accumulators under the same budget. Each count ptxas reports
// goes through the check the runtime makes after compiling and after loading a module
// (cuda::check_entry_registers). The cubins are left in DIR with DIR/kernels.txt, one line per
// kernel, "<cubin file> <1 if it trades registers with setmaxnreg, else 0>", for the SASS check
// (tests/codegen/check_producer_registers.py). Exit 0 when every tile passes, 1 otherwise.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <llvm/Support/Error.h>
#include <llvm/Support/FileSystem.h>

#include "cuda/entry_registers.h"
#include "cuda/nvrtc_compiler.h"
#include "generator/device_description.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"

namespace flashjit {
namespace {

// Every wgmma_sm90 tile the rules allow on Hopper, from an envelope that holds them all: head dims
// and tiles in steps of 8 and 16 up to 256, every warp count a block may have, up to 8 stages.
std::vector<gen::KernelSpec> allowed_tiles() {
  const gen::DeviceDescription hopper = gen::DeviceDescription::for_arch(90);
  gen::KernelSpec base;
  base.variant = Variant::wgmma_sm90;
  base.arch = 90;
  base.arch_specific = gen::rules_for(base.variant).arch_specific;
  std::vector<gen::KernelSpec> tiles;
  for (int head_dim = 8; head_dim <= 256; head_dim += 8) {
    base.head_dim = head_dim;
    if (!gen::rules_for(base.variant).head_dim_problem(head_dim).empty()) continue;
    for (int block_m = 16; block_m <= 256; block_m += 16)
      for (int block_n = 16; block_n <= 256; block_n += 16)
        for (int warps = 1; warps * 32 <= hopper.max_threads_per_block; ++warps)
          for (int stages = 1; stages <= 8; ++stages) {
            gen::KernelSpec spec = base;
            spec.block_m = block_m;
            spec.block_n = block_n;
            spec.warps = warps;
            spec.stages = stages;
            if (!gen::spec_problems(spec, hopper).empty()) continue;
            const size_t n = tiles.size();
            spec.dtype = n % 2 == 0 ? DType::f16 : DType::bf16;
            spec.mask = (n / 2) % 2 == 0 ? MaskKind::none : MaskKind::causal;
            tiles.push_back(spec);
          }
  }
  return tiles;
}

// Each tile's dense kernel, then its `_modified` kernel with a ragged batch and all three score
// modifiers, where the rules allow that too.
std::vector<gen::KernelSpec> kernels_of(const std::vector<gen::KernelSpec>& tiles) {
  const gen::DeviceDescription hopper = gen::DeviceDescription::for_arch(90);
  std::vector<gen::KernelSpec> kernels;
  for (const gen::KernelSpec& tile : tiles) {
    kernels.push_back(tile);
    gen::KernelSpec modified = tile;
    ProblemFeatures features = tile.features();
    features.ragged = features.window = features.softcap = features.alibi = true;
    modified.set_features(features);
    if (gen::spec_problems(modified, hopper).empty()) kernels.push_back(modified);
  }
  return kernels;
}

struct Outcome {
  std::string line;  // what to print
  bool ok = false;
  bool trades_registers = false;
  std::string cubin_file;  // under the output directory, when ok
};

Outcome compile_and_check(const gen::KernelSpec& spec, const std::string& out_dir) {
  Outcome outcome;
  const std::string key = gen::canonical_key(spec);
  auto emitted = gen::emit(spec);
  if (!emitted) {
    outcome.line = "FAIL " + key + ": " + llvm::toString(emitted.takeError());
    return outcome;
  }
  auto compiled = cuda::compile_kernel(*emitted, spec);
  if (!compiled) {
    outcome.line = "FAIL " + key + ": " + llvm::toString(compiled.takeError());
    return outcome;
  }
  const int registers = compiled->resources.registers;
  const int required = gen::entry_registers(spec);
  if (llvm::Error err = cuda::check_entry_registers(spec, registers)) {
    outcome.line = "FAIL " + llvm::toString(std::move(err));
    return outcome;
  }
  outcome.cubin_file = key + ".cubin";
  std::ofstream cubin(out_dir + "/" + outcome.cubin_file, std::ios::binary);
  cubin.write(compiled->cubin.data(), static_cast<std::streamsize>(compiled->cubin.size()));
  if (!cubin) {
    outcome.line = "FAIL " + key + ": cannot write " + out_dir + "/" + outcome.cubin_file;
    return outcome;
  }
  outcome.ok = true;
  outcome.trades_registers = required != 0;
  outcome.line = "ok   " + key + ": " + std::to_string(registers) + " registers" +
                 (required != 0 ? " (exactly what its setmaxnreg counts assume)" : " (no setmaxnreg: ptxas picks)");
  return outcome;
}

int run(const std::string& out_dir, unsigned jobs) {
  if (std::error_code ec = llvm::sys::fs::create_directories(out_dir)) {
    std::fprintf(stderr, "cannot create %s: %s\n", out_dir.c_str(), ec.message().c_str());
    return 1;
  }
  const std::vector<gen::KernelSpec> tiles = allowed_tiles();
  const std::vector<gen::KernelSpec> kernels = kernels_of(tiles);
  const bool some_trade = std::any_of(kernels.begin(), kernels.end(),
                                      [](const gen::KernelSpec& s) { return gen::entry_registers(s) != 0; });
  const bool some_modified = std::any_of(kernels.begin(), kernels.end(),
                                         [](const gen::KernelSpec& s) { return s.features().any_modifier(); });
  // A check over nothing proves nothing: the rules must allow kernels, some that use setmaxnreg, and
  // kernels with modifiers.
  if (kernels.empty() || !some_trade || !some_modified) {
    std::fprintf(stderr, "FAIL: the rules allow %zu wgmma_sm90 kernels on sm_90, %s trading registers, %s with modifiers\n",
                 kernels.size(), some_trade ? "some" : "none", some_modified ? "some" : "none");
    return 1;
  }
  std::printf("%zu wgmma_sm90 tiles the rules allow: %zu kernels with and without modifiers, compiled on %u threads\n",
              tiles.size(), kernels.size(), jobs);
  std::fflush(stdout);

  std::vector<Outcome> outcomes(kernels.size());
  std::atomic<size_t> next{0};
  std::mutex print;
  auto worker = [&] {
    for (size_t i = next++; i < kernels.size(); i = next++) {
      outcomes[i] = compile_and_check(kernels[i], out_dir);
      std::lock_guard<std::mutex> lock(print);
      std::printf("%s\n", outcomes[i].line.c_str());
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();

  std::ofstream list(out_dir + "/kernels.txt");
  size_t failed = 0;
  for (const Outcome& o : outcomes) {
    if (!o.ok) {
      ++failed;
      continue;
    }
    list << o.cubin_file << ' ' << (o.trades_registers ? 1 : 0) << '\n';
  }
  if (!list) {
    std::fprintf(stderr, "FAIL: cannot write %s/kernels.txt\n", out_dir.c_str());
    return 1;
  }
  if (failed > 0) {
    std::printf("FAIL: %zu of %zu kernels do not have the registers their budget assumes (lines above)\n", failed,
                kernels.size());
    return 1;
  }
  std::printf("every one of the %zu kernels has the registers its budget assumes\n", kernels.size());
  return 0;
}

}  // namespace
}  // namespace flashjit

int main(int argc, char** argv) {
  std::string out_dir;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (arg == "--jobs" && i + 1 < argc) {
      jobs = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else {
      std::fprintf(stderr, "usage: flashjit_wgmma_tile_registers --out DIR [--jobs N] (unknown argument '%s')\n",
                   arg.c_str());
      return 2;
    }
  }
  if (out_dir.empty()) {
    std::fprintf(stderr, "usage: flashjit_wgmma_tile_registers --out DIR [--jobs N]\n");
    return 2;
  }
  return flashjit::run(out_dir, jobs);
}
