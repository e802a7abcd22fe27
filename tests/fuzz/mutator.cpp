#include "fuzz/mutator.h"

#include <cctype>
#include <cstring>
#include <limits>

namespace flashjit::fuzz {
namespace {

// Bytes and tokens that parsers of JSON and of strings get wrong.
const char* const kTokens[] = {
    "\0", "\xff", "\"", "\\", "{", "}", "[", "]", ",", ":", "\\u0000", "\\ud800", "\xc3\x28", "\xed\xa0\x80",
    "-", "e999", "null", "\"\":", "\n", "\x7f",
};

const char* const kExtremeNumbers[] = {
    "99999999999999999999999999999", "18446744073709551616", "18446744073709551615", "9223372036854775808",
    "9223372036854775807", "-9223372036854775809", "-9223372036854775808", "2147483648", "2147483647",
    "4294967296", "-2147483649", "-1", "0", "-0", "1e308", "1e999", "-1e999", "1.5", "1E400", "0.000001",
    "1073741825", "16777217", "65537",
};

const char* const kOtherTypes[] = {
    "null", "true", "false", "[]", "{}", "\"\"", "\"x\"", "0", "-1", "1.5", "[1]", "{\"a\":1}", "\"\\u0000\"",
};

const int kDepths[] = {63, 64, 65, 100, 1000, 100000};

// Where each JSON value starts and ends (a string with its quotes, a number or word; for an object or
// array only its opening bracket, end == begin), found by following the nesting, so that an object's
// keys are never taken for values. On text that is not JSON it finds what it can.
struct Span {
  size_t begin = 0;
  size_t end = 0;
};

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+'; }

size_t string_end(const std::string& bytes, size_t open_quote) {
  size_t at = open_quote + 1;
  while (at < bytes.size() && bytes[at] != '"') at += bytes[at] == '\\' ? 2 : 1;
  return std::min(at + 1, bytes.size());
}

std::vector<Span> value_spans(const std::string& bytes) {
  std::vector<Span> spans;
  std::vector<char> open;  // '{' or '['
  bool expect_value = true;
  for (size_t at = 0; at < bytes.size();) {
    const char c = bytes[at];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      ++at;
      continue;
    }
    if (c == ':') {
      expect_value = true;
      ++at;
      continue;
    }
    if (c == ',') {
      expect_value = !open.empty() && open.back() == '[';
      ++at;
      continue;
    }
    if (c == '}' || c == ']') {
      if (!open.empty()) open.pop_back();
      expect_value = false;
      ++at;
      continue;
    }
    const bool value = expect_value;
    expect_value = false;
    if (c == '{' || c == '[') {
      if (value) spans.push_back({at, at});
      open.push_back(c);
      expect_value = c == '[';
      ++at;
      continue;
    }
    size_t end = at + 1;
    if (c == '"') {
      end = string_end(bytes, at);
    } else {
      while (end < bytes.size() && is_word_char(bytes[end])) ++end;
    }
    if (value) spans.push_back({at, end});
    at = end;
  }
  return spans;
}

std::vector<Span> digit_runs(const std::string& bytes) {
  std::vector<Span> runs;
  for (size_t i = 0; i < bytes.size();) {
    if (!std::isdigit(static_cast<unsigned char>(bytes[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[end]))) ++end;
    runs.push_back({i > 0 && bytes[i - 1] == '-' ? i - 1 : i, end});
    i = end;
  }
  return runs;
}

template <typename T>
std::string raw(T value) {
  std::string bytes(sizeof(T), '\0');
  std::memcpy(bytes.data(), &value, sizeof(T));
  return bytes;
}

std::vector<std::string> extreme_words() {
  using I32 = std::numeric_limits<int32_t>;
  using I64 = std::numeric_limits<int64_t>;
  using F64 = std::numeric_limits<double>;
  return {raw<int32_t>(I32::max()), raw<int32_t>(I32::min()), raw<int32_t>(-1), raw<int32_t>(0),
          raw<int32_t>(1 << 16 | 1), raw<int64_t>(I64::max()), raw<int64_t>(I64::min()), raw<int64_t>(-1),
          raw<double>(F64::quiet_NaN()), raw<double>(F64::infinity()), raw<double>(-F64::infinity()),
          raw<double>(-0.0), raw<double>(F64::max()), raw<double>(-1.0), raw<double>(F64::denorm_min())};
}

}  // namespace

const char* mutation_name(Mutation mutation) {
  switch (mutation) {
    case Mutation::bit_flip: return "bit_flip";
    case Mutation::insert_bytes: return "insert_bytes";
    case Mutation::delete_bytes: return "delete_bytes";
    case Mutation::truncate: return "truncate";
    case Mutation::splice: return "splice";
    case Mutation::extreme_number: return "extreme_number";
    case Mutation::extreme_word: return "extreme_word";
    case Mutation::deep_nesting: return "deep_nesting";
    case Mutation::wrong_type: return "wrong_type";
    case Mutation::duplicate_chunk: return "duplicate_chunk";
  }
  return "?";
}

uint64_t Random::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// How often each mutation is drawn, in the enum's order: the ones that keep a document parseable
// (a number, a value of another type) twice as often as the rest, since most byte-level changes
// stop the input at the JSON parser and never reach the checks behind it.
constexpr size_t kWeights[kMutationKinds] = {1, 1, 1, 1, 1, 2, 1, 1, 2, 1};

Mutation Mutator::draw() {
  size_t total = 0;
  for (size_t weight : kWeights) total += weight;
  size_t pick = random_.below(total);
  for (int kind = 0; kind < kMutationKinds; ++kind) {
    if (pick < kWeights[kind]) return static_cast<Mutation>(kind);
    pick -= kWeights[kind];
  }
  return Mutation::bit_flip;
}

std::string Mutator::mutate(std::string input, std::vector<Mutation>& applied) {
  applied.clear();
  // Mostly one mutation, so that a document keeps most of its shape; sometimes two or three.
  const size_t count = random_.below(2) == 0 ? 1 : 1 + random_.below(3);
  for (size_t i = 0; i < count; ++i) {
    const Mutation mutation = draw();
    apply(mutation, input);
    applied.push_back(mutation);
    if (input.size() > kMaxMutantBytes) input.resize(kMaxMutantBytes);
  }
  return input;
}

void Mutator::apply(Mutation mutation, std::string& bytes) {
  switch (mutation) {
    case Mutation::bit_flip: {
      if (bytes.empty()) return;
      const size_t flips = 1 + random_.below(8);
      for (size_t i = 0; i < flips; ++i) bytes[random_.below(bytes.size())] ^= static_cast<char>(1u << random_.below(8));
      return;
    }
    case Mutation::insert_bytes: {
      const size_t at = random_.below(bytes.size() + 1);
      if (random_.below(2) == 0) {
        const char* token = kTokens[random_.below(std::size(kTokens))];
        bytes.insert(at, token, std::max<size_t>(1, std::strlen(token)));  // "\0" is one NUL byte
        return;
      }
      std::string random_bytes(1 + random_.below(16), '\0');
      for (char& c : random_bytes) c = static_cast<char>(random_.below(256));
      bytes.insert(at, random_bytes);
      return;
    }
    case Mutation::delete_bytes: {
      if (bytes.empty()) return;
      const size_t at = random_.below(bytes.size());
      bytes.erase(at, 1 + random_.below(std::min<size_t>(64, bytes.size() - at)));
      return;
    }
    case Mutation::truncate:
      bytes.resize(random_.below(bytes.size() + 1));
      return;
    case Mutation::splice: {
      const std::string& other = seeds_[random_.below(seeds_.size())];
      const size_t keep = random_.below(bytes.size() + 1);
      const size_t from = random_.below(other.size() + 1);
      bytes = bytes.substr(0, keep) + other.substr(from);
      return;
    }
    case Mutation::extreme_number: {
      const std::vector<Span> runs = digit_runs(bytes);
      const char* number = kExtremeNumbers[random_.below(std::size(kExtremeNumbers))];
      if (runs.empty()) {
        bytes.insert(random_.below(bytes.size() + 1), number);
        return;
      }
      const Span run = runs[random_.below(runs.size())];
      bytes.replace(run.begin, run.end - run.begin, number);
      return;
    }
    case Mutation::extreme_word: {
      static const std::vector<std::string> words = extreme_words();
      const std::string& word = words[random_.below(words.size())];
      // Mostly over the front of the input, where a binary header keeps its numbers.
      const size_t span = random_.below(2) == 0 ? std::min<size_t>(bytes.size(), 64) : bytes.size();
      const size_t at = span == 0 ? 0 : random_.below(span) & ~size_t(3);
      if (at + word.size() > bytes.size()) bytes.resize(at + word.size(), '\0');
      bytes.replace(at, word.size(), word);
      return;
    }
    case Mutation::deep_nesting: {
      const size_t depth = static_cast<size_t>(kDepths[random_.below(std::size(kDepths))]);
      const std::vector<Span> spans = value_spans(bytes);
      if (spans.empty() || random_.below(4) == 0) {
        bytes = std::string(depth, '[') + bytes + std::string(depth, ']');
        return;
      }
      const Span span = spans[random_.below(spans.size())];
      if (span.end == span.begin) {  // an object or array: a deep list of its own before it
        bytes.insert(span.begin, std::string(depth, '[') + std::string(depth, ']') + ",");
        return;
      }
      bytes.insert(span.end, std::string(depth, ']'));
      bytes.insert(span.begin, std::string(depth, '['));
      return;
    }
    case Mutation::wrong_type: {
      const std::vector<Span> spans = value_spans(bytes);
      const char* value = kOtherTypes[random_.below(std::size(kOtherTypes))];
      if (spans.empty()) {
        bytes = value;
        return;
      }
      const Span span = spans[random_.below(spans.size())];
      if (span.end == span.begin) {
        bytes.insert(span.begin, std::string(value) + ",");  // before an object or array in a list
        return;
      }
      bytes.replace(span.begin, span.end - span.begin, value);
      return;
    }
    case Mutation::duplicate_chunk: {
      if (bytes.empty()) return;
      const size_t from = random_.below(bytes.size());
      const std::string chunk = bytes.substr(from, 1 + random_.below(std::min<size_t>(256, bytes.size() - from)));
      bytes.insert(random_.below(bytes.size() + 1), chunk);
      return;
    }
  }
}

}  // namespace flashjit::fuzz
