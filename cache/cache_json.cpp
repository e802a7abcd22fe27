#include "cache/cache_json.h"

#include <cmath>
#include <limits>
#include <vector>

#include <unistd.h>

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "cache/codec.h"
#include "support/log.h"
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


// One entry as an object of the export file. An error when the stored spec_json is not JSON
// (export leaves such rows out).
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

// Checks every field, and that no unknown field is present; an error names the field and what is
// wrong with it: "field 'cubin_sha256' does not match the cubin". The returned entry has id 0.
llvm::Expected<CacheEntry> entry_from_json(const json& object, const TuningCache& cache) {
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
  if (std::string problems = cache.entry_problems(entry); !problems.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "must not run: %s", problems.c_str());
  return entry;
}


// ---- the export document ----

llvm::Error import_error(const std::string& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "import: %s", why.c_str());
}

// The entries of an export document, each checked; the first problem found is the error.
llvm::Expected<std::vector<CacheEntry>> parse_export(llvm::StringRef text, const TuningCache& cache) {
  auto document = parse_json(text);  // nesting bounded: a 100k-deep document must not overflow the stack
  if (!document) return import_error(llvm::toString(document.takeError()));
  const json root = std::move(*document);
  if (!root.is_object()) return import_error("the top level is not a JSON object");
  auto format = root.find("format");
  if (format == root.end() || !format->is_string() || format->get<std::string>() != kExportFormat)
    return import_error(std::string("field 'format' is not \"") + kExportFormat +
                        "\": not a flashjit cache export");
  auto version = root.find("format_version");
  if (version == root.end() || !version->is_number_integer())
    return import_error("field 'format_version' is missing or not an integer");
  if (version->get<int64_t>() != kExportFormatVersion)
    return import_error("format_version " + version->dump() + " is not one this flashjit reads (" +
                        std::to_string(kExportFormatVersion) + ")");
  auto entries = root.find("entries");
  if (entries == root.end() || !entries->is_array())
    return import_error("field 'entries' is missing or not a list");

  std::vector<CacheEntry> parsed;
  parsed.reserve(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    auto entry = entry_from_json((*entries)[i], cache);
    if (!entry)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "import: entry %zu: %s", i,
                                     llvm::toString(entry.takeError()).c_str());
    parsed.push_back(std::move(*entry));
  }
  return parsed;
}

}  // namespace

llvm::Expected<std::string> export_to_json(TuningCache& cache, ExportSummary* summary) {
  ExportSummary counts;
  json entries = json::array();
  llvm::Error walked = cache.for_each_entry([&](const CacheEntry& entry) -> llvm::Error {
    const std::string problems = cache.entry_problems(entry);
    if (!problems.empty()) {
      const std::string line =
          "entry " + std::to_string(entry.id) + " (" + quote_prefix(entry.key.problem_key) + "): " + problems;
      log::warning("export: leaving out damaged cache " + line);
      counts.left_out.push_back(line);
      ++counts.skipped;
      return llvm::Error::success();
    }
    auto object = entry_to_json(entry);
    if (!object) return object.takeError();
    entries.push_back(std::move(*object));
    ++counts.exported;
    return llvm::Error::success();
  }, [&](int64_t id, const std::string& why) {
    // A damaged page costs the rows on it, not the export: the rest is what an operator saves.
    const std::string line = (id == 0 ? std::string("rows") : "entry " + std::to_string(id)) + ": " + why;
    log::warning("export: leaving out unreadable cache " + line);
    counts.left_out.push_back(line);
    ++counts.skipped;
  });
  if (walked) return walked;
  if (summary != nullptr) *summary = counts;
  const json root = {{"format", kExportFormat},
                     {"format_version", kExportFormatVersion},
                     {"entries", std::move(entries)}};
  return root.dump(2) + "\n";
}

llvm::Expected<ExportSummary> export_to_file(TuningCache& cache, const std::string& file) {
  ExportSummary summary;
  auto text = export_to_json(cache, &summary);
  if (!text) return text.takeError();
  const std::string temporary = file + ".tmp-" + std::to_string(::getpid());
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(temporary, ec);
    if (ec)
      return llvm::createStringError(ec, "cannot write %s: %s", temporary.c_str(), ec.message().c_str());
    out << *text;
    out.close();
    if (out.has_error()) {
      const std::string message = out.error().message();
      out.clear_error();
      llvm::sys::fs::remove(temporary);
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot write %s: %s",
                                     temporary.c_str(), message.c_str());
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temporary, file)) {
    llvm::sys::fs::remove(temporary);
    return llvm::createStringError(ec, "cannot move %s to %s: %s", temporary.c_str(), file.c_str(),
                                   ec.message().c_str());
  }
  return summary;
}

llvm::Expected<ImportSummary> import_from_json(TuningCache& cache, llvm::StringRef text) {
  auto entries = parse_export(text, cache);
  if (!entries) return entries.takeError();
  if (cache.read_only())
    return import_error("the tuning cache " + cache.path() + " is read-only (" + cache.read_only_reason() +
                        ")");
  auto results = cache.store_all(*entries, ReplacePolicy::prefer_tuned);
  if (!results) return results.takeError();
  ImportSummary summary;
  for (const StoreResult& result : *results) {
    if (result.outcome == StoreOutcome::added) ++summary.added;
    if (result.outcome == StoreOutcome::replaced) ++summary.replaced;
    if (result.outcome == StoreOutcome::kept_existing) ++summary.kept;
  }
  return summary;
}

llvm::Expected<ImportSummary> import_from_file(TuningCache& cache, const std::string& file, uint64_t max_bytes) {
  auto text = read_input_file(file, max_bytes, "--max-input-bytes");
  if (!text) return import_error(llvm::toString(text.takeError()));
  return import_from_json(cache, *text);
}

}  // namespace flashjit::cache
