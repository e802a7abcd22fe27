// The split-KV decode's split count (generator/decode_splits.h) on the problems and the
// edges: H200's 132 SMs, 64-key blocks.
#include "generator/decode_splits.h"

#include <gtest/gtest.h>

namespace flashjit::gen {
namespace {

constexpr int kH200 = 132;

TEST(DecodeSplits, WaveEfficiency) {
  EXPECT_DOUBLE_EQ(wave_efficiency(132, kH200), 1.0);
  EXPECT_DOUBLE_EQ(wave_efficiency(133, kH200), 133.0 / 264.0);
  EXPECT_DOUBLE_EQ(wave_efficiency(66, kH200), 0.5);
  EXPECT_DOUBLE_EQ(wave_efficiency(0, kH200), 0.0);
}

// Batch 32, 8 KV heads (GQA packing: one tile per KV head), 8k keys: 256 tiles already run in
// 1.94 waves (97%): no split, no combine.
TEST(DecodeSplits, AFullBatchIsNotSplit) { EXPECT_EQ(decode_split_count(32 * 8, 8192 / 64, kH200), 1); }

// Batch 1, 8 KV heads, 32k keys: 8 tiles fill 6% of the SMs; 16 splits make 128 blocks (97%) of
// 2048 keys each.
TEST(DecodeSplits, OneLongSequenceFillsTheGpu) {
  const int s = decode_split_count(8, 32768 / 64, kH200);
  EXPECT_EQ(s, 16);
  EXPECT_GE(wave_efficiency(8 * s, kH200), 0.95);
}

// Batch 8, 1k keys: 64 tiles; splits are bounded by two key blocks each (16 blocks: at most 8).
TEST(DecodeSplits, ShortSequencesKeepTwoKeyBlocksPerSplit) {
  const int s = decode_split_count(8 * 8, 1024 / 64, kH200);
  EXPECT_GE(s, 2);
  EXPECT_LE(s, 8);
  EXPECT_EQ(decode_split_count(64, 1, kH200), 1);  // one key block: nothing to split
  EXPECT_EQ(decode_split_count(1, 3, kH200), 1);
}

// One tile of a million key blocks: as many splits as reach 95% of the best count up to the maximum
// (128 of 132 SMs): 122 of them.
TEST(DecodeSplits, NeverMoreThanTheMaximum) {
  const int s = decode_split_count(1, 1 << 20, kH200);
  EXPECT_LE(s, kMaxDecodeSplits);
  EXPECT_EQ(s, 122);
  EXPECT_EQ(decode_split_count(0, 100, kH200), 1);
  EXPECT_EQ(decode_split_count(10, 100, 0), 1);
}

// A call's count from its shape: tiles = batch x KV heads x 64-row query tiles of a KV head's packed
// rows; key blocks of 64. The batch-1 decode (32/8 heads, 32k keys) splits 16 ways.
TEST(DecodeSplits, AProblemShapeCountsItsTilesAndKeyBlocks) {
  ProblemShape decode{1, 32, 8, 1, 32768};
  EXPECT_EQ(problem_split_count(decode, kH200), decode_split_count(8, 512, kH200));
  EXPECT_EQ(problem_split_count(decode, kH200), 16);
  // 16 query rows x GQA 4 = 64 packed rows: one tile; 17 rows: two.
  ProblemShape chunk{2, 8, 2, 16, 4096};
  EXPECT_EQ(problem_split_count(chunk, kH200), decode_split_count(2 * 2 * 1, 64, kH200));
  chunk.seqlen_q = 17;
  EXPECT_EQ(problem_split_count(chunk, kH200), decode_split_count(2 * 2 * 2, 64, kH200));
  EXPECT_EQ(problem_split_count(ProblemShape{32, 32, 8, 1, 8192}, kH200), 1);
}

// The tuner's range around the heuristic's count: none when unsplit (no workspace ever appears),
// else half, it and twice, capped, ascending and without repeats; the ceiling is the largest.
TEST(DecodeSplits, TheTunedRangeAndItsCeiling) {
  EXPECT_TRUE(tuned_split_candidates(1).empty());
  EXPECT_TRUE(tuned_split_candidates(0).empty());
  EXPECT_EQ(tuned_split_candidates(2), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(tuned_split_candidates(5), (std::vector<int>{3, 5, 10}));
  EXPECT_EQ(tuned_split_candidates(100), (std::vector<int>{50, 100, kMaxDecodeSplits}));
  EXPECT_EQ(tuned_split_candidates(kMaxDecodeSplits), (std::vector<int>{64, kMaxDecodeSplits}));
  EXPECT_EQ(split_ceiling(1), 1);
  EXPECT_EQ(split_ceiling(5), 10);
  EXPECT_EQ(split_ceiling(kMaxDecodeSplits), kMaxDecodeSplits);
}

}  // namespace
}  // namespace flashjit::gen
