// The persistent wgmma_sm90 kernel's tile order (templates/wgmma_tile_scheduler.cuh), on the host:
// every (query block, head, batch) tile exactly once, query blocks of a head side by side without a
// mask, longest first with the causal mask, and what that buys the round-robin hand-out of a
// persistent grid.
#define FLASHJIT_HOST_EMULATION 1

#include <algorithm>
#include <set>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "emulation/cuda_emulation.h"
#include "wgmma_tile_scheduler.cuh"

namespace flashjit {
namespace {

using dev::WgmmaTile;
using dev::WgmmaTileScheduler;

// Key blocks a causal tile of `m_blocks` query blocks sees (square problem): its index + 1.
int causal_work(const WgmmaTile& t) { return t.m_block + 1; }

TEST(WgmmaTileScheduler, EveryTileExactlyOnce) {
  for (bool causal : {false, true})
    for (auto [m_blocks, heads, batches] : {std::tuple{1, 1, 1}, std::tuple{7, 3, 2}, std::tuple{32, 16, 1},
                                           std::tuple{2, 5, 7}}) {
      const WgmmaTileScheduler s{m_blocks, heads, batches, causal};
      ASSERT_EQ(s.tile_count(), m_blocks * heads * batches);
      std::set<std::tuple<int, int, int>> seen;
      for (int i = 0; i < s.tile_count(); ++i) {
        const WgmmaTile t = s.tile(i);
        ASSERT_GE(t.m_block, 0);
        ASSERT_LT(t.m_block, m_blocks);
        ASSERT_GE(t.head, 0);
        ASSERT_LT(t.head, heads);
        ASSERT_GE(t.batch, 0);
        ASSERT_LT(t.batch, batches);
        EXPECT_TRUE(seen.insert({t.m_block, t.head, t.batch}).second)
            << "tile " << i << " repeats (" << t.m_block << ", " << t.head << ", " << t.batch << ")";
      }
    }
}

// Without a mask the query blocks of one (head, batch) are consecutive: the blocks running at
// the same time read the same K/V, from L2.
TEST(WgmmaTileScheduler, UnmaskedQueryBlocksOfAHeadAreConsecutive) {
  const WgmmaTileScheduler s{6, 4, 3, false};
  for (int i = 0; i < s.tile_count(); ++i) {
    const WgmmaTile t = s.tile(i);
    EXPECT_EQ(t.m_block, i % 6);
    EXPECT_EQ(t.head, (i / 6) % 4);
    EXPECT_EQ(t.batch, i / 24);
  }
}

// With the causal mask the work of the tiles never increases along the order.
TEST(WgmmaTileScheduler, CausalTilesComeLongestFirst) {
  const WgmmaTileScheduler s{9, 5, 2, true};
  for (int i = 1; i < s.tile_count(); ++i)
    EXPECT_LE(causal_work(s.tile(i)), causal_work(s.tile(i - 1))) << "tile " << i;
  EXPECT_EQ(s.tile(0).m_block, 8);
  EXPECT_EQ(s.tile(s.tile_count() - 1).m_block, 0);
}

// A persistent grid of `blocks` takes tiles round-robin (block b: b, b + blocks, ...). Longest
// first keeps the busiest block within one longest tile of the average; the natural order (the
// unmasked one) would hand whole heads' diagonals to the first blocks.
TEST(WgmmaTileScheduler, CausalRoundRobinIsBalanced) {
  const int m_blocks = 32, heads = 16, blocks = 132;
  auto busiest = [&](const WgmmaTileScheduler& s) {
    std::vector<long> work(blocks, 0);
    long total = 0;
    for (int i = 0; i < s.tile_count(); ++i) {
      // The work of tile i as the causal kernel sees it, whichever order produced it.
      const int w = s.tile(i).m_block + 1;
      work[static_cast<size_t>(i % blocks)] += w;
      total += w;
    }
    return std::pair{*std::max_element(work.begin(), work.end()), total};
  };
  const auto [longest_first, total] = busiest(WgmmaTileScheduler{m_blocks, heads, 1, true});
  const double average = static_cast<double>(total) / blocks;
  EXPECT_LE(longest_first, average + m_blocks) << "busiest block " << longest_first << ", average " << average;
  const auto [natural, same_total] = busiest(WgmmaTileScheduler{m_blocks, heads, 1, false});
  EXPECT_EQ(same_total, total);
  EXPECT_LT(longest_first, natural);
}

}  // namespace
}  // namespace flashjit
