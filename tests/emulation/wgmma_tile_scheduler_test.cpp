// The persistent wgmma_sm90 kernel's tile order (templates/wgmma_tile_scheduler.cuh), on the host:
// every (query block, head, batch) tile exactly once, query blocks of a head side by side without a
// mask, longest first with the causal mask, and what that buys the round-robin hand-out of a
// persistent grid; a ragged batch's walk (RaggedTileWalk) the same over its sequences' own tiles.
#define FLASHJIT_HOST_EMULATION 1

#include <algorithm>
#include <cstdint>
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

// ---- ragged batches: RaggedTileWalk ----------------------------------------------------------------

std::vector<int32_t> offsets_of(const std::vector<int>& lengths) {
  std::vector<int32_t> offsets = {0};
  for (int length : lengths) offsets.push_back(offsets.back() + length);
  return offsets;
}

// A ragged batch on the host: its lengths, offsets, and the walk's view of it.
struct HostRaggedBatch {
  std::vector<int> q_lengths, k_lengths;
  std::vector<int32_t> cu_q, cu_k;
  int heads;
  HostRaggedBatch(std::vector<int> q, std::vector<int> k, int h)
      : q_lengths(q), k_lengths(k), cu_q(offsets_of(q)), cu_k(offsets_of(k)), heads(h) {}
  static int longest(const std::vector<int>& v) { return std::max(1, *std::max_element(v.begin(), v.end())); }
  dev::RaggedBatch view() const {
    return {cu_q.data(), cu_k.data(), static_cast<int>(q_lengths.size()), heads, longest(q_lengths),
            longest(k_lengths)};
  }
};

// Block `block` of a persistent grid of `grid`: the tiles it takes, asked in its order from its own
// walk (kBlockM x kBlockN tiles).
template <int kBlockM, int kBlockN, bool kCausal>
std::vector<WgmmaTile> tiles_of_block(const HostRaggedBatch& batch, int block, int grid) {
  using Walk = dev::RaggedTileWalk<kBlockM, kBlockN, kCausal>;
  Walk walk = Walk::start(batch.view());
  std::vector<WgmmaTile> tiles;
  for (int index = block; index < walk.tile_count(); index += grid) {
    const WgmmaTile t = walk.tile(index, batch.view());
    if (Walk::is_end(t)) {
      // The end stays the end.
      EXPECT_TRUE(Walk::is_end(walk.tile(index + grid, batch.view())));
      break;
    }
    tiles.push_back(t);
  }
  return tiles;
}

template <int kBlockM, int kBlockN, bool kCausal>
std::vector<WgmmaTile> all_tiles(const HostRaggedBatch& batch) {
  return tiles_of_block<kBlockM, kBlockN, kCausal>(batch, 0, 1);
}

// Every tile of every sequence's own query blocks exactly once over the blocks of a persistent grid,
// none past a sequence's end (empty sequences have none), whatever the grid; each block's walk asks
// its own indices, forward only.
TEST(RaggedTileWalk, EveryTileOfEachSequenceExactlyOnce) {
  const HostRaggedBatch batch({0, 1, 300, 129, 0, 64, 65, 1000}, {5, 0, 300, 40, 0, 64, 900, 2}, 3);
  int expected = 0;
  for (int length : batch.q_lengths) expected += (length + 63) / 64 * 3;
  for (bool causal : {false, true})
    for (int grid : {1, 2, 7, 132}) {
      std::set<std::tuple<int, int, int>> seen;
      for (int block = 0; block < grid; ++block)
        for (const WgmmaTile& t : causal ? tiles_of_block<64, 128, true>(batch, block, grid)
                                         : tiles_of_block<64, 128, false>(batch, block, grid)) {
          ASSERT_GE(t.batch, 0);
          ASSERT_LT(t.batch, 8);
          ASSERT_LT(t.m_block * 64, batch.q_lengths[t.batch]) << "a tile past sequence " << t.batch << "'s end";
          ASSERT_GE(t.head, 0);
          ASSERT_LT(t.head, 3);
          EXPECT_TRUE(seen.insert({t.m_block, t.head, t.batch}).second)
              << "tile (" << t.m_block << ", " << t.head << ", " << t.batch << ") repeats";
        }
      EXPECT_EQ(static_cast<int>(seen.size()), expected) << "causal " << causal << ", grid " << grid;
    }
}

// The order is longest first: causal tiles by query block from the last down; unmasked ones by their
// sequence's key blocks from the most down, a head's query blocks side by side.
TEST(RaggedTileWalk, TilesComeLongestFirst) {
  const HostRaggedBatch batch({200, 500, 64, 330}, {900, 100, 640, 330}, 2);
  int last_m = 1 << 30;
  for (const WgmmaTile& t : all_tiles<64, 64, true>(batch)) {
    EXPECT_LE(t.m_block, last_m);
    last_m = t.m_block;
  }
  std::vector<int> sequences;
  int last_key_blocks = 1 << 30;
  const std::vector<WgmmaTile> unmasked = all_tiles<64, 64, false>(batch);
  for (const WgmmaTile& t : unmasked) {
    const int key_blocks = (batch.k_lengths[t.batch] + 63) / 64;
    EXPECT_LE(key_blocks, last_key_blocks);
    last_key_blocks = key_blocks;
    if (sequences.empty() || sequences.back() != t.batch) sequences.push_back(t.batch);
  }
  // Keys 900, 640, 330, 100: sequences 0, 2, 3, 1, each once.
  EXPECT_EQ(sequences, (std::vector<int>{0, 2, 3, 1}));
  // Sequence 0's 4 query blocks of head 0, then head 1.
  EXPECT_EQ(unmasked[0].m_block, 0);
  EXPECT_EQ(unmasked[1].m_block, 1);
  EXPECT_EQ(unmasked[4].head, 1);
  EXPECT_EQ(unmasked[4].m_block, 0);
}

// A ragged batch (16 sequences of 100..8000 tokens, q and k alike) on 132 persistent blocks: the
// busiest block stays within one longest tile of the average, causal or not, where the dense
// scheduler's order over the longest sequence's query blocks (empty tiles past the short sequences'
// ends taking turns) leaves the blocks serving the long sequences far behind.
template <bool kCausal>
void expect_balanced() {
  constexpr int kBlock = 128;
  const int heads = 8, grid = 132;
  const std::vector<int> lengths = {8000, 130, 2900, 640, 7000, 100, 4100, 1500,
                                    300,  5200, 900, 2000, 6100, 450, 3300, 1100};
  const HostRaggedBatch batch(lengths, lengths, heads);
  const int m_blocks = (8000 + kBlock - 1) / kBlock;
  // Key blocks tile t loads (the kernel's window_key_blocks without a window, square sequences).
  auto work = [&](const WgmmaTile& t) {
    const int seq_blocks = (lengths[t.batch] + kBlock - 1) / kBlock;
    if (t.m_block >= seq_blocks) return 0;
    return kCausal ? t.m_block + 1 : seq_blocks;
  };
  std::vector<long> per_block(grid, 0);
  long total = 0;
  for (int b = 0; b < grid; ++b)
    for (const WgmmaTile& t : tiles_of_block<kBlock, kBlock, kCausal>(batch, b, grid)) {
      per_block[static_cast<size_t>(b)] += work(t);
      total += work(t);
    }
  const long busiest = *std::max_element(per_block.begin(), per_block.end());
  const double average = static_cast<double>(total) / grid;
  EXPECT_LE(busiest, average + m_blocks) << "busiest block " << busiest << ", average " << average;
  const WgmmaTileScheduler dense{m_blocks, heads, static_cast<int>(lengths.size()), kCausal};
  std::vector<long> dense_block(grid, 0);
  long dense_total = 0;
  for (int i = 0; i < dense.tile_count(); ++i) {
    dense_block[static_cast<size_t>(i % grid)] += work(dense.tile(i));
    dense_total += work(dense.tile(i));
  }
  EXPECT_EQ(dense_total, total);
  EXPECT_LT(busiest, *std::max_element(dense_block.begin(), dense_block.end()));
}

TEST(RaggedTileWalk, RoundRobinIsBalancedUnmasked) { expect_balanced<false>(); }
TEST(RaggedTileWalk, RoundRobinIsBalancedCausal) { expect_balanced<true>(); }

}  // namespace
}  // namespace flashjit
