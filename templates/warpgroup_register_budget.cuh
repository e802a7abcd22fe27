// How a warp-specialized block (wgmma_sm90_forward.cuh: one producer warpgroup, kConsumerWarpgroups
// consumer warpgroups, one block per SM) shares the SM's register file, derived in one place: the
// kernel's __launch_bounds__, its setmaxnreg counts, and the register count the host checks after
// loading the module (generator/wgmma_rules.cpp counts the same; the generated shell checks that the
// two agree).
//
// Why it must balance: setmaxnreg.inc (PTX ISA, "setmaxnreg") waits until the block's register pool
// holds what it asks for, and only setmaxnreg.dec puts registers there. In SASS the consumers spin in
// USETMAXREG.TRY_ALLOC until the producer's USETMAXREG.DEALLOC has run: if what the producer gives
// back does not cover what the consumers ask for, they spin forever. Both sides count from the
// registers every thread starts with, which ptxas takes from the launch bounds; a kernel compiled or
// loaded with another count hangs the same way, which is why that count is checked (the codegen
// test tests/codegen/wgmma_register_budget_main.cpp and, after every module load, the runtime).
#pragma once

namespace flashjit {
namespace dev {

template <int kConsumerWarpgroups>
struct WarpgroupRegisterBudget {
  static constexpr int kRegisterFile = 65536;  // 32-bit registers per SM (sm_90)
  // A thread's registers are allocated in units of 8 (256 per warp), and setmaxnreg takes multiples
  // of 8 in 24..256.
  static constexpr int kGranule = 8;
  static constexpr int kFewest = 24;
  static constexpr int kMost = 256;

  static constexpr int kWarpgroupThreads = 128;
  static constexpr int kProducerThreads = kWarpgroupThreads;
  static constexpr int kConsumerThreads = kWarpgroupThreads * kConsumerWarpgroups;
  // __launch_bounds__(kThreads, 1): the kernel is persistent, one block per SM.
  static constexpr int kThreads = kProducerThreads + kConsumerThreads;

  // What each thread starts with: its share of the register file under those launch bounds, in
  // whole granules (ptxas compiles to this many when the kernel uses setmaxnreg: 168 for 384 threads).
  static constexpr int kShare = kRegisterFile / kThreads / kGranule * kGranule;  // (at most kMost)
  static constexpr int kLaunchRegisters = kShare < kMost ? kShare : kMost;
  // The producer keeps the fewest setmaxnreg allows: one thread issues TMA loads, the rest exit.
  static constexpr int kProducerRegisters = kFewest;
  // What the producer warpgroup gives back, shared among the consumer threads (whole granules, at
  // most 256 per thread).
  static constexpr int kReleased = kProducerThreads * (kLaunchRegisters - kProducerRegisters);
  static constexpr int kConsumerShare = (kLaunchRegisters + kReleased / kConsumerThreads) / kGranule * kGranule;
  static constexpr int kConsumerRegisters = kConsumerShare < kMost ? kConsumerShare : kMost;
  // Only worth a setmaxnreg when the consumers gain registers: one consumer warpgroup (256 threads)
  // already starts with the most a thread can hold, and the kernel then uses no setmaxnreg.
  static constexpr bool kRebalances = kConsumerRegisters > kLaunchRegisters;
  // The registers per thread the kernel must be compiled to and loaded with, because the setmaxnreg
  // counts above assume it; 0 when it does not rebalance (ptxas then picks, up to the launch bounds).
  static constexpr int kEntryRegisters = kRebalances ? kLaunchRegisters : 0;

  static_assert(kConsumerWarpgroups >= 1, "a producer warpgroup feeds at least one consumer warpgroup");
  static_assert(kLaunchRegisters >= kFewest && kLaunchRegisters % kGranule == 0,
                "the block has too many threads to give each the registers setmaxnreg needs");
  static_assert(kProducerRegisters >= kFewest && kProducerRegisters <= kLaunchRegisters &&
                    kProducerRegisters % kGranule == 0,
                "setmaxnreg.dec takes a multiple of 8 in 24..256, at most what the thread has");
  static_assert(kConsumerRegisters <= kMost && kConsumerRegisters >= kLaunchRegisters &&
                    kConsumerRegisters % kGranule == 0,
                "setmaxnreg.inc takes a multiple of 8 in 24..256, at least what the thread has");
  // The hang this file exists to prevent.
  static_assert(kConsumerThreads * (kConsumerRegisters - kLaunchRegisters) <=
                    kProducerThreads * (kLaunchRegisters - kProducerRegisters),
                "the consumers' setmaxnreg.inc asks for more registers than the producer's setmaxnreg.dec gives "
                "back: they would wait for them forever");
};

}  // namespace dev
}  // namespace flashjit
