// KernelSpec: everything that makes one generated kernel different from another: the problem
// features it is specialized on (ProblemFeatures: dtype, head dim, mask, ...), the variant, the
// target and the tiles. Its canonical key names the kernel symbol, the dump files and the cache row.
#pragma once

#include <string>
#include <vector>

#include "flashjit/types.h"
#include "generator/device_description.h"
#include "problem/problem_features.h"

namespace llvm {
class Error;
}

namespace flashjit::gen {

// The features are a base so that spec.dtype, spec.head_dim and spec.mask read as before.
struct KernelSpec : ProblemFeatures {
  Variant variant = Variant::generic;
  int arch = 90;               // target sm_XY as XY
  bool arch_specific = false;  // the "a" suffix (sm_90a): arch-specific features such as wgmma
  int block_m = 32;            // query rows per thread block
  int block_n = 32;            // key rows per K/V tile
  int warps = 4;
  int stages = 1;              // K/V tiles in flight
  // A KV-cache kernel's split-KV count the tuner chose for its problem key (0: runtime/split_kv's
  // heuristic at each launch). A launch setting, not part of the kernel's code: the kernel reads
  // its split count from its parameters, so canonical_key and the symbol leave it out.
  int splits = 0;

  const ProblemFeatures& features() const { return *this; }
  void set_features(const ProblemFeatures& features) { static_cast<ProblemFeatures&>(*this) = features; }

  bool operator==(const KernelSpec& other) const;
  // The features' order would compare two specs by their features alone.
  bool operator<(const KernelSpec& other) const = delete;
  bool operator!=(const KernelSpec& other) const { return !(*this == other); }
};

// "generic_sm90_f16_d128_m32n32w4s1_causal"; stable across versions for the same spec.
std::string canonical_key(const KernelSpec& spec);
// canonical_key with a tuned split count: "..._kvcache x8 splits" (the tuner's report rows).
std::string launch_key(const KernelSpec& spec);
// "sm_90" or "sm_90a"
std::string target_name(const KernelSpec& spec);

int threads_per_block(const KernelSpec& spec);
// Dynamic shared memory the kernel needs, in bytes.
int shared_memory_bytes(const KernelSpec& spec);
// `base` with this tile (the rules' tuning spaces and default lists build specs from one base).
KernelSpec with_tile(const KernelSpec& base, int block_m, int block_n, int warps, int stages);
// The registers per thread the kernel must have (its setmaxnreg counts assume them), or 0 when ptxas
// may pick (VariantRules::entry_registers).
int entry_registers(const KernelSpec& spec);

// Every reason the spec cannot be built or run within `limits` (empty when it can).
std::vector<std::string> spec_problems(const KernelSpec& spec, const DeviceDescription& limits);
// The same, as one error: "spec generic_sm90_...: block_n 24 is not a multiple of 32; ...".
llvm::Error validate_spec(const KernelSpec& spec, const DeviceDescription& limits);

}  // namespace flashjit::gen
