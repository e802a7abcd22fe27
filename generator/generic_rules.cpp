// Rules of the generic variant: plain CUDA with fp32 FMA, any compute capability >= 5.0.
// Its shared-memory layout is fixed by templates/generic_forward.cuh: an fp32 Q tile, one K/V tile
// (K and V take turns) padded by one column against bank conflicts, and the P tile.
#include <llvm/Support/FormatVariadic.h>

#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"

namespace flashjit::gen {
namespace {

// Per-thread fp32 values the kernel keeps in registers; above this ptxas starts to spill.
constexpr int kMaxLiveFloats = 128;

std::string arch_problem(int arch, DType) {
  if (arch < 50) return llvm::formatv("generic needs compute capability 5.0 or newer, not sm_{0}", arch);
  return {};
}

int live_floats(const KernelSpec& s) {
  const int rows = s.block_m / s.warps;
  const int dims_per_lane = (s.head_dim + 31) / 32;
  const int cols_per_lane = s.block_n / 32;
  return rows * (dims_per_lane + cols_per_lane + 2);
}

std::vector<std::string> tile_problems(const KernelSpec& s) {
  std::vector<std::string> p;
  if (s.warps != 1 && s.warps != 2 && s.warps != 4 && s.warps != 8)
    p.push_back(llvm::formatv("generic takes 1, 2, 4 or 8 warps, not {0}", s.warps));
  if (s.block_n % 32 != 0 || s.block_n > 128)
    p.push_back(llvm::formatv("generic block_n {0} must be 32, 64, 96 or 128 (one key column per lane)", s.block_n));
  if (s.block_m % s.warps != 0 || s.block_m > 128)
    p.push_back(llvm::formatv("generic block_m {0} must be a multiple of the {1} warps and at most 128",
                              s.block_m, s.warps));
  if (s.stages != 1)
    p.push_back(llvm::formatv("generic has no K/V pipeline: stages must be 1, not {0}", s.stages));
  if (p.empty() && live_floats(s) > kMaxLiveFloats)
    p.push_back(llvm::formatv("generic tile m{0}n{1}w{2} at head_dim {3} keeps {4} floats per thread, over the {5} that fit in registers without spills",
                              s.block_m, s.block_n, s.warps, s.head_dim, live_floats(s), kMaxLiveFloats));
  return p;
}

int generic_shared_memory_bytes(const KernelSpec& s) {
  const int floats = s.block_m * s.head_dim + s.block_n * (s.head_dim + 1) + s.block_m * s.block_n;
  return floats * 4;
}

// The tuner's search space: 8 to 64 query rows, one to four key columns per lane (block_n 32..128)
// and 1 to 8 warps. Combinations that are illegal or too big for a device stay in on purpose: the
// tuner prunes them with spec_problems and reports why, so this stays a plain grid.
std::vector<KernelSpec> tile_grid(const KernelSpec& base) {
  std::vector<KernelSpec> grid;
  for (int block_m : {8, 16, 32, 64}) {
    for (int block_n : {32, 64, 128}) {
      for (int warps : {1, 2, 4, 8}) {
        KernelSpec spec = base;
        spec.block_m = block_m;
        spec.block_n = block_n;
        spec.warps = warps;
        spec.stages = 1;
        grid.push_back(spec);
      }
    }
  }
  return grid;
}

// The largest query tile that fits: more rows per block reuse each K/V tile more, and the smaller
// fallbacks keep head_dim 256 within Pascal's 48 KB and Turing's 64 KB.
std::vector<KernelSpec> preferred_tiles(const KernelSpec& base) {
  std::vector<KernelSpec> out;
  for (int block_m : {32, 16, 8}) {
    KernelSpec spec = base;
    spec.block_m = block_m;
    spec.block_n = 32;
    spec.warps = 4;
    spec.stages = 1;
    out.push_back(spec);
  }
  return out;
}

}  // namespace

const VariantRules& generic_rules() {
  static const VariantRules rules = [] {
    VariantRules r;
    r.variant = Variant::generic;
    r.name = "generic";
    r.usable_reason = "plain CUDA with fp32 FMA; runs on any compute capability >= 5.0";
    r.arch_problem = arch_problem;
    // ragged, window, softcap, ALiBi; a KV cache, its pages and appends (templates/kv_cache.cuh)
    r.modifiers = {true, true, true, true, true, true, true};
    r.tile_problems = tile_problems;
    r.shared_memory_bytes = generic_shared_memory_bytes;
    r.tile_grid = tile_grid;
    r.preferred_tiles = preferred_tiles;
    r.template_file = "generic_forward.cuh";
    r.kernel_template = "flashjit::dev::generic_forward";
    r.shared_bytes_of = "::flashjit::dev::GenericShape";
    return r;
  }();
  return rules;
}

}  // namespace flashjit::gen
