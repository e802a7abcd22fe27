// How wgmma_sm90's warpgroups share the SM's registers (templates/warpgroup_register_budget.cuh, the
// one place its launch bounds and setmaxnreg counts come from), the generator's count of the
// registers a kernel must start with (gen::entry_registers, which the generated shell checks against
// the template's), and the check the runtime makes with it after compiling a kernel and after loading
// its module (cuda::check_entry_registers): a kernel whose register count is not what its setmaxnreg
// counts assume is refused, because launched its consumer warpgroups could wait forever.
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "cuda/entry_registers.h"
#include "generator/kernel_spec.h"
#include "generator/variant_rules.h"
#include "helpers/errors.h"
#include "unit/rules_test_support.h"
#include "warpgroup_register_budget.cuh"

namespace flashjit {
namespace {

using dev::WarpgroupRegisterBudget;

// Two consumer warpgroups: 384 threads start with 65536 / 384 = 170, in whole units of 8 168; the
// producer keeps 24 and frees 128 x 144 = 18432 registers, exactly the 256 x 72 the consumers need to
// go from 168 to 240. These are the counts of the PTX (tests/codegen/wgmma_ptx.check).
TEST(WarpgroupRegisterBudget, TwoConsumerWarpgroupsTakeWhatTheProducerFrees) {
  using Budget = WarpgroupRegisterBudget<2>;
  EXPECT_EQ(Budget::kThreads, 384);
  EXPECT_EQ(Budget::kLaunchRegisters, 168);
  EXPECT_EQ(Budget::kProducerRegisters, 24);
  EXPECT_EQ(Budget::kConsumerRegisters, 240);
  EXPECT_TRUE(Budget::kRebalances);
  EXPECT_EQ(Budget::kEntryRegisters, 168);
  EXPECT_EQ(128 * (168 - 24), 256 * (240 - 168));
}

// One consumer warpgroup: 256 threads already start with the 256 a thread may hold, so nothing is
// traded and ptxas picks the count.
TEST(WarpgroupRegisterBudget, OneConsumerWarpgroupTradesNothing) {
  using Budget = WarpgroupRegisterBudget<1>;
  EXPECT_EQ(Budget::kThreads, 256);
  EXPECT_EQ(Budget::kLaunchRegisters, 256);
  EXPECT_FALSE(Budget::kRebalances);
  EXPECT_EQ(Budget::kEntryRegisters, 0);
}

// The derivation holds for a block the rules do not allow yet (three consumer warpgroups, 512
// threads): 128 each at launch, and what the producer frees (128 x 104) covers the consumers' 160
// (384 x 32), the requests rounded down to units of 8.
TEST(WarpgroupRegisterBudget, ThreeConsumerWarpgroupsStillBalance) {
  using Budget = WarpgroupRegisterBudget<3>;
  EXPECT_EQ(Budget::kLaunchRegisters, 128);
  EXPECT_EQ(Budget::kConsumerRegisters, 160);
  EXPECT_EQ(Budget::kEntryRegisters, 128);
  EXPECT_LE(Budget::kConsumerThreads * (Budget::kConsumerRegisters - Budget::kLaunchRegisters),
            Budget::kProducerThreads * (Budget::kLaunchRegisters - Budget::kProducerRegisters));
}

// The error's message, or "" when it passes.
std::string refusal(llvm::Error error) { return error ? llvm::toString(std::move(error)) : std::string(); }

gen::KernelSpec wgmma_tile(int block_m) {
  return gen::tile_spec(Variant::wgmma_sm90, 90, 128, block_m, 64, 4 * (1 + block_m / 64), 2);
}

// The generator counts what the template derives, for every number of consumer warpgroups (the
// generated shell checks the same for each kernel it emits).
TEST(EntryRegisters, TheGeneratorCountsWhatTheTemplateDerives) {
  EXPECT_EQ(gen::entry_registers(wgmma_tile(64)), WarpgroupRegisterBudget<1>::kEntryRegisters);
  EXPECT_EQ(gen::entry_registers(wgmma_tile(128)), WarpgroupRegisterBudget<2>::kEntryRegisters);
  EXPECT_EQ(gen::entry_registers(wgmma_tile(192)), WarpgroupRegisterBudget<3>::kEntryRegisters);
  EXPECT_EQ(gen::entry_registers(wgmma_tile(256)), WarpgroupRegisterBudget<4>::kEntryRegisters);
}

TEST(EntryRegisters, OnlyWgmmaKernelsThatTradeRegistersRequireACount) {
  EXPECT_EQ(gen::entry_registers(wgmma_tile(128)), 168);
  EXPECT_EQ(gen::entry_registers(wgmma_tile(64)), 0);
  EXPECT_EQ(gen::entry_registers(gen::tile_spec(Variant::mma_sm80, 80, 128, 128, 64, 8, 2)), 0);
  EXPECT_EQ(gen::entry_registers(gen::tile_spec(Variant::generic, 90, 128, 32, 32, 4, 1)), 0);
  EXPECT_STREQ(gen::rules_for(Variant::wgmma_sm90).entry_registers_of, "::flashjit::dev::WgmmaShape");
}

TEST(EntryRegisters, AKernelWithTheCountItsSetmaxnregAssumesRuns) {
  EXPECT_EQ(refusal(cuda::check_entry_registers(wgmma_tile(128), 168)), "");
}

// Fewer registers than assumed: the producer frees less than the consumers wait for (a hang); more:
// 384 threads would not even fit the register file.
TEST(EntryRegisters, AnyOtherCountIsRefusedNamingTheKernelAndBothCounts) {
  const gen::KernelSpec spec = wgmma_tile(128);
  for (int registers : {160, 176, 255}) {
    const std::string message =
        flashjit::testing::message_of(cuda::check_entry_registers(spec, registers), ErrorCode::unsupported);
    EXPECT_EQ(message, "kernel " + gen::canonical_key(spec) + " has " + std::to_string(registers) +
                           " registers per thread, but its setmaxnreg counts assume exactly 168 "
                           "(templates/warpgroup_register_budget.cuh): with another count its consumer warpgroups "
                           "may wait forever for registers, so it is not run");
  }
}

TEST(EntryRegisters, KernelsThatTradeNoRegistersRunWithAnyCount) {
  for (int registers : {40, 117, 168, 255}) {
    EXPECT_EQ(refusal(cuda::check_entry_registers(wgmma_tile(64), registers)), "");
    EXPECT_EQ(refusal(cuda::check_entry_registers(gen::tile_spec(Variant::mma_sm80, 80, 128, 128, 64, 8, 2), registers)),
              "");
  }
}

}  // namespace
}  // namespace flashjit
