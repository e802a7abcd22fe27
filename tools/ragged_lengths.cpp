#include "tools/ragged_lengths.h"

#include <algorithm>
#include <random>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "support/error.h"
#include "support/quote.h"

namespace flashjit::tools {
namespace {

llvm::Error bad(const llvm::Twine& message) { return make_error(ErrorCode::invalid_argument, message); }

}  // namespace

int RaggedLengths::longest_q() const { return q.empty() ? 0 : *std::max_element(q.begin(), q.end()); }
int RaggedLengths::longest_k() const { return k.empty() ? 0 : *std::max_element(k.begin(), k.end()); }

int64_t RaggedLengths::q_tokens() const {
  int64_t total = 0;
  for (int length : q) total += length;
  return total;
}

int64_t RaggedLengths::k_tokens() const {
  int64_t total = 0;
  for (int length : k) total += length;
  return total;
}

llvm::Expected<std::vector<int>> parse_lengths(const std::string& text, const char* option, int max_length,
                                               int max_count) {
  if (llvm::StringRef(text).trim().empty()) return bad(llvm::formatv("--{0} is empty: give one length per sequence", option));
  llvm::SmallVector<llvm::StringRef, 16> parts;
  llvm::StringRef(text).split(parts, ',');
  if (static_cast<int64_t>(parts.size()) > max_count)
    return bad(llvm::formatv("--{0} gives {1} lengths, more than the {2} sequences a batch may have", option,
                             parts.size(), max_count));
  std::vector<int> lengths;
  for (llvm::StringRef part : parts) {
    int length = -1;
    if (part.trim().getAsInteger(10, length) || length < 0 || length > max_length)
      return bad(llvm::formatv("--{0}: '{1}' is not a length (an integer in 0..{2})", option,
                               quote_prefix(part.trim(), 40), max_length));
    lengths.push_back(length);
  }
  if (*std::max_element(lengths.begin(), lengths.end()) == 0)
    return bad(llvm::formatv("--{0}: every length is 0; the longest sequence must have at least 1 token", option));
  return lengths;
}

llvm::Expected<RandomLengths> parse_random_lengths(const std::string& text, const char* option, int max_count) {
  auto [count_text, seed_text] = llvm::StringRef(text).split(',');
  RandomLengths r;
  unsigned long long seed = 0;
  if (count_text.trim().getAsInteger(10, r.count) || seed_text.trim().getAsInteger(10, seed) ||
      seed_text.contains(','))
    return bad(llvm::formatv("--{0} must be N,SEED (how many sequences, and the seed of their lengths), got '{1}'",
                             option, quote_prefix(text, 40)));
  if (r.count < 1 || r.count > max_count)
    return bad(llvm::formatv("--{0}: N must be between 1 and {1}, got {2}", option, max_count, r.count));
  if (seed > UINT32_MAX)
    return bad(llvm::formatv("--{0}: SEED must be between 0 and {1}, got {2}", option, UINT32_MAX, seed));
  r.seed = static_cast<uint32_t>(seed);
  return r;
}

std::vector<int> draw_lengths(int count, int max_length, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> lengths;
  for (int i = 0; i < count; ++i) lengths.push_back(1 + static_cast<int>(rng() % static_cast<uint32_t>(max_length)));
  return lengths;
}

std::vector<int> fill_lengths(int64_t tokens, int max_length, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> lengths;
  int64_t left = tokens;
  int next = max_length;
  while (left > 0) {
    lengths.push_back(static_cast<int>(std::min<int64_t>(next, left)));
    left -= lengths.back();
    next = 1 + static_cast<int>(rng() % static_cast<uint32_t>(max_length));
  }
  return lengths;
}

}  // namespace flashjit::tools
