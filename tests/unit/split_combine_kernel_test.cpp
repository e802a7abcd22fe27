// The split-KV combine kernel (templates/split_combine.cuh) compiled by the real NVRTC, no GPU
// needed: for every dtype, dense and ragged rows, at the head dims of both ends, for Maxwell (with
// NVRTC 12.9 and 11.8, which still target sm_50), Turing and Hopper (NVRTC 13): it compiles, spills
// nothing and needs no stack. Its arithmetic is checked under the emulation
// (tests/emulation/split_combine_emulation_test.cpp).
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_compiler.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "unit/nvrtc_test_support.h"

namespace flashjit::cuda {
namespace {

// The template with one traits struct and its instantiation, as a shell would emit it.
gen::EmittedKernel combine_kernel(DType dtype, int head_dim, bool ragged) {
  auto text = gen::expand_template("split_combine.cuh");
  if (!text) {
    ADD_FAILURE() << llvm::toString(text.takeError());
    return {};
  }
  gen::EmittedKernel k;
  k.key = std::string("split_combine_") + dtype_name(dtype) + "_d" + std::to_string(head_dim) + (ragged ? "_varlen" : "");
  k.source = *text + "\nstruct CombineTraits {\n  using Element = " + gen::element_type(dtype) +
             ";\n  static constexpr int kHeadDim = " + std::to_string(head_dim) +
             ";\n  static constexpr int kWarps = 4;\n  static constexpr bool kRagged = " + (ragged ? "true" : "false") +
             ";\n};\ntemplate __global__ void flashjit::dev::split_combine<CombineTraits>(const ::flashjit::AttentionParams, "
             "const ::flashjit::SplitPartials);\n";
  k.name_expression = "flashjit::dev::split_combine<CombineTraits>";
  return k;
}

gen::KernelSpec spec_for(int arch, DType dtype, int head_dim) {
  gen::KernelSpec spec;
  spec.variant = Variant::generic;
  spec.arch = arch;
  spec.dtype = dtype;
  spec.head_dim = head_dim;
  return spec;
}

void expect_compiles(const NvrtcLibrary* nvrtc, int arch) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16})
    for (int head_dim : {8, 256})
      for (bool ragged : {false, true}) {
        const gen::EmittedKernel kernel = combine_kernel(dtype, head_dim, ragged);
        const gen::KernelSpec spec = spec_for(arch, dtype, head_dim);
        flashjit::testing::expect_compiles_cleanly(kernel, spec, nvrtc);
      }
}

TEST(SplitCombineKernel, CompilesForTuringAndHopper) {
  expect_compiles(nullptr, 75);
  expect_compiles(nullptr, 90);
}

TEST(SplitCombineKernel, CompilesForMaxwellWithOlderNvrtcs) {
  FLASHJIT_REQUIRE_OLD_NVRTC(cu12, 12);
  FLASHJIT_REQUIRE_OLD_NVRTC(cu11, 11);
  expect_compiles(cu12, 50);
  expect_compiles(cu11, 50);
}

}  // namespace
}  // namespace flashjit::cuda
