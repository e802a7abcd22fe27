#include "cache/entry_fields.h"

#include <cmath>

#include <llvm/Support/Error.h>
#include <nlohmann/json.hpp>

#include "cache/codec.h"
#include "support/quote.h"
#include "support/untrusted_input.h"

namespace flashjit::cache {
namespace {

void add(std::vector<std::string>& problems, std::string problem) {
  if (!problem.empty()) problems.push_back(std::move(problem));
}

std::string range_problem(const char* field, int64_t value, int64_t lowest, int64_t highest) {
  if (value >= lowest && value <= highest) return {};
  return std::string(field) + " " + std::to_string(value) + " is outside " + std::to_string(lowest) + ".." +
         std::to_string(highest);
}

std::string required_text_problem(const char* field, const std::string& text, size_t max_length) {
  if (text.empty()) return std::string(field) + " is empty";
  return printable_text_problem(field, text, max_length);
}

// NaN reads as no timing (SQLite stores it as NULL); anything else must be a finite, non-negative
// number of milliseconds.
std::string timing_problem(const char* field, const std::optional<double>& value) {
  if (!value || std::isnan(*value) || (std::isfinite(*value) && *value >= 0)) return {};
  return std::string(field) + " is " + std::to_string(*value) + ", not a non-negative number of milliseconds";
}

std::string spec_json_problem(const std::string& text) {
  auto spec = parse_json(text, kMaxSpecJsonDepth);
  if (!spec) return "spec_json: " + llvm::toString(spec.takeError());
  if (!spec->is_object()) return "spec_json is not a JSON object";
  return {};
}

void key_field_problems(const CacheKey& key, std::vector<std::string>& problems) {
  // Empty: an entry a compile-only warm-up stored for any device of its compute capability.
  add(problems, printable_text_problem("device_name", key.device_name, 256));
  add(problems, range_problem("compute_capability", key.compute_capability, 10, 999));
  add(problems, range_problem("sm_count", key.sm_count, 0, 1 << 16));
  add(problems, range_problem("driver_version", key.driver_version, 0, 999999));
  add(problems, range_problem("nvrtc_version", key.nvrtc_version, 0, 999999));
  add(problems, required_text_problem("generator_hash", key.generator_hash, 256));
  add(problems, printable_text_problem("compile_options", key.compile_options, 4096));
  add(problems, required_text_problem("problem_key", key.problem_key, 256));
}

}  // namespace

std::vector<std::string> entry_field_problems(const CacheEntry& entry) {
  std::vector<std::string> problems;
  key_field_problems(entry.key, problems);
  add(problems, spec_json_problem(entry.spec_json));
  add(problems, required_text_problem("kernel_symbol", entry.kernel_symbol, 1024));
  if (entry.cubin.empty()) problems.push_back("cubin is empty");
  add(problems, timing_problem("median_ms", entry.median_ms));
  add(problems, timing_problem("p20_ms", entry.p20_ms));
  add(problems, timing_problem("p80_ms", entry.p80_ms));
  add(problems, range_problem("candidates_tried", entry.candidates_tried, 0, INT32_MAX));
  add(problems, range_problem("created_unix", entry.created_unix, 0, INT64_MAX));
  return problems;
}

std::vector<std::string> cubin_digest_problems(const CacheEntry& entry) {
  std::vector<std::string> problems;
  if (entry.cubin.size() != entry.cubin_size)
    problems.push_back("cubin is " + std::to_string(entry.cubin.size()) + " bytes, the row says " +
                       std::to_string(entry.cubin_size));
  if (sha256_hex(entry.cubin) != entry.cubin_sha256) problems.push_back("cubin does not match its sha256");
  return problems;
}

}  // namespace flashjit::cache
