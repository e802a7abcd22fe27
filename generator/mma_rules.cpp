// Rules of the tensor-core variants mma_sm80 (mma.m16n8k16, cp.async ring) and mma_sm75 (two
// mma.m16n8k8 per k16 step, synchronous copies), both made by templates/mma_forward.cuh. The
// shared-memory formula and the tile constraints mirror that template's MmaShape.
#include <llvm/Support/FormatVariadic.h>

#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"

namespace flashjit::gen {
namespace {

// Registers ptxas may use per thread under __launch_bounds__(threads, 1) with <= 256 threads.
constexpr int kRegisterBudget = 255;
// Registers besides the S and O accumulators: fragments, addresses, softmax state. Measured with
// ptxas (NVRTC 13.0; sm_75, sm_80, sm_90; both masks) over the tile grid at every head dim: up to
// 160 accumulators compiled without spills (at 240 to 255 registers) with one or two 16-row tiles
// per warp, from 192 on every configuration spilled. (Before the mask became a compile-time
// choice per block, two tiles with 160 spilled when causal: mask state held registers in every
// block.) tests/codegen/mma_sm80_no_spills.check and mma_sm75_no_spills.check keep the default
// tiles honest.
constexpr int kFixedRegisters = kRegisterBudget - 160;
// What a kernel with a ragged batch or score modifiers (issue 14) keeps besides: the sequence's
// lengths, the window's bounds per warp and row, the ALiBi slope and the softcap, and the softcap's
// tanh in flight. Measured with ptxas (NVRTC 13.0; sm_75, sm_80, sm_86, sm_90): at 160 accumulators
// (d 128's m128n32w4) a window, softcap or ALiBi alone took 245-253 registers, a causal ragged batch
// 253-255 (16 bytes spilled on sm_75), every modifier at once spilled 4-40 bytes; at the defaults
// these rules give (every head dim, 144 accumulators at most: d 112's m128n32w4) nothing spilled. So
// the `_modified` kernels keep 16 fewer accumulators, and d 128 takes eight warps of one 16-row
// tile (m128n64w8; m128n32w8 in Turing's 64 KB) by default.
constexpr int kModifierRegisters = 16;

int padded_dim(int head_dim) { return (head_dim + 15) / 16 * 16; }

// templates/mma_tile_layout.cuh: 16-byte chunks per row, swizzled when a multiple of 8, else
// padded by one chunk.
int row_bytes(int head_dim) {
  const int chunks = padded_dim(head_dim) / 8;
  return (chunks % 8 == 0 ? chunks : chunks + 1) * 16;
}

int mma_shared_memory_bytes(const KernelSpec& s) {
  return (s.block_m + 2 * s.stages * s.block_n) * row_bytes(s.head_dim);
}

int m_tiles(const KernelSpec& s) { return s.block_m / s.warps / 16; }

// fp32 accumulators per thread: S (16 x block_n per 16-row tile) and O (16 x padded head_dim).
int accumulator_registers(const KernelSpec& s) {
  return m_tiles(s) * (s.block_n / 2 + padded_dim(s.head_dim) / 2);
}

int fixed_registers(const KernelSpec& s) {
  return kFixedRegisters + (s.features().any_modifier() ? kModifierRegisters : 0);
}

int estimated_registers(const KernelSpec& s) { return accumulator_registers(s) + fixed_registers(s); }

// "16 or 32", "64 or 128", "128": the block_m values legal with `warps` warps.
std::string legal_block_m(int warps) {
  if (32 * warps <= 128) return llvm::formatv("{0} or {1}", 16 * warps, 32 * warps);
  return std::to_string(16 * warps);
}

std::vector<std::string> tile_problems(const KernelSpec& s, int max_stages) {
  const char* name = variant_name(s.variant);
  std::vector<std::string> p;
  if (s.warps != 1 && s.warps != 2 && s.warps != 4 && s.warps != 8)
    p.push_back(llvm::formatv("{0} takes 1, 2, 4 or 8 warps, not {1}", name, s.warps));
  else if (s.block_m > 128)
    p.push_back(llvm::formatv("{0} block_m {1} is over 128: a query block that tall leaves too few blocks to "
                              "fill the GPU at common lengths", name, s.block_m));
  else if (s.block_m != 16 * s.warps && s.block_m != 32 * s.warps)
    p.push_back(llvm::formatv("{0} block_m {1} must be 16 or 32 rows per warp: {2} with {3} warp{4}", name,
                              s.block_m, legal_block_m(s.warps), s.warps, s.warps == 1 ? "" : "s"));
  if (s.block_n != 16 && s.block_n != 32 && s.block_n != 64 && s.block_n != 128)
    p.push_back(llvm::formatv("{0} block_n {1} must be 16, 32, 64 or 128", name, s.block_n));
  if (s.stages < 1 || s.stages > max_stages)
    p.push_back(llvm::formatv("{0} stages {1} must be 1..{2}", name, s.stages, max_stages));
  if (p.empty() && estimated_registers(s) > kRegisterBudget)
    p.push_back(llvm::formatv("{0} tile m{1}n{2}w{3} at head_dim {4} keeps {5} fp32 accumulators in {6} 16-row "
                              "tile{7} per warp, over the {8} that fit in registers without spills{9}",
                              name, s.block_m, s.block_n, s.warps, s.head_dim, accumulator_registers(s),
                              m_tiles(s), m_tiles(s) == 1 ? "" : "s", kRegisterBudget - fixed_registers(s),
                              s.features().any_modifier() ? " beside a ragged batch's or score modifiers' state" : ""));
  return p;
}

// cp.async needs sm_80; Turing's ring is synchronous, so stages beyond 2 only cost shared memory.
std::vector<std::string> sm80_tile_problems(const KernelSpec& s) { return tile_problems(s, 4); }
std::vector<std::string> sm75_tile_problems(const KernelSpec& s) { return tile_problems(s, 2); }

std::string sm75_arch(int arch, DType dtype) {
  if (arch < 75)
    return llvm::formatv("mma_sm75 needs compute capability 7.5 (Turing) or newer, not sm_{0} (mma.m16n8k8 and "
                         "ldmatrix start at sm_75; Volta's m8n8k4 tensor cores are mma_sm70's)",
                         arch);
  if (dtype != DType::f16) return llvm::formatv("mma_sm75 computes f16 only, not {0}", dtype_name(dtype));
  return {};
}

std::string sm80_arch(int arch, DType dtype) {
  if (arch < 80) return llvm::formatv("mma_sm80 needs compute capability 8.0 (Ampere) or newer, not sm_{0}", arch);
  if (dtype == DType::f32) return "mma_sm80 computes f16 and bf16, not f32";
  return {};
}

// The tuner's search space: 16 or 32 rows per warp with 4 or 8 warps (64 or 128 query rows), every
// key tile, and the stage counts worth their shared memory. Tiles over a device's limits or the
// register budget stay in on purpose: the tuner prunes them and says why. Most promising first
// (the order the default list reasons about: 128 rows with two tiles per warp, then 8 warps, then
// 64 rows; 64-key tiles before 32 and 128), so `max_candidates` keeps the likely winners.
std::vector<KernelSpec> grid(const KernelSpec& base, std::initializer_list<int> stage_counts) {
  std::vector<KernelSpec> out;
  for (auto [block_m, warps] : {std::pair{128, 4}, std::pair{128, 8}, std::pair{64, 4}})
    for (int block_n : {64, 32, 128})
      for (int stages : stage_counts) out.push_back(with_tile(base, block_m, block_n, warps, stages));
  return out;
}
std::vector<KernelSpec> sm80_grid(const KernelSpec& base) { return grid(base, {2, 3}); }
std::vector<KernelSpec> sm75_grid(const KernelSpec& base) { return grid(base, {1, 2}); }

// The heuristic default, best first; the selector takes the first that fits the device's shared
// memory and the register budget. 128 query rows per block, as FlashAttention-2 uses, with two
// 16-row tiles per warp where the accumulators fit: each K/V fragment a warp loads from shared
// memory then feeds two mma, and shared-memory reads, not the tensor cores, bound one tile per
// warp (bench/PERFORMANCE.md, step 2). So 64-key blocks up to d 96, 32-key blocks up to d 128,
// then eight warps of one tile; smaller tiles where shared memory is short (sm_86/89 have 99 KB,
// Turing 64 KB).
std::vector<KernelSpec> preferred(const KernelSpec& base, int stages) {
  return {with_tile(base, 128, 64, 4, stages), with_tile(base, 128, 32, 4, stages),
          with_tile(base, 128, 64, 8, stages), with_tile(base, 128, 32, 8, stages),
          with_tile(base, 64, 64, 4, stages),  with_tile(base, 64, 32, 4, stages),
          with_tile(base, 64, 16, 4, stages)};
}
// Two stages on both: cp.async overlaps the next block with this one on sm_80; on Turing the second
// slot saves the barrier that would otherwise precede every load.
std::vector<KernelSpec> two_stage_preferred(const KernelSpec& base) { return preferred(base, 2); }

// What both variants share: the template's tile layout, shared memory and preferences, issue 14's
// ragged batches, windows, softcap and ALiBi (mma_forward.cuh's `_modified` entries) and issue 15's
// KV caches, pages and appends (its `_kvcache` entries, templates/mma_kv_cache.cuh).
VariantRules mma_rules() {
  VariantRules r;
  r.modifiers = {true, true, true, true, true, true, true};
  r.shared_memory_bytes = mma_shared_memory_bytes;
  r.preferred_tiles = two_stage_preferred;
  r.shared_bytes_of = "::flashjit::dev::MmaShape";
  return r;
}

}  // namespace

const VariantRules& mma_sm75_rules() {
  static const VariantRules rules = [] {
    VariantRules r = mma_rules();
    r.variant = Variant::mma_sm75;
    r.name = "mma_sm75";
    r.usable_reason = "tensor cores through mma.sync m16n8k8";
    r.arch_problem = sm75_arch;
    r.tile_problems = sm75_tile_problems;
    r.tile_grid = sm75_grid;
    r.template_file = "mma_sm75_forward.cuh";
    r.kernel_template = "flashjit::dev::mma_sm75_forward";
    return r;
  }();
  return rules;
}

const VariantRules& mma_sm80_rules() {
  static const VariantRules rules = [] {
    VariantRules r = mma_rules();
    r.variant = Variant::mma_sm80;
    r.name = "mma_sm80";
    r.usable_reason = "tensor cores through mma.sync m16n8k16 with a cp.async pipeline";
    r.arch_problem = sm80_arch;
    r.tile_problems = sm80_tile_problems;
    r.tile_grid = sm80_grid;
    r.template_file = "mma_sm80_forward.cuh";
    r.kernel_template = "flashjit::dev::mma_sm80_forward";
    return r;
  }();
  return rules;
}

}  // namespace flashjit::gen
