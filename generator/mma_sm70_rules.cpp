// Rules of mma_sm70, Volta's tensor-core variant (mma.m8n8k4, synchronous copies), made by
// templates/mma_sm70_forward.cuh. The shared-memory formula and the tile constraints mirror that
// template's M8n8k4Shape: a warp owns 32 query rows (each quad pair an 8-row slab over the whole
// head dim) or 16 (two quad pairs per slab, each with half of the head dim).
#include <llvm/Support/FormatVariadic.h>

#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"

namespace flashjit::gen {
namespace {

// The fp32 S and O accumulators per thread that compile without spills within the 255 registers
// __launch_bounds__(threads, 1) allows; the rest go to fragments, addresses and softmax state.
// Measured with ptxas for sm_70 (NVRTC 11.8 and 12.9, both masks): the default tile of every head
// dim, up to 160 accumulators with either warp shape, takes 114 to 239 registers and spills
// nothing; m128n48w4 and m128n64w4 at d 128 (176 and 192) still fit (241-255 registers), so 160
// keeps a margin for ptxas versions. tests/codegen/mma_sm70_no_spills_*.check keep the defaults
// honest.
constexpr int kMaxAccumulators = 160;

int padded_dim(int head_dim) { return (head_dim + 15) / 16 * 16; }

// templates/mma_tile_layout.cuh: 16-byte chunks per row, swizzled when a multiple of 8, else
// padded by one chunk.
int row_bytes(int head_dim) {
  const int chunks = padded_dim(head_dim) / 8;
  return (chunks % 8 == 0 ? chunks : chunks + 1) * 16;
}

int sm70_shared_memory_bytes(const KernelSpec& s) { return (s.block_m + 2 * s.stages * s.block_n) * row_bytes(s.head_dim); }

int warp_rows(const KernelSpec& s) { return s.block_m / s.warps; }

// fp32 accumulators per thread: S is 8 per 8-key tile (block_n in all), O the quad pair's columns of
// its 8 rows over 8 lanes: the head dim with 32 rows per warp, half the padded head dim with 16.
int accumulator_registers(const KernelSpec& s) {
  const int o = warp_rows(s) == 32 ? s.head_dim : padded_dim(s.head_dim) / 2;
  return s.block_n + o;
}

std::vector<std::string> tile_problems(const KernelSpec& s) {
  std::vector<std::string> p;
  if (s.warps != 1 && s.warps != 2 && s.warps != 4 && s.warps != 8)
    p.push_back(llvm::formatv("mma_sm70 takes 1, 2, 4 or 8 warps, not {0}", s.warps));
  else if (s.block_m > 128)
    p.push_back(llvm::formatv("mma_sm70 block_m {0} is over 128: a query block that tall leaves too few blocks to "
                              "fill the GPU at common lengths", s.block_m));
  else if (s.block_m != 16 * s.warps && s.block_m != 32 * s.warps)
    p.push_back(llvm::formatv("mma_sm70 block_m {0} must be 16 or 32 rows per warp ({1} or {2} with {3} warp{4}): "
                              "a quad pair's 8-row slab per mma.m8n8k4",
                              s.block_m, 16 * s.warps, 32 * s.warps, s.warps, s.warps == 1 ? "" : "s"));
  if (s.block_n != 16 && s.block_n != 32 && s.block_n != 64 && s.block_n != 128)
    p.push_back(llvm::formatv("mma_sm70 block_n {0} must be 16, 32, 64 or 128", s.block_n));
  // Volta has no cp.async: the ring is synchronous, so stages beyond 2 only cost shared memory.
  if (s.stages < 1 || s.stages > 2) p.push_back(llvm::formatv("mma_sm70 stages {0} must be 1 or 2", s.stages));
  if (p.empty() && accumulator_registers(s) > kMaxAccumulators)
    p.push_back(llvm::formatv("mma_sm70 tile m{0}n{1}w{2} at head_dim {3} keeps {4} fp32 accumulators with {5} rows "
                              "per warp, over the {6} that fit in registers without spills",
                              s.block_m, s.block_n, s.warps, s.head_dim, accumulator_registers(s), warp_rows(s),
                              kMaxAccumulators));
  return p;
}

std::string arch_problem(int arch, DType dtype) {
  if (arch < 70)
    return llvm::formatv("mma_sm70 needs compute capability 7.0 (Volta) or newer, not sm_{0} (mma.m8n8k4 starts "
                         "at sm_70)",
                         arch);
  if (dtype == DType::bf16) return "mma_sm70 computes f16 only, not bf16 (Volta's tensor cores have no bf16)";
  if (dtype != DType::f16) return llvm::formatv("mma_sm70 computes f16 only, not {0}", dtype_name(dtype));
  return {};
}

// m8n8k4 is Volta's native shape. The PTX ISA: "mma.sync.m8n8k4 is optimized for target
// architecture sm_70 and may have substantially reduced performance on other target
// architectures"; ptxas turns it into shuffles and FFMAs on the CUDA cores from sm_80 on, and
// Turing runs mma_sm75's m16n8k8 natively. Forcing it there (a test of this kernel on a newer GPU)
// is allowed: the result is the same function.
std::string unforced_problem(int arch) {
  if (arch < 75) return {};
  return llvm::formatv("mma_sm70 is chosen on Volta only (sm_70, sm_72), not sm_{0}: mma.m8n8k4 is {1}; it runs "
                       "there only when forced",
                       arch, arch < 80 ? "slower than Turing's m16n8k8" : "emulated on the CUDA cores from sm_80 on");
}

// The tuner's search space: 32 rows per warp (4 warps: 128 rows, 2 warps: 64) and 16 rows per warp
// (8 warps: 128, 4 warps: 64), every key tile, one and two K/V slots. Tiles over the registers or
// Volta's shared memory stay in on purpose: the tuner prunes them and says why. The likely winners
// first, so `max_candidates` keeps them.
std::vector<KernelSpec> tile_grid(const KernelSpec& base) {
  std::vector<KernelSpec> out;
  for (auto [block_m, warps] : {std::pair{128, 4}, std::pair{128, 8}, std::pair{64, 2}, std::pair{64, 4}})
    for (int block_n : {64, 32, 128, 16})
      for (int stages : {2, 1}) out.push_back(with_tile(base, block_m, block_n, warps, stages));
  return out;
}

// The heuristic default, best first; the selector takes the first that fits the device's shared
// memory and the register budget. 128 query rows per block: 4 warps of 32 rows (each K/V fragment a
// lane loads then feeds the four quad pairs' products) with 64-key blocks up to d 96 and 32-key
// blocks up to d 128; then 8 warps of 16 rows (the head dim split between quad pairs) to d 192;
// then 64 rows where Volta's 96 KiB run short (d 200 to 256: 4 warps of 16 rows, 32-key blocks).
// Two slots: with synchronous copies the second saves the barrier before every load.
std::vector<KernelSpec> preferred_tiles(const KernelSpec& base) {
  return {with_tile(base, 128, 64, 4, 2), with_tile(base, 128, 32, 4, 2), with_tile(base, 128, 64, 8, 2),
          with_tile(base, 128, 32, 8, 2), with_tile(base, 64, 64, 4, 2),  with_tile(base, 64, 32, 4, 2),
          with_tile(base, 64, 16, 4, 2),  with_tile(base, 64, 16, 4, 1)};
}

}  // namespace

const VariantRules& mma_sm70_rules() {
  static const VariantRules rules = [] {
    VariantRules r;
    r.variant = Variant::mma_sm70;
    r.name = "mma_sm70";
    r.usable_reason = "Volta tensor cores through mma.sync m8n8k4";
    // Ragged batches, windows, softcap and ALiBi: mma_forward.cuh's main loop and this layout's softmax.
    r.modifiers = {true, true, true, true};
    r.arch_problem = arch_problem;
    r.unforced_problem = unforced_problem;
    r.tile_problems = tile_problems;
    r.shared_memory_bytes = sm70_shared_memory_bytes;
    r.tile_grid = tile_grid;
    r.preferred_tiles = preferred_tiles;
    r.template_file = "mma_sm70_forward.cuh";
    r.kernel_template = "flashjit::dev::mma_sm70_forward";
    r.shared_bytes_of = "::flashjit::dev::M8n8k4Shape";
    return r;
  }();
  return rules;
}

}  // namespace flashjit::gen
