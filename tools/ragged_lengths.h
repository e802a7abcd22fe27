// The sequence lengths of a ragged batch the CLI makes: parsed from a list (--varlen 5,0,17),
// drawn reproducibly from a seed (--varlen-random N,SEED), or drawn to fill the same tokens as a
// dense batch (bench's --varlen-fill SEED). Errors name the option.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <llvm/Support/Error.h>

namespace flashjit::tools {

// Query and key lengths, one pair per sequence (equal counts).
struct RaggedLengths {
  std::vector<int> q;
  std::vector<int> k;

  bool empty() const { return q.empty(); }
  int longest_q() const;
  int longest_k() const;
  int64_t q_tokens() const;
  int64_t k_tokens() const;
};

// "5,0,17": lengths 0..max_length, at most max_count of them, the longest at least 1; an error
// naming `option` otherwise ("--varlen: 'x' is not a length (an integer in 0..16777216)").
llvm::Expected<std::vector<int>> parse_lengths(const std::string& text, const char* option, int max_length,
                                               int max_count);

// "N,SEED" of --varlen-random: a count in 1..max_count and a 32-bit seed.
struct RandomLengths {
  int count = 0;
  uint32_t seed = 0;
};
llvm::Expected<RandomLengths> parse_random_lengths(const std::string& text, const char* option, int max_count);

// `count` lengths in 1..max_length from std::mt19937(seed) (its output is the same with every
// standard library, so a seed names the same batch everywhere): 1 + draw % max_length.
std::vector<int> draw_lengths(int count, int max_length, uint32_t seed);

// Lengths that fill exactly `tokens` tokens with `max_length` the longest: the first is
// max_length, then lengths drawn as draw_lengths draws them until the next would pass `tokens`,
// and the last what is left. The same total tokens and longest sequence as a dense batch of
// tokens / max_length sequences, which a ragged batch's cost is compared with.
std::vector<int> fill_lengths(int64_t tokens, int max_length, uint32_t seed);

}  // namespace flashjit::tools
