// wgmma_sm90's `_modified` kernels (issue 14: ragged batches, sliding windows, softcap, ALiBi) compiled with the real
// NVRTC (no GPU needed) at the default tiles of d 64, 128 and 256: each keeps the register count its
// setmaxnreg budget assumes (templates/warpgroup_register_budget.cuh; the runtime refuses any other),
// spills nothing, needs no stack and draws no ptxas advisory (a serialized wgmma). The modifiers'
// state sits beside accumulators that already fill the consumers' 240 registers: d 64's 192-key
// blocks spilled with a window and ALiBi until ALiBi's distances went to floats.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "cuda/entry_registers.h"
#include "cuda/nvrtc_compiler.h"
#include "generator/device_description.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "generator/selector.h"
#include "helpers/problems.h"

namespace flashjit::cuda {
namespace {

struct Modifiers {
  MaskKind mask;
  bool window;
  bool softcap;
  bool alibi;
  bool ragged = false;
};

gen::KernelSpec default_modified(int head_dim, DType dtype, const Modifiers& m) {
  ProblemFeatures f{dtype, head_dim, m.mask};
  f.window = m.window;
  f.softcap = m.softcap;
  f.alibi = m.alibi;
  f.ragged = m.ragged;
  auto spec = gen::default_spec(Variant::wgmma_sm90, gen::DeviceDescription::for_arch(90),
                                flashjit::testing::problem_with(f));
  if (!spec) {
    ADD_FAILURE() << llvm::toString(spec.takeError());
    return {};
  }
  return *spec;
}

TEST(WgmmaModifierKernels, DefaultTilesKeepTheirRegistersWithoutSpills) {
  // Every modifier together with a ragged batch (whose tile walk the consumers keep besides), a
  // window with ALiBi alone (the pair that spilled), and a ragged batch alone, in both masks.
  const std::vector<Modifiers> sets = {{MaskKind::causal, true, true, true, true},
                                       {MaskKind::none, true, false, true},
                                       {MaskKind::none, false, false, false, true}};
  for (int head_dim : {64, 128, 256})
    for (size_t i = 0; i < sets.size(); ++i) {
      const gen::KernelSpec spec = default_modified(head_dim, i % 2 == 0 ? DType::bf16 : DType::f16, sets[i]);
      const std::string key = gen::canonical_key(spec);
      ASSERT_TRUE(spec.features().any_modifier()) << key;
      auto emitted = gen::emit(spec);
      ASSERT_TRUE(static_cast<bool>(emitted)) << llvm::toString(emitted.takeError());
      auto compiled = compile_kernel(*emitted, spec);
      ASSERT_TRUE(static_cast<bool>(compiled)) << key << ": " << llvm::toString(compiled.takeError());
      EXPECT_NE(compiled->lowered_name.find("wgmma_sm90_forward_modified"), std::string::npos)
          << key << ": " << compiled->lowered_name;
      // 168: the share of 384 threads, which setmaxnreg's counts assume.
      EXPECT_EQ(compiled->resources.registers, 168) << key;
      if (llvm::Error err = check_entry_registers(spec, compiled->resources.registers))
        ADD_FAILURE() << llvm::toString(std::move(err));
      EXPECT_EQ(compiled->resources.spill_store_bytes, 0) << key;
      EXPECT_EQ(compiled->resources.spill_load_bytes, 0) << key;
      EXPECT_EQ(compiled->resources.stack_bytes, 0) << key;
      EXPECT_TRUE(compiled->resources.advisories.empty()) << key << ": " << compiled->resources.advisories.front();
    }
}

// Issue 15's `_kvcache` kernels (templates/wgmma_kv_cache.cuh): a paged and a dense cache under a
// prefill at d 64, 128 and 256, one with every score modifier, two with ragged queries, at the
// selector's tiles: the same
// register count, no spills, no stack, no advisory (the paged loads, the block-table reads and the
// clearing of V's rows past the keys sit beside the full accumulators).
TEST(WgmmaModifierKernels, KvCacheKernelsKeepTheirRegistersWithoutSpills) {
  for (int head_dim : {64, 128, 256})
    for (bool paged : {true, false}) {
      ProblemFeatures f{head_dim == 128 ? DType::f16 : DType::bf16, head_dim, paged ? MaskKind::causal : MaskKind::none};
      f.kv_cache = true;
      f.paged = paged;
      if (head_dim == 64 && paged) f.window = f.softcap = f.alibi = true;
      // A chunked prefill: ragged queries, whose tile walk reads the cache's counts.
      if (head_dim != 64 && paged) f.ragged = true;
      auto problem = Problem::of_shape(f, ProblemShape{2, 8, 2, 512, 4096, paged ? 128 : 0});
      ASSERT_TRUE(static_cast<bool>(problem)) << llvm::toString(problem.takeError());
      auto spec = gen::default_spec(Variant::wgmma_sm90, gen::DeviceDescription::for_arch(90), *problem);
      ASSERT_TRUE(static_cast<bool>(spec)) << llvm::toString(spec.takeError());
      const std::string key = gen::canonical_key(*spec);
      auto emitted = gen::emit(*spec);
      ASSERT_TRUE(static_cast<bool>(emitted)) << llvm::toString(emitted.takeError());
      auto compiled = compile_kernel(*emitted, *spec);
      ASSERT_TRUE(static_cast<bool>(compiled)) << key << ": " << llvm::toString(compiled.takeError());
      EXPECT_NE(compiled->lowered_name.find("wgmma_sm90_forward_kvcache"), std::string::npos)
          << key << ": " << compiled->lowered_name;
      if (llvm::Error err = check_entry_registers(*spec, compiled->resources.registers))
        ADD_FAILURE() << llvm::toString(std::move(err));
      EXPECT_EQ(compiled->resources.spill_store_bytes, 0) << key;
      EXPECT_EQ(compiled->resources.spill_load_bytes, 0) << key;
      EXPECT_EQ(compiled->resources.stack_bytes, 0) << key;
      EXPECT_TRUE(compiled->resources.advisories.empty()) << key << ": " << compiled->resources.advisories.front();
    }
}

}  // namespace
}  // namespace flashjit::cuda
