// The generic template's KV-cache entry (generic_forward_kvcache, issue 15) as the generator emits it,
// compiled by the real NVRTC, no GPU needed: dense and paged caches, with and without appends, ragged queries with every
// score modifier, three dtypes, for Maxwell (NVRTC 12.9 and 11.8) and Turing and Hopper (13.0); no
// spills or stack. Its arithmetic is checked under the emulation
// (tests/emulation/generic_kv_cache_emulation_test.cpp).
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "cuda/nvrtc_compiler.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "cuda/nvrtc_choice.h"
#include "unit/nvrtc_test_support.h"

namespace flashjit::cuda {
namespace {

struct Cache {
  bool paged;
  bool append;
  bool modifiers;  // ragged queries, a window, softcap and ALiBi
};

// The generator's kernel for a KV-cache problem (its `_kvcache` entry and traits), on the generic
// default tile.
gen::KernelSpec kv_spec(DType dtype, int head_dim, const Cache& c, int arch) {
  gen::KernelSpec spec;
  spec.variant = Variant::generic;
  spec.arch = arch;
  spec.dtype = dtype;
  spec.head_dim = head_dim;
  spec.mask = MaskKind::causal;
  spec.kv_cache = true;
  spec.paged = c.paged;
  spec.append = c.append;
  spec.ragged = spec.window = spec.softcap = spec.alibi = c.modifiers;
  return gen::with_tile(spec, 32, 32, 4, 1);
}

gen::EmittedKernel kv_kernel(const gen::KernelSpec& spec) {
  auto kernel = gen::emit(spec);
  if (!kernel) {
    ADD_FAILURE() << llvm::toString(kernel.takeError());
    return {};
  }
  return *kernel;
}

// The shell declares the cache's traits and takes KvCacheParams third.
TEST(GenericKvCacheKernel, TheGeneratorEmitsTheKvCacheEntry) {
  const gen::EmittedKernel paged = kv_kernel(kv_spec(DType::bf16, 128, Cache{true, true, false}, 90));
  EXPECT_NE(paged.source.find("  static constexpr bool kKvCache = true;\n  static constexpr bool kPaged = true;\n"
                              "  static constexpr bool kAppend = true;\n"),
            std::string::npos);
  EXPECT_NE(paged.source.find("template __global__ void flashjit::dev::generic_forward_kvcache<::flashjit_generated::"
                              "KernelTraits>(const ::flashjit::AttentionParams, const ::flashjit::ScoreModParams, "
                              "const ::flashjit::KvCacheParams);"),
            std::string::npos);
  EXPECT_EQ(paged.name_expression, "&flashjit::dev::generic_forward_kvcache<::flashjit_generated::KernelTraits>");
  EXPECT_EQ(paged.key, "generic_sm90_bf16_d128_m32n32w4s1_causal_kvcache_paged_append");
  const gen::EmittedKernel dense = kv_kernel(kv_spec(DType::bf16, 128, Cache{false, false, false}, 90));
  EXPECT_NE(dense.source.find("  static constexpr bool kPaged = false;\n  static constexpr bool kAppend = false;\n"),
            std::string::npos);
}

void expect_compiles(const NvrtcLibrary* nvrtc, int arch) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16})
    for (const Cache& c : {Cache{false, false, false}, Cache{true, false, false}, Cache{true, true, true},
                           Cache{false, true, true}}) {
      const int head_dim = dtype == DType::f32 ? 64 : 128;
      const gen::KernelSpec spec = kv_spec(dtype, head_dim, c, arch);
      flashjit::testing::expect_compiles_cleanly(kv_kernel(spec), spec, nvrtc);
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

// The tensor-core variants' `_kvcache` entries at the selector's default tiles, with every modifier,
// pages and appends (the most state), or a plain paged decode; f16 and bf16, d 64 to 256, for
// Ampere and Hopper (mma_sm80) and Turing (mma_sm75): compiled by NVRTC 13 without spills or stack.
TEST(MmaKvCacheKernel, DefaultTilesCompileWithoutSpills) {
  struct Case {
    int arch;
    DType dtype;
    int head_dim;
    Cache cache;
  };
  const Cache plain{true, false, false}, full{true, true, true};
  for (const Case& c : {Case{80, DType::f16, 64, full}, Case{80, DType::bf16, 128, plain},
                        Case{80, DType::bf16, 256, full}, Case{90, DType::bf16, 128, full},
                        Case{75, DType::f16, 64, plain}, Case{75, DType::f16, 256, full}}) {
    const gen::KernelSpec features = kv_spec(c.dtype, c.head_dim, c.cache, c.arch);
    auto selection = gen::select_for_features(gen::DeviceDescription::for_arch(c.arch), features.features(),
                                              cuda::nvrtc_targets_for_arch(c.arch));
    ASSERT_TRUE(static_cast<bool>(selection)) << llvm::toString(selection.takeError());
    EXPECT_EQ(selection->spec.variant, c.arch == 75 ? Variant::mma_sm75 : Variant::mma_sm80)
        << gen::canonical_key(selection->spec);
    flashjit::testing::expect_compiles_cleanly(kv_kernel(selection->spec), selection->spec, nullptr);
  }
}

}  // namespace
}  // namespace flashjit::cuda
