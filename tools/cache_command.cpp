// flashjit cache list|show ID|export FILE|import FILE|verify|clear|stats [--json] [--cache PATH]:
// look into and manage the tuning cache; push|pull|stats --remote URL: sync it with the fleet's
// remote cache (Redis), counting what was added, replaced, kept and rejected.
#include <cmath>

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "cache/cache_json.h"
#include "cache/tuning_cache.h"
#include "cache/remote_cache.h"
#include "support/error.h"
#include "support/log.h"
#include "support/quote.h"
#include "support/untrusted_input.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/subcommands.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;
using nlohmann::json;

cl::list<std::string> words(cl::Positional,
                            cl::desc("list | show ID | export FILE | import FILE | verify | clear | stats | push | pull"),
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

// What a push or pull did, by the rule of the cache it wrote to.
struct SyncCounts {
  size_t added = 0, replaced = 0, kept = 0, rejected = 0;
  void count(cache::StoreOutcome outcome) {
    if (outcome == cache::StoreOutcome::added) ++added;
    if (outcome == cache::StoreOutcome::replaced) ++replaced;
    if (outcome == cache::StoreOutcome::kept_existing) ++kept;
  }
  json as_json() const { return {{"added", added}, {"replaced", replaced}, {"kept", kept}, {"rejected", rejected}}; }
  std::string text() const {
    return llvm::formatv("{0} added, {1} replaced, {2} kept, {3} rejected", added, replaced, kept, rejected);
  }
};

int print_sync(const char* verb, const std::string& where, const SyncCounts& counts) {
  if (as_json) {
    json j = counts.as_json();
    j["action"] = verb;
    j["remote"] = where;
    llvm::outs() << j.dump(2) << "\n";
  } else {
    llvm::outs() << verb << " " << where << ": " << counts.text() << "\n";
  }
  return 0;
}

// Every local entry that passes the checks, published by the replace rule; one that does not is
// rejected (counted, warned about) and not sent.
int push(cache::TuningCache& local, cache::RemoteCache& remote) {
  SyncCounts counts;
  std::string failure;
  llvm::Error walked = local.for_each_entry([&](const cache::CacheEntry& entry) -> llvm::Error {
    if (std::string problems = local.entry_problems(entry); !problems.empty()) {
      log::warning("push: not sending damaged local entry " + std::to_string(entry.id) + ": " + problems);
      ++counts.rejected;
      return llvm::Error::success();
    }
    auto outcome = remote.publish(entry);
    if (!outcome) return outcome.takeError();  // unavailable or full: the rest would fail the same way
    counts.count(*outcome);
    return llvm::Error::success();
  });
  if (walked) return fail("push to " + remote.settings().endpoint.describe() + " stopped: " + llvm::toString(std::move(walked)) +
                          " (" + counts.text() + " before it)");
  return print_sync("pushed to", remote.describe(), counts);
}

// Every remote entry that verifies, stored locally by the replace rule in one transaction.
int pull(cache::TuningCache& local, cache::RemoteCache& remote) {
  auto keys = remote.entry_keys();
  if (!keys) return fail(llvm::toString(keys.takeError()));
  SyncCounts counts;
  std::vector<cache::CacheEntry> verified;
  for (const std::string& key : *keys) {
    cache::RemoteFetch fetched = remote.fetch_stored(key);
    if (fetched.status == cache::RemoteStatus::unavailable)
      return fail("pull from " + remote.settings().endpoint.describe() + " stopped: " + fetched.why);
    if (fetched.status == cache::RemoteStatus::rejected) ++counts.rejected;
    if (fetched.status == cache::RemoteStatus::hit) verified.push_back(std::move(*fetched.entry));
  }
  auto stored = local.store_all(verified, cache::ReplacePolicy::prefer_tuned);
  if (!stored) return fail("pull: " + llvm::toString(stored.takeError()));
  for (const cache::StoreResult& result : *stored) counts.count(result.outcome);
  return print_sync("pulled from", remote.describe(), counts);
}

int local_stats(cache::TuningCache& c, json& report) {
  auto entries = c.list();
  if (!entries) return fail(llvm::toString(entries.takeError()));
  size_t tuned = 0;
  uint64_t bytes = 0;
  for (const cache::CacheEntry& e : *entries) {
    tuned += e.tuned ? 1 : 0;
    bytes += e.cubin_size;
  }
  report["local"] = {{"path", c.path()}, {"entries", entries->size()}, {"tuned", tuned}, {"cubin_bytes", bytes}};
  return 0;
}

int stats(cache::TuningCache* local, cache::RemoteCache* remote) {
  json report = json::object();
  if (local)
    if (int failed = local_stats(*local, report)) return failed;
  if (remote) {
    auto s = remote->stats();
    if (!s) return fail(llvm::toString(s.takeError()));
    report["remote"] = {{"endpoint", remote->describe()},   {"server_version", s->server_version},
                        {"ping_ms", s->ping_ms},            {"used_memory", s->used_memory},
                        {"maxmemory", s->maxmemory},        {"maxmemory_policy", s->maxmemory_policy},
                        {"entries", s->entries},            {"tuned", s->tuned},
                        {"signed_by_this_key", s->signed_by_this_key},
                        {"signed_by_other_keys", s->signed_by_other_keys},
                        {"unsigned", s->unsigned_entries},  {"not_entries", s->not_entries},
                        {"entry_bytes", s->entry_bytes}};
  }
  if (as_json) {
    llvm::outs() << dumped(report) << "\n";
    return 0;
  }
  if (report.contains("local")) {
    const json& l = report["local"];
    llvm::outs() << llvm::formatv("local {0}: {1} entries ({2} tuned), {3} KiB of cubins\n", l["path"].get<std::string>(),
                                  l["entries"].get<size_t>(), l["tuned"].get<size_t>(), l["cubin_bytes"].get<uint64_t>() / 1024);
  }
  if (report.contains("remote")) {
    const json& r = report["remote"];
    llvm::outs() << llvm::formatv("remote {0}\n  Redis {1}, ping {2:F2} ms, {3} KiB used of {4} (policy {5})\n",
                                  r["endpoint"].get<std::string>(), r["server_version"].get<std::string>(),
                                  r["ping_ms"].get<double>(), r["used_memory"].get<uint64_t>() / 1024,
                                  r["maxmemory"].get<uint64_t>() ? std::to_string(r["maxmemory"].get<uint64_t>() / 1024) + " KiB"
                                                                 : std::string("no limit"),
                                  r["maxmemory_policy"].get<std::string>());
    llvm::outs() << llvm::formatv("  {0} entries ({1} tuned), {2} KiB: {3} signed with this key, {4} with other keys, "
                                  "{5} unsigned; {6} other values under the prefix\n",
                                  r["entries"].get<size_t>(), r["tuned"].get<size_t>(),
                                  r["entry_bytes"].get<uint64_t>() / 1024, r["signed_by_this_key"].get<size_t>(),
                                  r["signed_by_other_keys"].get<size_t>(), r["unsigned"].get<size_t>(),
                                  r["not_entries"].get<size_t>());
  }
  return 0;
}

}  // namespace

int run_cache() {
  if (words.empty())
    return fail("say what to do: list, show ID, export FILE, import FILE, verify, clear, stats, push or pull", 2);
  const std::string verb = words[0];
  const bool needs_argument = verb == "show" || verb == "export" || verb == "import";
  if (needs_argument != (words.size() == 2) || words.size() > 2)
    return fail(needs_argument ? verb + " takes one argument" : verb + " takes no argument", 2);
  const bool remote_verb = verb == "push" || verb == "pull";
  if (verb != "list" && verb != "show" && verb != "export" && verb != "import" && verb != "verify" && verb != "clear" &&
      verb != "stats" && !remote_verb)
    return fail("unknown action '" + quote_prefix(verb) +
                    "' (expected list, show, export, import, verify, clear, stats, push or pull)",
                2);
  // A row id, key string or problem key is short printable text; anything else matches nothing,
  // and would only be echoed back.
  if (verb == "show" && (words[1].size() > kMaxIdChars || !is_printable(words[1])))
    return fail("show: '" + quote_prefix(words[1]) + "' is not a row id, key string or problem key", 2);
  auto max_bytes = max_input_bytes_from_options(kMaxImportBytes);
  if (!max_bytes) return fail(llvm::toString(max_bytes.takeError()), 2);

  // The remote tier before the local cache is opened (or created): a bad URL changes nothing.
  auto remote = remote_from_options(/*required=*/remote_verb);
  if (!remote) return fail(llvm::toString(remote.takeError()), 2);
  if (*remote && !remote_verb && verb != "stats")
    return fail("--remote is for push, pull and stats; " + verb + " works on the local cache", 2);
  if (verb == "pull" && !(*remote)->settings().reads_allowed())
    return fail("pull from " + (*remote)->settings().endpoint.describe() + ": " + (*remote)->settings().signing());
  if (verb == "push" && !(*remote)->settings().key && !(*remote)->settings().allow_unsigned)
    return fail("push to " + (*remote)->settings().endpoint.describe() + ": " + (*remote)->settings().signing());

  // What only reads the cache must not create one where a mistyped path points.
  const bool only_reads = verb == "list" || verb == "show" || verb == "verify" || verb == "export" || verb == "push" ||
                          verb == "stats";
  auto opened = cache_from_options(only_reads ? CacheUse::read_existing : CacheUse::read_write);
  // `stats --remote` reports the fleet's cache also where this machine has none.
  if (!opened && verb == "stats" && *remote) {
    llvm::consumeError(opened.takeError());
    return stats(nullptr, remote->get());
  }
  if (!opened) return fail(llvm::toString(opened.takeError()));
  cache::TuningCache& c = **opened;
  if (verb == "stats") return stats(&c, remote->get());
  if (verb == "push") return push(c, **remote);
  if (verb == "pull") {
    if (c.read_only()) return fail("pull: the tuning cache " + c.path() + " is read-only (" + c.read_only_reason() + ")");
    return pull(c, **remote);
  }

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
