// The CLI's ragged-batch lengths (tools/ragged_lengths.h): lists parsed with errors naming the
// option, and the seeded draws of --varlen-random and bench's --varlen-fill, which must be the
// same batch on every machine and, for --varlen-fill, the dense row's tokens and longest sequence.
#include <algorithm>
#include <numeric>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "tools/ragged_lengths.h"

namespace flashjit::tools {
namespace {

using flashjit::testing::message_of;

TEST(RaggedLengths, ListsParseWithZerosAllowed) {
  auto lengths = parse_lengths("5, 0,17,1", "varlen", 100, 10);
  ASSERT_TRUE(static_cast<bool>(lengths)) << llvm::toString(lengths.takeError());
  EXPECT_EQ(*lengths, (std::vector<int>{5, 0, 17, 1}));
}

TEST(RaggedLengths, BadListsAreRefusedByTheOptionsName) {
  EXPECT_EQ(message_of(parse_lengths("", "varlen", 100, 10), ErrorCode::invalid_argument),
            "--varlen is empty: give one length per sequence");
  EXPECT_EQ(message_of(parse_lengths("3,x", "varlen-k", 100, 10), ErrorCode::invalid_argument),
            "--varlen-k: 'x' is not a length (an integer in 0..100)");
  EXPECT_EQ(message_of(parse_lengths("3,,4", "varlen", 100, 10), ErrorCode::invalid_argument),
            "--varlen: '' is not a length (an integer in 0..100)");
  EXPECT_EQ(message_of(parse_lengths("3,-1", "varlen", 100, 10), ErrorCode::invalid_argument),
            "--varlen: '-1' is not a length (an integer in 0..100)");
  EXPECT_EQ(message_of(parse_lengths("101", "varlen", 100, 10), ErrorCode::invalid_argument),
            "--varlen: '101' is not a length (an integer in 0..100)");
  EXPECT_EQ(message_of(parse_lengths("0,0", "varlen", 100, 10), ErrorCode::invalid_argument),
            "--varlen: every length is 0; the longest sequence must have at least 1 token");
  EXPECT_EQ(message_of(parse_lengths("1,1,1", "varlen", 100, 2), ErrorCode::invalid_argument),
            "--varlen gives 3 lengths, more than the 2 sequences a batch may have");
}

TEST(RaggedLengths, RandomCountAndSeed) {
  auto random = parse_random_lengths("5,7", "varlen-random", 100);
  ASSERT_TRUE(static_cast<bool>(random)) << llvm::toString(random.takeError());
  EXPECT_EQ(random->count, 5);
  EXPECT_EQ(random->seed, 7u);
  const std::string usage = "--varlen-random must be N,SEED (how many sequences, and the seed of their lengths), got ";
  EXPECT_EQ(message_of(parse_random_lengths("5", "varlen-random", 100), ErrorCode::invalid_argument), usage + "'5'");
  EXPECT_EQ(message_of(parse_random_lengths("5,7,9", "varlen-random", 100), ErrorCode::invalid_argument),
            usage + "'5,7,9'");
  EXPECT_EQ(message_of(parse_random_lengths("0,7", "varlen-random", 100), ErrorCode::invalid_argument),
            "--varlen-random: N must be between 1 and 100, got 0");
  EXPECT_EQ(message_of(parse_random_lengths("3,4294967296", "varlen-random", 100), ErrorCode::invalid_argument),
            "--varlen-random: SEED must be between 0 and 4294967295, got 4294967296");
}

// std::mt19937's output is fixed by the standard, so these lengths are the same everywhere
// (run_score_modifiers.check pins the CLI's line for seed 7).
TEST(RaggedLengths, DrawsAreReproducibleAndInRange) {
  EXPECT_EQ(draw_lengths(5, 50, 7), (std::vector<int>{16, 43, 22, 37, 34}));
  EXPECT_EQ(draw_lengths(5, 50, 7), draw_lengths(5, 50, 7));
  EXPECT_NE(draw_lengths(5, 50, 7), draw_lengths(5, 50, 8));
  for (int length : draw_lengths(1000, 3, 1)) {
    EXPECT_GE(length, 1);
    EXPECT_LE(length, 3);
  }
}

// What a ragged batch's cost is compared with: a dense batch of the same tokens and longest sequence.
TEST(RaggedLengths, AFilledBatchHasTheDenseRowsTokensAndLongestSequence) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::vector<int> lengths = fill_lengths(16384, 4096, seed);
    EXPECT_EQ(std::accumulate(lengths.begin(), lengths.end(), int64_t{0}), 16384);
    EXPECT_EQ(lengths.front(), 4096);
    EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), 4096);
    EXPECT_GE(*std::min_element(lengths.begin(), lengths.end()), 1);
    EXPECT_GT(lengths.size(), 4u) << "shorter sequences than the dense row's";
  }
  EXPECT_EQ(fill_lengths(4096, 4096, 1), std::vector<int>{4096});
  EXPECT_EQ(fill_lengths(16384, 4096, 5), fill_lengths(16384, 4096, 5));
}

}  // namespace
}  // namespace flashjit::tools
