// flashjit cache list|show ID|export FILE|import FILE|verify|clear [--json] [--cache PATH]:
// look into and manage the tuning cache.
#include <cmath>

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "cache/cache_json.h"
#include "cache/tuning_cache.h"
#include "support/error.h"
#include "support/quote.h"
#include "support/untrusted_input.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/subcommands.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;
using nlohmann::json;

cl::list<std::string> words(cl::Positional, cl::desc("list | show ID | export FILE | import FILE | verify | clear"),
                            cl::sub(cache_command), cl::cat(flashjit_options));
cl::opt<bool> as_json("json", cl::desc("Print JSON"), cl::sub(cache_command), cl::cat(flashjit_options));

constexpr size_t kMaxIdChars = 1024;

bool is_printable(llvm::StringRef text) {
  for (char c : text)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

int fail(const std::string& message, int code = 1) {
  llvm::errs() << "flashjit cache: error: " << message << "\n";
  return code;
}

std::string ms(const std::optional<double>& v) { return v ? llvm::formatv("{0:F4}", *v).str() : "-"; }

// A stored text field as a terminal may show it: the file is not to be trusted (escaped, cut at
// 200 characters).
std::string printable(const std::string& stored) { return quote_prefix(stored, 200); }

// JSON text of `j`; strings from the database need not be UTF-8, which dump() would throw on.
std::string dumped(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

// The stored spec, or why it cannot be shown: it need not be JSON, nor an object, nor shallow.
llvm::Expected<json> stored_spec(const cache::CacheEntry& e) {
  auto spec = parse_json(e.spec_json);
  if (!spec) return spec.takeError();
  if (!spec->is_object()) return make_error(ErrorCode::invalid_argument, "not a JSON object");
  return spec;
}

// The spec's kernel key; "?" when the spec has none (a damaged row still lists).
std::string kernel_key_of(const cache::CacheEntry& e) {
  auto spec = stored_spec(e);
  if (!spec) {
    llvm::consumeError(spec.takeError());
    return "?";
  }
  auto key = spec->find("key");
  if (key == spec->end() || !key->is_string()) return "?";
  return key->get<std::string>();
}

json entry_summary(const cache::CacheEntry& e) {
  return {{"id", e.id},
          {"problem", e.key.problem_key},
          {"device", e.key.device_name},
          {"compute_capability", e.key.compute_capability},
          {"kernel", kernel_key_of(e)},
          {"tuned", e.tuned},
          {"median_ms", e.median_ms ? json(*e.median_ms) : json(nullptr)},
          {"candidates_tried", e.candidates_tried},
          {"cubin_bytes", e.cubin_size},
          {"created_unix", e.created_unix},
          {"key", cache::key_string(e.key)}};
}

int list(cache::TuningCache& c) {
  auto entries = c.list();
  if (!entries) return fail(llvm::toString(entries.takeError()));
  if (as_json) {
    json rows = json::array();
    for (const cache::CacheEntry& e : *entries) rows.push_back(entry_summary(e));
    llvm::outs() << dumped(rows) << "\n";
    return 0;
  }
  // A cache opened to inspect it is read-only by choice; only damage found at open is worth saying.
  const std::string note = !c.damage().empty()                    ? ", damaged: " + c.damage()
                           : c.read_only() && !c.inspecting() ? ", read-only"
                                                               : "";
  llvm::outs() << llvm::formatv("{0} ({1} entries{2})\n", c.path(), entries->size(), note);
  for (const cache::CacheEntry& e : *entries) {
    llvm::outs() << llvm::formatv("{0,4}  {1,-36} {2,-44} {3,-7} {4,10} ms  {5}\n", e.id, printable(e.key.problem_key),
                                  printable(kernel_key_of(e)), e.tuned ? "tuned" : "untuned", ms(e.median_ms),
                                  e.key.device_name.empty() ? "any sm_" + std::to_string(e.key.compute_capability)
                                                            : printable(e.key.device_name));
  }
  return 0;
}

int show(cache::TuningCache& c, const std::string& id) {
  auto entry = c.find(id);
  if (!entry) return fail(llvm::toString(entry.takeError()));
  json j = entry_summary(*entry);
  if (auto spec = stored_spec(*entry)) {
    j["spec"] = std::move(*spec);
  } else {
    j["spec"] = nullptr;
    j["spec_problem"] = llvm::toString(spec.takeError());
  }
  j["kernel_symbol"] = entry->kernel_symbol;
  j["cubin_sha256"] = entry->cubin_sha256;
  j["p20_ms"] = entry->p20_ms ? json(*entry->p20_ms) : json(nullptr);
  j["p80_ms"] = entry->p80_ms ? json(*entry->p80_ms) : json(nullptr);
  j["generator_hash"] = entry->key.generator_hash;
  j["compile_options"] = entry->key.compile_options;
  j["driver_version"] = entry->key.driver_version;
  j["nvrtc_version"] = entry->key.nvrtc_version;
  j["sm_count"] = entry->key.sm_count;
  llvm::outs() << dumped(j) << "\n";
  return 0;
}

int verify(cache::TuningCache& c) {
  auto report = c.verify();
  if (!report) return fail(llvm::toString(report.takeError()));
  if (as_json) {
    json bad = json::array();
    for (const cache::BadEntry& b : report->bad) bad.push_back({{"id", b.id}, {"key", b.key}, {"reason", b.reason}});
    llvm::outs() << json{{"checked", report->checked}, {"bad", bad}, {"integrity_problems", report->integrity_problems},
                         {"ok", report->ok()}}
                        .dump(2, ' ', false, json::error_handler_t::replace)
                 << "\n";
  } else {
    llvm::outs() << llvm::formatv("checked {0} entries: {1}\n", report->checked, report->ok() ? "all good" : "problems found");
    for (const cache::BadEntry& b : report->bad) llvm::outs() << llvm::formatv("  entry {0}: {1}\n", b.id, b.reason);
    for (const std::string& p : report->integrity_problems) llvm::outs() << "  integrity: " << p << "\n";
  }
  return report->ok() ? 0 : 1;
}

}  // namespace

int run_cache() {
  if (words.empty()) return fail("say what to do: list, show ID, export FILE, import FILE, verify or clear", 2);
  const std::string verb = words[0];
  const bool needs_argument = verb == "show" || verb == "export" || verb == "import";
  if (needs_argument != (words.size() == 2) || words.size() > 2)
    return fail(needs_argument ? verb + " takes one argument" : verb + " takes no argument", 2);
  if (verb != "list" && verb != "show" && verb != "export" && verb != "import" && verb != "verify" && verb != "clear")
    return fail("unknown action '" + quote_prefix(verb) + "' (expected list, show, export, import, verify or clear)", 2);
  // A row id, key string or problem key is short printable text; anything else matches nothing,
  // and would only be echoed back.
  if (verb == "show" && (words[1].size() > kMaxIdChars || !is_printable(words[1])))
    return fail("show: '" + quote_prefix(words[1]) + "' is not a row id, key string or problem key", 2);
  auto max_bytes = max_input_bytes_from_options(kMaxImportBytes);
  if (!max_bytes) return fail(llvm::toString(max_bytes.takeError()), 2);

  // What only reads the cache must not create one where a mistyped path points.
  const bool only_reads = verb == "list" || verb == "show" || verb == "verify" || verb == "export";
  auto opened = cache_from_options(only_reads ? CacheUse::read_existing : CacheUse::read_write);
  if (!opened) return fail(llvm::toString(opened.takeError()));
  cache::TuningCache& c = **opened;

  if (verb == "list") return list(c);
  if (verb == "show") return show(c, words[1]);
  if (verb == "verify") return verify(c);
  if (verb == "export") {
    auto summary = cache::export_to_file(c, words[1]);
    if (!summary) return fail(llvm::toString(summary.takeError()));
    llvm::outs() << llvm::formatv("exported {0} entries to {1}{2}\n", summary->exported, words[1],
                                  summary->skipped ? llvm::formatv(" ({0} damaged entries skipped)", summary->skipped).str() : "");
    return 0;
  }
  if (verb == "import") {
    auto summary = cache::import_from_file(c, words[1], *max_bytes);
    if (!summary) return fail(llvm::toString(summary.takeError()));
    llvm::outs() << llvm::formatv("imported {0}: {1} added, {2} replaced, {3} kept\n", words[1], summary->added,
                                  summary->replaced, summary->kept);
    return 0;
  }
  auto cleared = c.clear();
  if (!cleared) return fail(llvm::toString(cleared.takeError()));
  llvm::outs() << llvm::formatv("cleared {0} entries from {1}\n", *cleared, c.path());
  return 0;
}

}  // namespace flashjit::tools
