// From validated arguments to the kernel's parameter block and launch shape.
#pragma once

#include <functional>
#include <variant>

#include <llvm/Support/Error.h>

#include "attention_params.cuh"
#include "kv_cache_params.cuh"
#include "score_modifier_params.cuh"
#include "runtime/split_kv.h"
#include "flashjit/types.h"
#include "generator/kernel_spec.h"
#include "cuda/loaded_kernel.h"
#include "runtime/tensor_map_request.h"
#include "tma_params.cuh"

namespace flashjit {

// The host and device must agree on the parameter block's layout (nvptx64 and x86-64 lay these
// fields out identically; this guards against someone adding a field of another size).
static_assert(sizeof(AttentionParams) == 5 * 8 + 4 * 3 * 8 + 6 * 4 + 2 * 4, "AttentionParams layout changed");
static_assert(sizeof(TmaTensor) == 192 && sizeof(WgmmaParams) == 3 * 192 + 192, "WgmmaParams layout changed");

AttentionParams make_params(const AttentionArgs& normalized);

// The second parameter block of a kernel specialized on a ragged batch or a score modifier.
ScoreModParams make_score_mod_params(const AttentionArgs& normalized);

// The third of a kernel reading a KV cache (templates/kv_cache_params.cuh).
KvCacheParams make_kv_cache_params(const AttentionArgs& normalized);

// Turns the arguments of one cuTensorMapEncodeTiled call into the 128 bytes of a tensor map: the
// driver on a GPU (cuda::encode_tensor_map), the emulation's stand-in in tests.
using TensorMapEncoder = std::function<llvm::Expected<TensorMapBits>(const TensorMapRequest&)>;

// The wgmma_sm90 kernel's parameters: tensor maps of Q (boxes of 64 rows, one consumer
// warpgroup's), K and V (boxes of block_n rows).
llvm::Expected<WgmmaParams> make_wgmma_params(const gen::KernelSpec& spec, const AttentionArgs& normalized,
                                              const TensorMapEncoder& encode);

// The parameters of `spec`'s kernel, whichever variant: its parameter block, ScoreModParams for a
// kernel with modifiers, and KvCacheParams for one reading a KV cache. arguments() is what cuLaunchKernel takes (valid while this object lives
// where it is: it points into it).
class KernelParameters {
 public:
  explicit KernelParameters(const AttentionParams& p) : block_(p) {}
  explicit KernelParameters(const WgmmaParams& p) : block_(p) {}
  void set_score_mods(const ScoreModParams& mods) { mods_ = mods; has_mods_ = true; }
  void set_kv_cache(const KvCacheParams& kv) { kv_ = kv; has_kv_ = true; }
  // A split-KV call's partials in `workspace` (see runtime/split_kv.h).
  void set_split(const SplitKv& split, void* workspace) { set_split_partials(split, workspace, kv_); }
  void** arguments() {
    pointers_[0] = std::visit([](auto& block) -> void* { return &block; }, block_);
    pointers_[1] = has_mods_ ? &mods_ : nullptr;
    pointers_[2] = has_kv_ ? &kv_ : nullptr;
    return pointers_;
  }

 private:
  std::variant<AttentionParams, WgmmaParams> block_;
  ScoreModParams mods_{};
  KvCacheParams kv_{};
  bool has_mods_ = false;
  bool has_kv_ = false;
  void* pointers_[3] = {nullptr, nullptr, nullptr};
};
llvm::Expected<KernelParameters> make_kernel_parameters(const gen::KernelSpec& spec, const AttentionArgs& normalized,
                                                        const TensorMapEncoder& encode);

// The grid: one block per tile (times the splits of a split-KV call), except the persistent
// wgmma_sm90, which runs at most `persistent_blocks` blocks (the SM count; 0: one per tile) that
// loop over the tiles.
cuda::LaunchShape launch_shape(const gen::KernelSpec& spec, const AttentionArgs& normalized,
                               int persistent_blocks = 0, int splits = 1);

// The combine step of a split-KV call: one warp per partial row, the kernel's warps per block.
cuda::LaunchShape combine_launch_shape(const gen::KernelSpec& spec, const SplitKv& split);

// The symbol of the combine step in a KV-cache kernel's module (generator/emit.cpp writes it).
inline constexpr const char* kSplitCombineSymbol = "flashjit_split_combine";

}  // namespace flashjit
