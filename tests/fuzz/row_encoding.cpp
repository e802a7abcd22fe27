#include "fuzz/row_encoding.h"

#include <cstdint>
#include <cstring>

namespace flashjit::fuzz {
namespace {

enum Flags : uint8_t { kTuned = 1, kMedian = 2, kP20 = 4, kP80 = 8 };

// Reads fixed-size little-endian values from the front of the bytes; past their end, zeros.
class HeaderReader {
 public:
  explicit HeaderReader(llvm::StringRef bytes) : bytes_(bytes) {}

  template <typename T>
  T next() {
    unsigned char raw[sizeof(T)] = {};
    for (size_t i = 0; i < sizeof(T); ++i)
      if (at_ + i < bytes_.size()) raw[i] = static_cast<unsigned char>(bytes_[at_ + i]);
    at_ += sizeof(T);
    T value;
    std::memcpy(&value, raw, sizeof(T));  // x86-64 and aarch64 are little-endian, as the encoding
    return value;
  }

 private:
  llvm::StringRef bytes_;
  size_t at_ = 0;
};

template <typename T>
void put(std::string& out, T value) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  out.append(raw, sizeof(T));
}

// One string up to its unescaped 0x00 (or the end of the bytes); `at` moves past the terminator.
std::string next_string(llvm::StringRef bytes, size_t& at) {
  std::string text;
  while (at < bytes.size()) {
    const char c = bytes[at++];
    if (c == '\0') break;
    if (c == '\xff' && at < bytes.size()) {
      text.push_back(bytes[at++]);
      continue;
    }
    text.push_back(c);
  }
  return text;
}

void put_string(std::string& out, const std::string& text) {
  for (char c : text) {
    if (c == '\0' || c == '\xff') out.push_back('\xff');
    out.push_back(c);
  }
  out.push_back('\0');
}

}  // namespace

cache::CacheEntry decode_row(llvm::StringRef bytes) {
  cache::CacheEntry entry;
  HeaderReader header(bytes);
  entry.key.compute_capability = header.next<int32_t>();
  entry.key.sm_count = header.next<int32_t>();
  entry.key.driver_version = header.next<int32_t>();
  entry.key.nvrtc_version = header.next<int32_t>();
  entry.candidates_tried = header.next<int32_t>();
  const uint8_t flags = header.next<uint8_t>();
  entry.tuned = (flags & kTuned) != 0;
  entry.created_unix = header.next<int64_t>();
  const double median = header.next<double>();
  const double p20 = header.next<double>();
  const double p80 = header.next<double>();
  if (flags & kMedian) entry.median_ms = median;
  if (flags & kP20) entry.p20_ms = p20;
  if (flags & kP80) entry.p80_ms = p80;

  size_t at = kRowHeaderBytes;
  entry.key.problem_key = next_string(bytes, at);
  entry.spec_json = next_string(bytes, at);
  entry.kernel_symbol = next_string(bytes, at);
  entry.key.device_name = next_string(bytes, at);
  entry.key.generator_hash = next_string(bytes, at);
  entry.key.compile_options = next_string(bytes, at);
  if (at < bytes.size()) entry.cubin = bytes.substr(at).str();
  return entry;
}

std::string encode_row(const cache::CacheEntry& entry) {
  std::string out;
  put<int32_t>(out, entry.key.compute_capability);
  put<int32_t>(out, entry.key.sm_count);
  put<int32_t>(out, entry.key.driver_version);
  put<int32_t>(out, entry.key.nvrtc_version);
  put<int32_t>(out, entry.candidates_tried);
  uint8_t flags = entry.tuned ? kTuned : 0;
  if (entry.median_ms) flags |= kMedian;
  if (entry.p20_ms) flags |= kP20;
  if (entry.p80_ms) flags |= kP80;
  put<uint8_t>(out, flags);
  put<int64_t>(out, entry.created_unix);
  put<double>(out, entry.median_ms.value_or(0.0));
  put<double>(out, entry.p20_ms.value_or(0.0));
  put<double>(out, entry.p80_ms.value_or(0.0));
  put_string(out, entry.key.problem_key);
  put_string(out, entry.spec_json);
  put_string(out, entry.kernel_symbol);
  put_string(out, entry.key.device_name);
  put_string(out, entry.key.generator_hash);
  put_string(out, entry.key.compile_options);
  out += entry.cubin;
  return out;
}

}  // namespace flashjit::fuzz
