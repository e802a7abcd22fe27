// The generic template's KV-cache entry (generic_forward_kvcache, issue 15) compiled by the real
// NVRTC, no GPU needed: dense and paged caches, with and without appends, ragged queries with every
// score modifier, three dtypes, for Maxwell (NVRTC 12.9 and 11.8) and Turing and Hopper (13.0); no
// spills or stack. Its arithmetic is checked under the emulation
// (tests/emulation/generic_kv_cache_emulation_test.cpp).
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "cuda/nvrtc_compiler.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "unit/nvrtc_test_support.h"

namespace flashjit::cuda {
namespace {

struct Cache {
  bool paged;
  bool append;
  bool modifiers;  // ragged queries, a window, softcap and ALiBi
};

// The shell a generator would write for a 64 x 32 tile of 4 warps (the generic default's shape).
gen::EmittedKernel kv_kernel(DType dtype, int head_dim, const Cache& c) {
  auto text = gen::expand_template("generic_forward.cuh");
  if (!text) {
    ADD_FAILURE() << llvm::toString(text.takeError());
    return {};
  }
  auto flag = [](bool on) { return on ? "true" : "false"; };
  gen::EmittedKernel k;
  k.key = std::string("generic_kvcache_") + dtype_name(dtype) + "_d" + std::to_string(head_dim) +
          (c.paged ? "_paged" : "") + (c.append ? "_append" : "") + (c.modifiers ? "_modifiers" : "");
  k.source = *text + "\nstruct KvTraits {\n  using Element = " + gen::element_type(dtype) +
             ";\n  static constexpr int kHeadDim = " + std::to_string(head_dim) +
             ";\n  static constexpr int kBlockM = 64;\n  static constexpr int kBlockN = 32;\n"
             "  static constexpr int kWarps = 4;\n  static constexpr bool kCausal = true;\n"
             "  static constexpr bool kWindow = " + flag(c.modifiers) + ";\n  static constexpr bool kSoftcap = " +
             flag(c.modifiers) + ";\n  static constexpr bool kAlibi = " + flag(c.modifiers) +
             ";\n  static constexpr bool kRagged = " + flag(c.modifiers) +
             ";\n  static constexpr bool kKvCache = true;\n  static constexpr bool kPaged = " + flag(c.paged) +
             ";\n  static constexpr bool kAppend = " + flag(c.append) +
             ";\n};\ntemplate __global__ void flashjit::dev::generic_forward_kvcache<KvTraits>(const ::flashjit::AttentionParams, "
             "const ::flashjit::ScoreModParams, const ::flashjit::KvCacheParams);\n";
  k.name_expression = "flashjit::dev::generic_forward_kvcache<KvTraits>";
  return k;
}

void expect_compiles(const NvrtcLibrary* nvrtc, int arch) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16})
    for (const Cache& c : {Cache{false, false, false}, Cache{true, false, false}, Cache{true, true, true},
                           Cache{false, true, true}}) {
      const int head_dim = dtype == DType::f32 ? 64 : 128;
      const gen::EmittedKernel kernel = kv_kernel(dtype, head_dim, c);
      gen::KernelSpec spec;
      spec.variant = Variant::generic;
      spec.arch = arch;
      spec.dtype = dtype;
      spec.head_dim = head_dim;
      flashjit::testing::expect_compiles_cleanly(kernel, spec, nvrtc);
    }
}

TEST(GenericKvCacheKernel, CompilesForTuringAndHopper) {
  expect_compiles(nullptr, 75);
  expect_compiles(nullptr, 90);
}

TEST(GenericKvCacheKernel, CompilesForMaxwellWithOlderNvrtcs) {
  FLASHJIT_REQUIRE_OLD_NVRTC(cu12, 12);
  FLASHJIT_REQUIRE_OLD_NVRTC(cu11, 11);
  expect_compiles(cu12, 50);
  expect_compiles(cu11, 50);
}

}  // namespace
}  // namespace flashjit::cuda
