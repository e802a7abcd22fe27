#define FLASHJIT_HOST_EMULATION 1
#include "emulation/cuda_emulation.h"

#include "emulation/emulated_attention.h"

#include <cstdint>
#include <limits>
#include <random>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "flashjit/numeric.h"
#include "emulation/tensor_map_emulation.h"
#include "runtime/launch_params.h"
#include "problem/tma_addressability.h"
#include "runtime/tensor_map_request.h"
#include "problem/problem_features.h"
#include "problem/validate.h"
#include "helpers/compare.h"
#include "helpers/naive_reference.h"

namespace flashjit::test {

namespace {

dim3 as_dim3(const unsigned (&v)[3]) { return dim3{v[0], v[1], v[2]}; }

// Validates the spec, normalizes the arguments, runs `launch` on them and compares the result
// with the reference.
template <class Launch>
void expect_launch_matches(const gen::KernelSpec& spec, const gen::DeviceDescription& device, HostProblem& problem,
                           Lse lse, const Launch& launch) {
  SCOPED_TRACE(problem.shape.name() + " with " + gen::canonical_key(spec));
  if (llvm::Error err = gen::validate_spec(spec, device)) {
    ADD_FAILURE() << llvm::toString(std::move(err));
    return;
  }
  if (lse == Lse::null) problem.args.lse = nullptr;
  Result<AttentionArgs> normalized = validate_args(problem.args);
  ASSERT_TRUE(normalized.ok()) << normalized.status().message();
  launch(*normalized);
  const ReferenceOutput ref = naive_attention(*normalized);
  EXPECT_TRUE(matches_reference(problem, ref, lse == Lse::written, kKernelLseTolerance));
  if (lse == Lse::null) {
    for (float value : problem.lse) ASSERT_EQ(value, kLsePoison) << "lse written although the lse pointer is null";
  }
}

}  // namespace

void expect_emulated_kernel_matches(EmulatedKernel kernel, const gen::KernelSpec& spec,
                                    const gen::DeviceDescription& device, HostProblem& problem, Lse lse) {
  expect_launch_matches(spec, device, problem, lse, [&](const AttentionArgs& args) {
    const AttentionParams params = make_params(args);
    const cuda::LaunchShape shape = launch_shape(spec, args);
    emulation::reset_ldmatrix_bank_stats();
    emulation::emulate_launch(kernel, as_dim3(shape.grid), as_dim3(shape.block), shape.dynamic_shared_bytes, params);
    // The tensor-core kernels' shared-memory rows are swizzled or padded so that every ldmatrix
    // phase reads 8 different bank groups (the generic kernel issues none: zero phases).
    const emulation::LdmatrixBankStats banks = emulation::ldmatrix_bank_stats();
    EXPECT_EQ(banks.extra_cycles, 0) << "ldmatrix bank conflicts: " << banks.extra_cycles
                                     << " extra requests over " << banks.phases << " phases";
  });
}

void expect_emulated_modified_kernel_matches(EmulatedModifiedKernel kernel, const gen::KernelSpec& spec,
                                             const gen::DeviceDescription& device, HostProblem& problem, Lse lse) {
  expect_launch_matches(spec, device, problem, lse, [&](const AttentionArgs& args) {
    const AttentionParams params = make_params(args);
    const ScoreModParams mods = make_score_mod_params(args);
    const cuda::LaunchShape shape = launch_shape(spec, args);
    emulation::reset_ldmatrix_bank_stats();
    emulation::emulate_launch(kernel, as_dim3(shape.grid), as_dim3(shape.block), shape.dynamic_shared_bytes, params,
                              mods);
    const emulation::LdmatrixBankStats banks = emulation::ldmatrix_bank_stats();
    EXPECT_EQ(banks.extra_cycles, 0) << "ldmatrix bank conflicts: " << banks.extra_cycles
                                     << " extra requests over " << banks.phases << " phases";
  });
}

void expect_emulated_modified_wgmma_kernel_matches(EmulatedModifiedWgmmaKernel kernel, const gen::KernelSpec& spec,
                                                   const gen::DeviceDescription& device, HostProblem& problem, Lse lse,
                                                   int persistent_blocks) {
  expect_launch_matches(spec, device, problem, lse, [&](const AttentionArgs& args) {
    const std::string layout = tma_layout_problem(args);
    ASSERT_TRUE(layout.empty()) << "the selector would not run wgmma_sm90 here: " << layout;
    auto encode = [](const TensorMapRequest& request) -> llvm::Expected<TensorMapBits> {
      return emulation::encode_tensor_map(request);
    };
    auto params = make_wgmma_params(spec, args, encode);
    ASSERT_TRUE(static_cast<bool>(params)) << llvm::toString(params.takeError());
    const ScoreModParams mods = make_score_mod_params(args);
    const cuda::LaunchShape shape = launch_shape(spec, args, persistent_blocks);
    emulation::emulate_launch(kernel, as_dim3(shape.grid), as_dim3(shape.block), shape.dynamic_shared_bytes, *params,
                              mods);
  });
}

void expect_emulated_wgmma_kernel_matches(EmulatedWgmmaKernel kernel, const gen::KernelSpec& spec,
                                          const gen::DeviceDescription& device, HostProblem& problem, Lse lse,
                                          int persistent_blocks) {
  expect_launch_matches(spec, device, problem, lse, [&](const AttentionArgs& args) {
    const std::string layout = tma_layout_problem(args);
    ASSERT_TRUE(layout.empty()) << "the selector would not run wgmma_sm90 here: " << layout;
    auto encode = [](const TensorMapRequest& request) -> llvm::Expected<TensorMapBits> {
      return emulation::encode_tensor_map(request);
    };
    auto params = make_wgmma_params(spec, args, encode);
    ASSERT_TRUE(static_cast<bool>(params)) << llvm::toString(params.takeError());
    const cuda::LaunchShape shape = launch_shape(spec, args, persistent_blocks);
    emulation::emulate_launch(kernel, as_dim3(shape.grid), as_dim3(shape.block), shape.dynamic_shared_bytes, *params);
  });
}

gen::KernelSpec emulated_spec(Variant variant, int arch, const ProblemShape& problem, int block_m, int block_n,
                              int warps, int stages) {
  gen::KernelSpec spec;
  spec.variant = variant;
  spec.arch = arch;
  spec.dtype = problem.dtype;
  spec.head_dim = problem.head_dim;
  spec.block_m = block_m;
  spec.block_n = block_n;
  spec.warps = warps;
  spec.stages = stages;
  spec.mask = problem.mask;
  // The features the runtime derives from the call's arguments (problem/problem_features.cpp).
  HostProblem sample = make_problem(problem);
  spec.set_features(features_of(sample.args));
  return spec;
}

ProblemShape strided(ProblemShape s, int head_padding, int seq_padding) {
  s.head_padding = head_padding;
  s.seq_padding = seq_padding;
  return s;
}

void relayout(HostProblem& p, Operand which, Strides strides) {
  AttentionArgs& a = p.args;
  std::vector<uint8_t>* buffer = &p.out;
  Strides* target = &a.out.strides;
  if (which == Operand::k) {
    buffer = &p.k;
    target = &a.k.strides;
  } else if (which == Operand::v) {
    buffer = &p.v;
    target = &a.v.strides;
  }
  const int seqlen = which == Operand::out ? a.seqlen_q : a.seqlen_k;
  const int heads = which == Operand::out ? a.num_heads : a.num_kv_heads;
  const int64_t elements =
      (a.batch - 1) * strides.batch + (seqlen - 1) * strides.seq + (heads - 1) * strides.head + a.head_dim;
  buffer->assign(static_cast<size_t>(elements) * dtype_size(p.shape.dtype), 0);
  std::mt19937 rng(static_cast<uint32_t>(elements));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < elements; ++i)
    store_from_float(buffer->data(), p.shape.dtype, i,
                     which == Operand::out ? std::numeric_limits<float>::quiet_NaN() : dist(rng));
  *target = strides;
  p.bind();
}

}  // namespace flashjit::test
