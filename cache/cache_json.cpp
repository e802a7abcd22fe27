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
#include "cache/entry_json.h"
#include "support/log.h"
#include "support/quote.h"

namespace flashjit::cache {
namespace {

using nlohmann::json;

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
    auto entry = entry_from_json((*entries)[i], [&](const CacheEntry& e) { return cache.entry_problems(e); });
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
