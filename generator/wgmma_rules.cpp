// Rules of the Hopper variant wgmma_sm90 (templates/wgmma_sm90_forward.cuh): warp-specialized, one
// producer warpgroup feeding kBlockM / 64 consumer warpgroups through a ring of TMA-loaded K/V
// slots. The shared-memory formula and the tile constraints mirror the template's WgmmaShape.
#include <algorithm>

#include <llvm/Support/FormatVariadic.h>

#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"

namespace flashjit::gen {
namespace {

// The head dims the variant is generated and tested for, FlashAttention-3's; the template would
// take any multiple of 16 (padded to 64-column tiles), but others run on mma_sm80 until tested.
bool wgmma_head_dim(int head_dim) {
  return head_dim == 64 || head_dim == 96 || head_dim == 128 || head_dim == 192 || head_dim == 256;
}

std::string head_dim_message(int head_dim) {
  return llvm::formatv("wgmma_sm90 is generated for head dims 64, 96, 128, 192 and 256, not {0}", head_dim);
}

std::string head_dim_problem(int head_dim) {
  return wgmma_head_dim(head_dim) ? std::string() : head_dim_message(head_dim);
}

// Key-tile widths with a wgmma.mma_async shape in templates/wgmma_instructions.cuh.
bool wgmma_block_n(int block_n) { return block_n == 64 || block_n == 96 || block_n == 128 || block_n == 192; }

int padded_dim(int head_dim) { return (head_dim + 63) / 64 * 64; }

// 1024 bytes of alignment slack, Q, kStages K and V slots, and 2 + 3 * kStages mbarriers.
int wgmma_shared_memory_bytes(const KernelSpec& s) {
  const int row_bytes = padded_dim(s.head_dim) * 2;
  return 1024 + (s.block_m + 2 * s.stages * s.block_n) * row_bytes + 8 * (2 + 3 * s.stages);
}

// The registers per thread a block starts with (its share of the SM's 65536, in whole units of 8,
// at most 256), and whether the producer warpgroup gives its registers to the consumers with
// setmaxnreg (down to 24; they take what it frees, in units of 8, at most 256): only when they gain
// some, so with two consumer warpgroups (168 each at launch, 240 after) and not with one (256
// already). Then the kernel must start with exactly that many, or the consumers' setmaxnreg.inc waits
// forever. As templates/warpgroup_register_budget.cuh derives them; every generated shell checks
// that the two agree.
int wgmma_entry_registers(const KernelSpec& s) {
  const int consumer_threads = 128 * (s.block_m / 64);
  if (consumer_threads <= 0) return 0;
  const int threads = 128 + consumer_threads;
  const int at_launch = std::min(256, 65536 / threads / 8 * 8);
  const int consumers = std::min(256, (at_launch + 128 * (at_launch - 24) / consumer_threads) / 8 * 8);
  return consumers > at_launch ? at_launch : 0;
}

// A consumer thread holds O (padded head_dim / 2 fp32), S (block_n / 2) and P (block_n / 4 pairs)
// with 240 registers after setmaxnreg (168 before, with one consumer warpgroup 255).
constexpr int kConsumerRegisterBudget = 200;
// What a `_modified` kernel (issue 14) keeps beside them: the window's bounds, the ALiBi slope, the
// softcap and a row's ALiBi distance. Measured with ptxas (NVRTC 13.0) on every tile the rules allow,
// with a window, softcap and ALiBi: only d 256's m64n96 (200 accumulators) spilled (28 bytes).
constexpr int kModifierRegisters = 8;
int consumer_register_budget(const KernelSpec& s) {
  return kConsumerRegisterBudget - (s.features().any_modifier() ? kModifierRegisters : 0);
}
// O spans whole 64-column tiles (templates/wgmma_sm90_forward.cuh: d 96 keeps 128 columns).
int consumer_registers(const KernelSpec& s) { return padded_dim(s.head_dim) / 2 + s.block_n / 2 + s.block_n / 4; }

std::vector<std::string> tile_problems(const KernelSpec& s) {
  std::vector<std::string> p;
  if (!wgmma_head_dim(s.head_dim)) p.push_back(head_dim_message(s.head_dim));
  if (s.block_m != 64 && s.block_m != 128)
    p.push_back(llvm::formatv("wgmma_sm90 block_m {0} must be 64 or 128 (one or two 64-row consumer warpgroups)",
                              s.block_m));
  else if (s.warps != 4 * (1 + s.block_m / 64))
    p.push_back(llvm::formatv("wgmma_sm90 block_m {0} takes {1} warps (a producer warpgroup and {2} consumer "
                              "warpgroup{3}), not {4}",
                              s.block_m, 4 * (1 + s.block_m / 64), s.block_m / 64, s.block_m == 64 ? "" : "s",
                              s.warps));
  if (!wgmma_block_n(s.block_n))
    p.push_back(llvm::formatv("wgmma_sm90 block_n {0} must be 64, 96, 128 or 192", s.block_n));
  if (s.stages < 2 || s.stages > 4)
    p.push_back(llvm::formatv("wgmma_sm90 stages {0} must be 2..4", s.stages));
  if (p.empty() && consumer_registers(s) > consumer_register_budget(s))
    p.push_back(llvm::formatv("wgmma_sm90 tile n{0} at head_dim {1} keeps {2} accumulator registers per consumer "
                              "thread, over the {3} that fit beside the rest{4}",
                              s.block_n, s.head_dim, consumer_registers(s), consumer_register_budget(s),
                              s.features().any_modifier() ? " and the score modifiers' state" : ""));
  return p;
}

// The smallest K/V tile: a page must hold one, so that TMA loads a tile from whole boxes.
constexpr int kSmallestPage = 64;
// A decode's query rows (GQA-packed) fill less than one 64-row consumer warpgroup.
constexpr int kDecodeRows = 64;

// Issue 15: the prefill over a KV cache that TMA loads tile by tile, dense or chunked (ragged
// queries). A decode step (mma_sm80's decode path, with its 64-row tiles), appends (a modifier) and
// small pages run on mma_sm80.
std::string kv_cache_rule(const Problem& problem) {
  const ProblemShape& s = problem.shape();
  if (s.seqlen_q <= kDecodeRows)
    return llvm::formatv("a decode step's {0} query row{1} per KV head fill no 64-row wgmma tile: the decode path "
                         "is mma_sm80's",
                         s.seqlen_q, s.seqlen_q == 1 ? "" : "s");
  if (problem.features().paged && s.page_size < kSmallestPage)
    return llvm::formatv("wgmma_sm90 loads K/V tiles by TMA from pages of at least {0} keys, not {1} (mma_sm80 "
                         "reads smaller pages)",
                         kSmallestPage, s.page_size);
  return {};
}

// Beyond the architecture: an NVRTC that can target sm_90a, and tensors TMA can address.
std::string problem_rule(const Problem& problem, const CompilerTargets& targets) {
  if (targets.nvrtc_major < 12)
    return llvm::formatv("NVRTC {0} cannot target sm_90a (CUDA 12.0 or newer can)", targets.version());
  if (!problem.tma_addressable()) return "TMA cannot address these tensors (" + problem.tma_problem() + ")";
  if (problem.features().kv_cache) return kv_cache_rule(problem);
  return {};
}

std::string sm90_arch(int arch, DType dtype) {
  if (arch != 90)
    return llvm::formatv("wgmma_sm90 needs compute capability 9.0 exactly (wgmma and setmaxnreg exist only in "
                         "sm_90a), not sm_{0}",
                         arch);
  if (dtype == DType::f32) return "wgmma_sm90 computes f16 and bf16, not f32";
  return {};
}

KernelSpec with_tile(const KernelSpec& base, int block_m, int block_n, int stages) {
  KernelSpec spec = base;
  spec.block_m = block_m;
  spec.block_n = block_n;
  spec.warps = 4 * (1 + block_m / 64);
  spec.stages = stages;
  return spec;
}

// The tuner's search space, most promising first: two consumer warpgroups (128 rows) with wide
// key tiles, more stages where shared memory allows, then one consumer warpgroup. Tiles over the
// shared memory or register budget stay in: the tuner prunes them and says why.
std::vector<KernelSpec> tile_grid(const KernelSpec& base) {
  std::vector<KernelSpec> out;
  for (int block_m : {128, 64})
    for (int block_n : {128, 64, 192, 96})
      for (int stages : {2, 3}) out.push_back(with_tile(base, block_m, block_n, stages));
  return out;
}

// FlashAttention-3's shapes: 128 x 128 tiles up to d 128 (192-key tiles at d 64), 64-key tiles
// where O's accumulators take most registers (d 192 and 256); three stages where 227 KB holds them
// beside 128-key tiles, else two.
std::vector<KernelSpec> preferred_tiles(const KernelSpec& base) {
  return {with_tile(base, 128, 192, 2), with_tile(base, 128, 128, 3), with_tile(base, 128, 128, 2),
          with_tile(base, 128, 64, 3),  with_tile(base, 128, 64, 2),  with_tile(base, 64, 64, 2)};
}

}  // namespace

const VariantRules& wgmma_sm90_rules() {
  static const VariantRules rules = [] {
    VariantRules r;
    r.variant = Variant::wgmma_sm90;
    r.name = "wgmma_sm90";
    r.usable_reason = "Hopper wgmma with TMA loads and warp specialization";
    r.arch_specific = true;
    r.arch_problem = sm90_arch;
    r.head_dim_problem = head_dim_problem;
    r.problem_rule = problem_rule;
    // Ragged batches, windows, softcap and ALiBi: templates/wgmma_score_modifiers.cuh. A ragged call
    // that does not give its packed tensors' token counts (total_q, total_k) cannot have its tensor
    // maps sized: its Problem is not TMA-addressable, and problem_rule refuses it saying so.
    r.modifiers = {true, true, true, true};
    r.modifiers.ragged_condition = "when the call gives total_q and total_k, which size its TMA tensor maps";
    // Issue 15: the paged (or dense) cache of a prefill, unsplit, without appends
    // (templates/wgmma_kv_cache.cuh; kv_cache_rule says which calls).
    r.modifiers.kv_cache = true;
    r.modifiers.paged = true;
    r.modifiers.splits_keys = false;
    r.modifiers.kv_condition =
        "for a prefill (dense or ragged queries) over pages of 64 keys or more, that the GPU's SMs need not split";
    r.tile_problems = tile_problems;
    r.shared_memory_bytes = wgmma_shared_memory_bytes;
    r.tile_grid = tile_grid;
    r.preferred_tiles = preferred_tiles;
    r.template_file = "wgmma_sm90_forward.cuh";
    r.kernel_template = "flashjit::dev::wgmma_sm90_forward";
    r.shared_bytes_of = "::flashjit::dev::WgmmaShape";
    r.entry_registers = wgmma_entry_registers;
    r.entry_registers_of = "::flashjit::dev::WgmmaShape";
    r.parameters = ParameterBlock::tma;
    r.grid = GridKind::persistent;
    return r;
  }();
  return rules;
}

}  // namespace flashjit::gen
