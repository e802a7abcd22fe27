#include "cache/entry_json.h"

#include <cmath>
#include <limits>

#include "cache/codec.h"
#include "support/quote.h"

namespace flashjit::cache {
namespace {

using nlohmann::json;

// ---- one entry <-> one JSON object: the cubin base64-encoded with its SHA-256, the spec as a JSON
// object, timings as numbers or null ----

constexpr const char* kFields[] = {
    "device_name",  "compute_capability", "sm_count",     "driver_version", "nvrtc_version",
    "generator_hash", "compile_options",  "problem_key",  "spec",           "kernel_symbol",
    "cubin_base64", "cubin_sha256",       "median_ms",    "p20_ms",         "p80_ms",
    "candidates_tried", "tuned",          "created_unix",
};

llvm::Error field_error(const char* field, const std::string& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "field '%s' %s", field, why.c_str());
}

json optional_number(const std::optional<double>& value) {
  if (!value || !std::isfinite(*value)) return nullptr;
  return *value;
}

// Reads fields out of one object, remembering the first error so that the caller can read every
// field in a row and check once (the first problem is the one reported).
class FieldReader {
 public:
  explicit FieldReader(const json& object) : object_(object) {}

  std::string text(const char* field, bool may_be_empty) {
    const json* value = find(field);
    if (value == nullptr) return std::string();
    if (!value->is_string()) {
      fail(field, "is not a string");
      return std::string();
    }
    std::string result = value->get<std::string>();
    if (result.empty() && !may_be_empty) fail(field, "is empty");
    return result;
  }

  int64_t integer(const char* field, int64_t lowest, int64_t highest) {
    const json* value = find(field);
    if (value == nullptr) return 0;
    if (!value->is_number_integer()) {
      fail(field, "is not an integer");
      return 0;
    }
    // Compared in the type the value has (JSON's non-negative integers parse as unsigned), so that
    // a huge value cannot wrap into range.
    bool fits = false;
    if (value->is_number_unsigned()) {
      const uint64_t v = value->get<uint64_t>();
      fits = v <= static_cast<uint64_t>(highest) && (lowest <= 0 || v >= static_cast<uint64_t>(lowest));
    } else {
      const int64_t v = value->get<int64_t>();
      fits = v >= lowest && v <= highest;
    }
    if (!fits) {
      fail(field, "is out of range (" + std::to_string(lowest) + ".." + std::to_string(highest) + ")");
      return 0;
    }
    return value->get<int64_t>();
  }

  bool boolean(const char* field) {
    const json* value = find(field);
    if (value == nullptr) return false;
    if (!value->is_boolean()) {
      fail(field, "is not true or false");
      return false;
    }
    return value->get<bool>();
  }

  // Absent or null: no timing. Otherwise a finite, non-negative number of milliseconds.
  std::optional<double> timing(const char* field) {
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) return std::nullopt;
    if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0) {
      fail(field, "is not a non-negative number of milliseconds or null");
      return std::nullopt;
    }
    return it->get<double>();
  }

  const json* object(const char* field) {
    const json* value = find(field);
    if (value != nullptr && !value->is_object()) {
      fail(field, "is not an object");
      return nullptr;
    }
    return value;
  }

  void fail(const char* field, const std::string& why) {
    if (!error_) error_ = field_error(field, why);
  }
  llvm::Error take_error() { return error_ ? std::move(error_) : llvm::Error::success(); }
  ~FieldReader() { llvm::consumeError(std::move(error_)); }

 private:
  const json* find(const char* field) {
    auto it = object_.find(field);
    if (it != object_.end()) return &*it;
    fail(field, "is missing");
    return nullptr;
  }

  const json& object_;
  llvm::Error error_ = llvm::Error::success();
};

llvm::Error check_no_unknown_fields(const json& object) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool known = false;
    for (const char* field : kFields) known = known || it.key() == field;
    if (!known)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "unknown field '%s'",
                                     quote_prefix(it.key()).c_str());
  }
  return llvm::Error::success();
}


}  // namespace

llvm::Expected<json> entry_to_json(const CacheEntry& entry) {
  json spec = json::parse(entry.spec_json, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "entry %lld: spec_json is not valid JSON",
                                   static_cast<long long>(entry.id));
  return json{
      {"device_name", entry.key.device_name},
      {"compute_capability", entry.key.compute_capability},
      {"sm_count", entry.key.sm_count},
      {"driver_version", entry.key.driver_version},
      {"nvrtc_version", entry.key.nvrtc_version},
      {"generator_hash", entry.key.generator_hash},
      {"compile_options", entry.key.compile_options},
      {"problem_key", entry.key.problem_key},
      {"spec", std::move(spec)},
      {"kernel_symbol", entry.kernel_symbol},
      {"cubin_base64", base64_encode(entry.cubin)},
      {"cubin_sha256", entry.cubin_sha256},
      {"median_ms", optional_number(entry.median_ms)},
      {"p20_ms", optional_number(entry.p20_ms)},
      {"p80_ms", optional_number(entry.p80_ms)},
      {"candidates_tried", entry.candidates_tried},
      {"tuned", entry.tuned},
      {"created_unix", entry.created_unix},
  };
}

llvm::Expected<CacheEntry> entry_from_json(const json& object, const EntryProblems& problems_of) {
  if (!object.is_object())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "is not a JSON object");
  if (llvm::Error error = check_no_unknown_fields(object)) return error;

  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  FieldReader read(object);
  CacheEntry entry;
  // Empty: an entry a compile-only warm-up stored for any device of its compute capability.
  entry.key.device_name = read.text("device_name", true);
  entry.key.compute_capability = static_cast<int>(read.integer("compute_capability", 10, 9999));
  entry.key.sm_count = static_cast<int>(read.integer("sm_count", 0, kIntMax));
  entry.key.driver_version = static_cast<int>(read.integer("driver_version", 0, kIntMax));
  entry.key.nvrtc_version = static_cast<int>(read.integer("nvrtc_version", 0, kIntMax));
  entry.key.generator_hash = read.text("generator_hash", false);
  entry.key.compile_options = read.text("compile_options", true);
  entry.key.problem_key = read.text("problem_key", false);
  const json* spec = read.object("spec");
  entry.kernel_symbol = read.text("kernel_symbol", false);
  const std::string cubin_base64 = read.text("cubin_base64", true);
  entry.cubin_sha256 = read.text("cubin_sha256", false);
  entry.median_ms = read.timing("median_ms");
  entry.p20_ms = read.timing("p20_ms");
  entry.p80_ms = read.timing("p80_ms");
  entry.candidates_tried = static_cast<int>(read.integer("candidates_tried", 0, kIntMax));
  entry.tuned = read.boolean("tuned");
  entry.created_unix = read.integer("created_unix", 0, std::numeric_limits<int64_t>::max());
  if (llvm::Error error = read.take_error()) return error;

  entry.spec_json = spec->dump();

  auto cubin = base64_decode(cubin_base64);
  if (!cubin) return field_error("cubin_base64", "holds " + llvm::toString(cubin.takeError()));
  if (cubin->empty()) return field_error("cubin_base64", "holds no bytes");
  entry.cubin = std::move(*cubin);
  entry.cubin_size = entry.cubin.size();
  if (!is_sha256_hex(entry.cubin_sha256))
    return field_error("cubin_sha256", "is not 64 lowercase hex digits");
  if (sha256_hex(entry.cubin) != entry.cubin_sha256)
    return field_error("cubin_sha256", "does not match the cubin");
  // The entry as a whole, by the rule every lookup applies: an entry imported here runs later.
  if (std::string problems = problems_of(entry); !problems.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "must not run: %s", problems.c_str());
  return entry;
}



}  // namespace flashjit::cache
