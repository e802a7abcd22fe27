// The schedule of the host emulation (cuda_emulation.cpp): the fixed order in which it runs warps and
// lanes, and the blocking primitives of warp-specialized kernels, wait_until() (an mbarrier wait)
// and named_barrier() (bar.sync), with producer lanes handing data to consumer warps through flags
// in shared memory. Every test runs two blocks where the order matters: the emulation runs the
// warps of odd blocks in the opposite order, so each hand-off is seen both with the producer first
// and with the consumers first.
#define FLASHJIT_HOST_EMULATION 1

#include <cstddef>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "emulation/cuda_emulation.h"

namespace flashjit {
namespace {

using emulation::named_barrier;
using emulation::named_barrier_arrive;
using emulation::wait_until;

constexpr std::size_t kSharedBytes = 8192;

void run_blocks(unsigned blocks, unsigned threads, const std::function<void()>& kernel) {
  emulation::run_grid(dim3{blocks, 1, 1}, dim3{threads, 1, 1}, kSharedBytes, kernel);
}

int thread() { return static_cast<int>(threadIdx.x); }
int lane() { return thread() % 32; }
int warp() { return thread() / 32; }
int block() { return static_cast<int>(blockIdx.x); }
// Shared memory as 32-bit words; the flags of these tests are words written by one thread at a time.
unsigned* shared_words() { return reinterpret_cast<unsigned*>(dev::smem); }
std::size_t at(int index) { return static_cast<std::size_t>(index); }

constexpr unsigned kFullMask = 0xffffffffu;

// ---- the order threads run in --------------------------------------------------------------------

struct Event {
  int block, phase, thread;
  bool operator==(const Event& other) const {
    return block == other.block && phase == other.phase && thread == other.thread;
  }
};

// Warps in warp order in even phases and in reverse order in odd ones (the other way round in odd
// blocks); lanes in lane order; each warp once per phase.
TEST(EmulationScheduler, WarpsRunForwardThenReversedPerPhaseAndLanesInLaneOrder) {
  constexpr int kWarps = 3;
  std::vector<Event> log;
  run_blocks(2, 32 * kWarps, [&] {
    for (int phase = 0; phase < 3; ++phase) {
      log.push_back({block(), phase, thread()});
      if (phase < 2) __syncthreads();
    }
  });
  std::vector<Event> expected;
  for (int b = 0; b < 2; ++b)
    for (int phase = 0; phase < 3; ++phase) {
      const bool reverse = (b % 2 == 1) != (phase % 2 == 1);
      for (int turn = 0; turn < kWarps; ++turn)
        for (int l = 0; l < 32; ++l) expected.push_back({b, phase, 32 * (reverse ? kWarps - 1 - turn : turn) + l});
    }
  EXPECT_EQ(log, expected);
}

// A warp collective is a barrier over the warp: every lane reaches it (in lane order) before any
// goes on, and then lane 0 goes on first; a warp runs until all its lanes wait at __syncthreads.
TEST(EmulationScheduler, LanesTakeTurnsAtEachWarpCollective) {
  std::vector<Event> log;  // phase: the number of shuffles the thread did before
  run_blocks(1, 64, [&] {
    float v = static_cast<float>(lane());
    for (int step = 0; step < 3; ++step) {
      log.push_back({0, step, thread()});
      v = __shfl_xor_sync(kFullMask, v, 1);
    }
    log.push_back({0, 3, thread()});
    __syncthreads();
  });
  std::vector<Event> expected;
  for (int w = 0; w < 2; ++w)
    for (int step = 0; step < 4; ++step)
      for (int l = 0; l < 32; ++l) expected.push_back({0, step, 32 * w + l});
  EXPECT_EQ(log, expected);
}

// What the order is for: a kernel that reads what the next warp wrote without a barrier between
// reads the poison in both blocks (some reader runs first), and with the barrier never does.
TEST(EmulationScheduler, AMissingBarrierIsCaughtInEitherOrder) {
  constexpr int kWarps = 4;
  for (bool barrier : {true, false}) {
    std::vector<unsigned> seen(2 * 32 * kWarps);
    run_blocks(2, 32 * kWarps, [&] {
      shared_words()[thread()] = 1000u * static_cast<unsigned>(block()) + static_cast<unsigned>(thread());
      if (barrier) __syncthreads();
      seen[at(block() * 32 * kWarps + thread())] = shared_words()[(thread() + 32) % (32 * kWarps)];
    });
    for (int b = 0; b < 2; ++b) {
      int poisoned = 0;
      for (int t = 0; t < 32 * kWarps; ++t) {
        const unsigned value = seen[at(b * 32 * kWarps + t)];
        if (value == emulation::kSharedMemoryPoison)
          ++poisoned;
        else
          EXPECT_EQ(value, 1000u * static_cast<unsigned>(b) + static_cast<unsigned>((t + 32) % (32 * kWarps)));
      }
      // Without the barrier, in block 0 (warps in order) every warp but the last reads ahead of the
      // writer; in block 1 (reverse order) the last warp reads warp 0's words before warp 0 ran.
      const int expected = barrier ? 0 : b == 0 ? 32 * (kWarps - 1) : 32;
      EXPECT_EQ(poisoned, expected) << "block " << b << (barrier ? " with" : " without") << " the barrier";
    }
  }
}

// ---- wait_until ----------------------------------------------------------------------------------

// Lane 0 of warp 0 fills a buffer and sets a flag (its other lanes return at once); the three
// consumer warps wait for the flag, then read. The consumers run first in block 0 (the second
// phase runs in reverse order), the producer first in block 1.
TEST(EmulationScheduler, ConsumerWarpsWaitForALaneOfTheProducerWarp) {
  constexpr int kConsumers = 96;
  std::vector<unsigned> seen(2 * kConsumers);
  int false_evaluations[2] = {0, 0};
  run_blocks(2, 32 + kConsumers, [&] {
    unsigned* flag = &shared_words()[0];
    unsigned* values = &shared_words()[32];
    if (thread() == 0) *flag = 0;
    __syncthreads();
    if (warp() == 0) {
      if (lane() != 0) return;
      for (int i = 0; i < kConsumers; ++i)
        values[i] = 7u * static_cast<unsigned>(i) + 1000u * static_cast<unsigned>(block());
      *flag = 1;
      return;
    }
    wait_until("the producer's flag", [&] {
      if (*flag == 1) return true;
      ++false_evaluations[block()];
      return false;
    });
    seen[at(block() * kConsumers + thread() - 32)] = values[thread() - 32];
  });
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < kConsumers; ++i)
      EXPECT_EQ(seen[at(b * kConsumers + i)], 7u * static_cast<unsigned>(i) + 1000u * static_cast<unsigned>(b))
          << "block " << b << " consumer " << i;
  // Block 0's consumers each found the flag unset on arrival and were woken again at most once
  // before the producer ran (a condition is re-evaluated only after other threads ran); block 1's
  // producer ran first.
  EXPECT_GE(false_evaluations[0], kConsumers);
  EXPECT_LE(false_evaluations[0], 2 * kConsumers);
  EXPECT_EQ(false_evaluations[1], 0);
}

// A two-stage ring like the wgmma kernel's: lane 0 of the producer warp fills a slot once both
// consumer warps released it (all 64 lanes arrived on the slot's "empty" counter) and publishes it
// on the slot's "full" counter; the consumer lanes wait for it, read their element, exchange it
// with their neighbour lane and release the slot. The producer's lanes 1..31 meanwhile wait at a
// __syncwarp that lane 0 joins when it is done.
TEST(EmulationScheduler, TwoStageRingHandsSlotsBackAndForth) {
  constexpr int kIterations = 40;
  constexpr int kStages = 2;
  constexpr int kConsumers = 64;
  auto value = [](int b, int i, int j) { return static_cast<float>(100000 * b + 100 * i + j); };
  std::vector<float> seen(2 * kConsumers * kIterations);
  std::vector<float> pair_sums(2 * kConsumers * kIterations);
  run_blocks(2, 32 + kConsumers, [&] {
    unsigned* full = &shared_words()[0];   // per slot: times it was filled
    unsigned* empty = &shared_words()[8];  // per slot: consumer lanes that released it
    float* slots = reinterpret_cast<float*>(&shared_words()[32]);
    if (thread() < kStages) full[thread()] = empty[thread()] = 0;
    __syncthreads();
    if (warp() == 0) {
      if (lane() == 0)
        for (int i = 0; i < kIterations; ++i) {
          const int s = i % kStages;
          const unsigned round = static_cast<unsigned>(i / kStages);
          wait_until("an empty slot", [&] { return empty[s] == kConsumers * round; });
          for (int j = 0; j < 32; ++j) slots[32 * s + j] = value(block(), i, j);
          full[s] = round + 1;
        }
      __syncwarp();
      return;
    }
    const int consumer = thread() - 32;
    for (int i = 0; i < kIterations; ++i) {
      const int s = i % kStages;
      const unsigned round = static_cast<unsigned>(i / kStages);
      wait_until("a full slot", [&] { return full[s] == round + 1; });
      const float v = slots[32 * s + lane()];
      const float neighbour = __shfl_xor_sync(kFullMask, v, 1);
      const std::size_t k = at((block() * kConsumers + consumer) * kIterations + i);
      seen[k] = v;
      pair_sums[k] = v + neighbour;
      ++empty[s];
    }
  });
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < kConsumers; ++c)
      for (int i = 0; i < kIterations; ++i) {
        const std::size_t k = at((b * kConsumers + c) * kIterations + i);
        const int j = c % 32;
        ASSERT_EQ(seen[k], value(b, i, j)) << "block " << b << " consumer " << c << " iteration " << i;
        ASSERT_EQ(pair_sums[k], value(b, i, j) + value(b, i, j ^ 1)) << "block " << b << " consumer " << c;
      }
}

// The producer warp's lanes 1..31 return at once; lane 0 goes on handing values one at a time
// through a mailbox to the consumer warp, which acknowledges each.
TEST(EmulationScheduler, ProducerLanesReturnEarlyWhileLaneZeroKeepsProducing) {
  constexpr int kItems = 25;
  std::vector<float> seen(2 * 32 * kItems);
  run_blocks(2, 64, [&] {
    unsigned* published = &shared_words()[0];     // items written to the mailbox
    unsigned* acknowledged = &shared_words()[1];  // items the consumer warp has read
    float* mailbox = reinterpret_cast<float*>(&shared_words()[2]);
    if (thread() == 0) *published = *acknowledged = 0;
    __syncthreads();
    if (warp() == 0) {
      if (lane() != 0) return;
      for (unsigned i = 0; i < kItems; ++i) {
        wait_until("the consumer's acknowledgement", [&] { return *acknowledged == i; });
        *mailbox = static_cast<float>(block() * 1000) + static_cast<float>(i);
        *published = i + 1;
      }
      return;
    }
    for (unsigned i = 0; i < kItems; ++i) {
      wait_until("a published item", [&] { return *published == i + 1; });
      seen[at((block() * 32 + lane()) * kItems) + i] = *mailbox + static_cast<float>(lane());
      __syncwarp();  // every lane has read before the producer may overwrite
      if (lane() == 0) *acknowledged = i + 1;
    }
  });
  for (int b = 0; b < 2; ++b)
    for (int l = 0; l < 32; ++l)
      for (int i = 0; i < kItems; ++i)
        ASSERT_EQ(seen[at((b * 32 + l) * kItems + i)], static_cast<float>(b * 1000 + i + l))
            << "block " << b << " lane " << l << " item " << i;
}

// Only lane 0 of warp 0 waits (for warp 1); lanes 1..31 go on into a shuffle, which completes when
// lane 0, released, joins it. Lane 0 is held up in block 0 (warp 0 runs first after the barrier).
TEST(EmulationScheduler, LaneZeroJoinsItsWarpsShuffleAfterItsWait) {
  std::vector<float> exchanged(2 * 32);
  std::vector<float> sums(2 * 32);
  int false_evaluations[2] = {0, 0};
  run_blocks(2, 64, [&] {
    unsigned* flag = &shared_words()[0];
    float* from_warp_1 = reinterpret_cast<float*>(&shared_words()[1]);
    if (thread() == 0) *flag = 0;
    __syncthreads();
    __syncthreads();  // phase 2 runs in the order of phase 0: warp 0 first in block 0
    if (warp() == 1) {
      if (lane() == 0) {
        *from_warp_1 = 500.0f + static_cast<float>(block());
        *flag = 1;
      }
      return;
    }
    if (lane() == 0)
      wait_until("warp 1's value", [&] {
        if (*flag == 1) return true;
        ++false_evaluations[block()];
        return false;
      });
    const float mine = lane() == 0 ? *from_warp_1 : static_cast<float>(lane());
    const float theirs = __shfl_xor_sync(kFullMask, mine, 1);
    float sum = mine;
    for (int m = 1; m < 32; m *= 2) sum += __shfl_xor_sync(kFullMask, sum, m);
    exchanged[at(32 * block() + lane())] = theirs;
    sums[at(32 * block() + lane())] = sum;
  });
  for (int b = 0; b < 2; ++b) {
    const float lane_0 = 500.0f + static_cast<float>(b);
    for (int l = 0; l < 32; ++l) {
      const int partner = l ^ 1;
      EXPECT_EQ(exchanged[at(32 * b + l)], partner == 0 ? lane_0 : static_cast<float>(partner)) << "lane " << l;
      EXPECT_EQ(sums[at(32 * b + l)], lane_0 + 31.0f * 32.0f / 2.0f) << "lane " << l;
    }
  }
  EXPECT_GT(false_evaluations[0], 0);
  EXPECT_EQ(false_evaluations[1], 0);
}

// ---- named barriers ------------------------------------------------------------------------------

// Warps 0 and 1 hand data through shared memory at barrier 1, warps 2 and 3 at barrier 2, each
// barrier used over and over; warp 4 takes part in neither and does shuffles of its own. In block 0
// the reader of pair (2, 3) runs first, in block 1 the reader of pair (0, 1).
TEST(EmulationScheduler, TwoPairsOfWarpsSynchronizeOnTheirOwnNamedBarriers) {
  constexpr int kRounds = 4;
  auto value = [](int b, int pair, int round, int l) { return 10000u * b + 1000u * pair + 100u * round + l; };
  std::vector<unsigned> seen(2 * 2 * kRounds * 32);
  std::vector<float> loner(2 * 32);
  run_blocks(2, 160, [&] {
    if (warp() == 4) {
      float v = static_cast<float>(lane());
      for (int m = 1; m < 32; m *= 2) v += __shfl_xor_sync(kFullMask, v, m);
      loner[at(32 * block() + lane())] = v;
      return;
    }
    const int pair = warp() / 2;
    const int id = 1 + pair;
    const bool writer = warp() % 2 == pair;  // warp 0 writes for pair 0, warp 3 for pair 1
    unsigned* buffer = &shared_words()[32 * pair];
    for (int round = 0; round < kRounds; ++round) {
      if (writer) buffer[lane()] = value(block(), pair, round, lane());
      named_barrier(id, 64);
      if (!writer) seen[at(((block() * 2 + pair) * kRounds + round) * 32 + lane())] = buffer[31 - lane()];
      named_barrier(id, 64);  // read before the next round overwrites
    }
  });
  for (int b = 0; b < 2; ++b) {
    for (int pair = 0; pair < 2; ++pair)
      for (int round = 0; round < kRounds; ++round)
        for (int l = 0; l < 32; ++l)
          ASSERT_EQ(seen[at(((b * 2 + pair) * kRounds + round) * 32 + l)], value(b, pair, round, 31 - l))
              << "block " << b << " pair " << pair << " round " << round << " lane " << l;
    for (int l = 0; l < 32; ++l) EXPECT_EQ(loner[at(32 * b + l)], 31.0f * 32.0f / 2.0f);
  }
}

// bar.arrive hands a turn on without waiting: two warps alternate strictly (the wgmma kernel's
// ping-pong), each appending to a shared log only in its turn, whatever order the emulation runs
// them in. Warp 1 gives warp 0 the first turn; warp 0 takes warp 1's last hand-over at the end.
TEST(EmulationScheduler, NamedBarrierArrivalsPassATurnBackAndForth) {
  constexpr int kRounds = 5;
  std::vector<unsigned> log(2 * 2 * kRounds, 99u);
  run_blocks(2, 64, [&] {
    const int me = warp();
    unsigned* count = &shared_words()[0];
    if (threadIdx.x == 0) *count = 0;
    __syncthreads();
    if (me == 1) named_barrier_arrive(1, 64);
    for (int round = 0; round < kRounds; ++round) {
      named_barrier(1 + me, 64);  // my turn
      if (lane() == 0) log[at(2 * kRounds * block() + (*count)++)] = static_cast<unsigned>(me);
      __syncwarp();
      named_barrier_arrive(2 - me, 64);  // the other warp's turn
    }
    if (me == 0) named_barrier(1, 64);
  });
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 2 * kRounds; ++i)
      EXPECT_EQ(log[at(2 * kRounds * b + i)], static_cast<unsigned>(i % 2)) << "block " << b << " entry " << i;
}

// The shape of the wgmma kernel: a producer warpgroup whose warp 0 lane 0 loads stages (the rest
// return early) and two consumer warpgroups, each waiting for full stages, releasing them, and
// synchronizing its four warps on its own named barrier, in a block of 384 threads.
TEST(EmulationScheduler, WarpSpecializedBlockOfThreeWarpgroups) {
  constexpr int kStages = 2;
  constexpr int kTiles = 6;
  constexpr int kConsumers = 256;
  std::vector<float> totals(2 * kConsumers);
  run_blocks(2, 128 + kConsumers, [&] {
    unsigned* full = &shared_words()[0];
    unsigned* empty = &shared_words()[8];
    unsigned* done = &shared_words()[16];  // per consumer warpgroup: warps finished with a tile
    float* stages = reinterpret_cast<float*>(&shared_words()[64]);  // 128 floats per stage
    if (thread() < kStages) full[thread()] = empty[thread()] = 0;
    if (thread() < 2) done[thread()] = 0;
    __syncthreads();
    if (warp() < 4) {
      if (thread() != 0) return;
      for (int t = 0; t < kTiles; ++t) {
        const int s = t % kStages;
        const unsigned round = static_cast<unsigned>(t / kStages);
        wait_until("mbarrier empty", [&] { return empty[s] == 2 * round; });
        for (int i = 0; i < 128; ++i) stages[128 * s + i] = static_cast<float>(block() * 1000 + t * 128 + i);
        full[s] = round + 1;
      }
      return;
    }
    const int group = (warp() - 4) / 4;  // consumer warpgroup 0 or 1
    const int index = thread() - 128 - 128 * group;
    float total = 0.0f;
    for (int t = 0; t < kTiles; ++t) {
      const int s = t % kStages;
      const unsigned round = static_cast<unsigned>(t / kStages);
      wait_until("mbarrier full", [&] { return full[s] == round + 1; });
      float v = stages[128 * s + index];
      for (int m = 1; m < 32; m *= 2) v += __shfl_xor_sync(kFullMask, v, m);
      total += v;
      named_barrier(1 + group, 128);  // the warpgroup has read the stage
      if (index == 0) ++empty[s];     // one arrival per consumer warpgroup
      if (lane() == 0) ++done[group];
    }
    named_barrier(1 + group, 128);
    totals[at(block() * kConsumers + thread() - 128)] = total + static_cast<float>(done[group]);
  });
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < kConsumers; ++c) {
      const int index = c % 128;
      float expected = 0.0f;
      for (int t = 0; t < kTiles; ++t)
        for (int l = 0; l < 32; ++l) expected += static_cast<float>(b * 1000 + t * 128 + index / 32 * 32 + l);
      ASSERT_EQ(totals[at(b * kConsumers + c)], expected + 4.0f * kTiles) << "block " << b << " consumer " << c;
    }
}

// ---- misuse --------------------------------------------------------------------------------------

// Death tests fork before any emulated thread exists (gtest runs *DeathTest suites first).
TEST(EmulationSchedulerDeathTest, AWaitThatNeverComesTrueIsADeadlock) {
  EXPECT_DEATH(run_blocks(1, 64,
                          [] {
                            if (thread() == 0) wait_until("a flag nobody sets", [] { return false; });
                          }),
               "deadlock: every thread of the block is blocked \\(thread 0 waits for a flag nobody sets\\); of its 64 "
               "threads, 1 wait in wait_until, 0 at named barriers, 0 at __syncthreads, 0 at warp collectives, 63 "
               "finished");
  // Lane 0's lanes wait for it at a shuffle.
  EXPECT_DEATH(run_blocks(1, 32,
                          [] {
                            if (lane() == 0) wait_until("mbarrier.try_wait", [] { return false; });
                            __shfl_xor_sync(kFullMask, 1.0f, 1);
                          }),
               "deadlock: every thread of the block is blocked \\(thread 0 waits for mbarrier.try_wait\\).* 31 at "
               "warp collectives");
  // The other warp waits at __syncthreads for it.
  EXPECT_DEATH(run_blocks(1, 64,
                          [] {
                            if (warp() == 1) wait_until("the producer", [] { return false; });
                            __syncthreads();
                          }),
               "deadlock: every thread of the block is blocked \\(thread 32 waits for the producer\\).* 32 at "
               "__syncthreads");
}

TEST(EmulationSchedulerDeathTest, ANamedBarrierShortOfThreadsIsADeadlock) {
  EXPECT_DEATH(run_blocks(1, 96,
                          [] {
                            if (warp() < 2) named_barrier(1, 96);
                          }),
               "deadlock: every thread of the block is blocked \\(thread 0 waits at named barrier 1, where 64 of 96 "
               "threads arrived\\)");
}

TEST(EmulationSchedulerDeathTest, NamedBarriersAreEnteredByWholeWarps) {
  // Half of warp 0 and half of warp 1 make up the 32 threads (the other halves wait elsewhere).
  EXPECT_DEATH(run_blocks(1, 64,
                          [] {
                            if (lane() < 16)
                              named_barrier(1, 32);
                            else
                              wait_until("something else", [] { return false; });
                          }),
               "named barrier 1 completed with its 32 threads, but only 16 of the 32 lanes of warp 0 arrived");
  // Half of the warp returned.
  EXPECT_DEATH(run_blocks(1, 64,
                          [] {
                            if (lane() < 16) named_barrier(1, 64);
                          }),
               "diverged: only 16 of 32 reached named barrier 1");
  EXPECT_DEATH(run_blocks(1, 96, [] { named_barrier(1, warp() == 0 ? 64 : 96); }),
               "named barrier 1: this thread expects 96 threads, the threads before it 64");
  EXPECT_DEATH(run_blocks(1, 64, [] { named_barrier(0, 64); }), "named barrier 0: ids are 1..15");
  EXPECT_DEATH(run_blocks(1, 64, [] { named_barrier(2, 48); }), "named barrier 2: 48 threads is not a multiple of 32");
}

// Returning early is fine next to threads in wait_until or at named barriers (above), but not next
// to threads at __syncthreads, which counts every thread that has not returned.
TEST(EmulationSchedulerDeathTest, ReturningNextToThreadsAtSyncthreadsStillAborts) {
  EXPECT_DEATH(run_blocks(1, 64,
                          [] {
                            if (warp() == 1) return;
                            __syncthreads();
                          }),
               "a thread returned while other threads of its block wait at __syncthreads");
  EXPECT_DEATH(run_blocks(1, 64,
                          [] {
                            if (warp() == 0) return;
                            __syncthreads();
                          }),
               "__syncthreads after some threads of the block returned");
}

}  // namespace
}  // namespace flashjit
