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

}  // namespace
}  // namespace flashjit::gen
