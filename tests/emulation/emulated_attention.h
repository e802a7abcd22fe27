// What the emulated-kernel tests share: the traits the generator's shell would define, and a check
// that launches a kernel template exactly as the CUDA backend would (parameter block and launch
// shape from the runtime's own make_params/launch_shape) and compares it with the double-precision
// reference. Include after emulation/cuda_emulation.h.
#pragma once

#include <string>

#include "flashjit/types.h"
#include "generator/device_description.h"
#include "generator/kernel_spec.h"
#include "helpers/test_problem.h"
#include "attention_params.cuh"
#include "numeric.cuh"
#include "score_modifier_params.cuh"
#include "tma_params.cuh"

namespace flashjit::test {

// The storage type the generator emits for a dtype (generator/emit.cpp, element_type).
template <DType kDType>
struct ElementOf;
template <>
struct ElementOf<DType::f32> {
  using type = float;
};
template <>
struct ElementOf<DType::f16> {
  using type = ::flashjit::dev::half_bits;
};
template <>
struct ElementOf<DType::bf16> {
  using type = ::flashjit::dev::bf16_bits;
};

// What the generated shell defines for one spec.
template <DType kDType, int kHeadDim_, int kBlockM_, int kBlockN_, int kWarps_, int kStages_, bool kCausal_>
struct EmulatedTraits {
  using Element = typename ElementOf<kDType>::type;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockM = kBlockM_;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kStages = kStages_;
  static constexpr bool kCausal = kCausal_;
};

// What the generated shell of a kernel with modifiers (issue 14) defines besides.
template <class Base, bool kWindow_, bool kSoftcap_, bool kAlibi_, bool kRagged_>
struct WithModifiers : Base {
  static constexpr bool kWindow = kWindow_;
  static constexpr bool kSoftcap = kSoftcap_;
  static constexpr bool kAlibi = kAlibi_;
  static constexpr bool kRagged = kRagged_;
};

enum class Lse { written, null };

// The spec the runtime would build for `problem` (dtype, head dim, mask, ragged batch and score
// modifiers) with this variant, target and tile.
gen::KernelSpec emulated_spec(Variant variant, int arch, const ProblemShape& problem, int block_m, int block_n,
                              int warps, int stages);

using EmulatedKernel = void (*)(AttentionParams);

// Validates `spec` against `device`, runs `kernel` (the instantiation for `spec`) on `problem`
// under the emulation, and checks output and lse against the reference (gtest failures).
void expect_emulated_kernel_matches(EmulatedKernel kernel, const gen::KernelSpec& spec,
                                    const gen::DeviceDescription& device, HostProblem& problem, Lse lse);

// A kernel's `_modified` entry, which takes the modifiers' parameters too (make_score_mod_params).
using EmulatedModifiedKernel = void (*)(AttentionParams, ScoreModParams);
void expect_emulated_modified_kernel_matches(EmulatedModifiedKernel kernel, const gen::KernelSpec& spec,
                                             const gen::DeviceDescription& device, HostProblem& problem, Lse lse);

using EmulatedWgmmaKernel = void (*)(WgmmaParams);

// The same for the wgmma_sm90 kernel: its parameters from the runtime's make_wgmma_params with the
// emulation's tensor-map encoder, its persistent grid from launch_shape with `persistent_blocks`
// standing in for the SM count (small, so each block walks several tiles).
void expect_emulated_wgmma_kernel_matches(EmulatedWgmmaKernel kernel, const gen::KernelSpec& spec,
                                          const gen::DeviceDescription& device, HostProblem& problem, Lse lse,
                                          int persistent_blocks);

using EmulatedModifiedWgmmaKernel = void (*)(WgmmaParams, ScoreModParams);
void expect_emulated_modified_wgmma_kernel_matches(EmulatedModifiedWgmmaKernel kernel, const gen::KernelSpec& spec,
                                                   const gen::DeviceDescription& device, HostProblem& problem, Lse lse,
                                                   int persistent_blocks);

// `s` with padding between heads and sequence rows.
ProblemShape strided(ProblemShape s, int head_padding, int seq_padding);

enum class Operand { k, v, out };

// Gives K, V or the output a layout of its own: a fresh buffer with `strides`, random for an input,
// NaN-poisoned for the output (as make_problem fills them).
void relayout(HostProblem& p, Operand which, Strides strides);

}  // namespace flashjit::test
