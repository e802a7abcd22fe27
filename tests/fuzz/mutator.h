// Deterministic mutations of a corpus: the same seed gives the same inputs on every machine (its
// own generator and arithmetic, no std:: distribution, whose results vary by library), so a replay
// that fails once fails again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flashjit::fuzz {

enum class Mutation {
  bit_flip,         // 1 to 8 bits
  insert_bytes,     // random bytes, or a token parsers trip on (NUL, quote, brace, bad UTF-8, ...)
  delete_bytes,     // a run of 1 to 64 bytes
  truncate,         // cut at a random length
  splice,           // the front of this input, the back of another seed
  extreme_number,   // a run of digits replaced by a huge, negative, fractional or overflowing number
  extreme_word,     // 4 or 8 bytes overwritten with INT_MIN, -1, NaN, ... (binary fields)
  deep_nesting,     // a value, or the whole input, wrapped in 64 to 100000 levels of [ ]
  wrong_type,       // a JSON value replaced by one of another type
  duplicate_chunk,  // a run of bytes copied elsewhere (duplicate keys, entries)
};
inline constexpr int kMutationKinds = 10;

const char* mutation_name(Mutation mutation);

// SplitMix64: small, fast and exactly specified.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform enough in [0, n); n > 0.
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

// Inputs are capped at this size: the parsers' limits are tested by their own unit tests, not by
// making each mutation megabytes long.
inline constexpr size_t kMaxMutantBytes = size_t(1) << 20;

class Mutator {
 public:
  // `seeds` (not empty) are what splice takes its second half from.
  Mutator(uint64_t seed, const std::vector<std::string>& seeds) : random_(seed), seeds_(seeds) {}

  // Which seed the next mutant starts from.
  size_t pick_seed() { return random_.below(seeds_.size()); }
  // `input` mutated 1 to 3 times (mostly once); `applied` receives the mutations, in order.
  std::string mutate(std::string input, std::vector<Mutation>& applied);
  void apply(Mutation mutation, std::string& bytes);

 private:
  Mutation draw();

  Random random_;
  const std::vector<std::string>& seeds_;
};

}  // namespace flashjit::fuzz
