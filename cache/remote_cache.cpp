#include "cache/remote_cache.h"

#include <algorithm>
#include <cstring>
#include <random>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "cache/codec.h"
#include "cache/redis_connection.h"
#include "support/log.h"
#include "support/quote.h"
#include "support/untrusted_input.h"

namespace flashjit::cache {
namespace {

using Clock = std::chrono::steady_clock;

// An entry's JSON is a cubin of at most a few MiB, base64-encoded, and its spec.
constexpr size_t kMaxEntryTextBytes = size_t(64) << 20;
constexpr const char* kUnsigned = "unsigned";
constexpr const char* kSignatureContext = "flashjit-remote-entry/1\n";

// Writes an entry by the cache's replace rule, atomically on the server. KEYS[1]: the entry key;
// ARGV: entry text, tuned ("1"/"0"), signer, signature, policy ("prefer_tuned"/"always").
// Kept: the existing entry is by the same signer and tuned, or both are untuned; an unsigned write
// never replaces a signed entry. Replaced: anything else (another key's entry, a broken hash, a
// value of another type). A tuned entry is never replaced by an untuned one of the same signer.
constexpr const char* kPublishScript = R"lua(
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'hash' and ARGV[5] ~= 'always' then
  local old = redis.call('HMGET', KEYS[1], 'tuned', 'signer')
  if old[2] == ARGV[3] and (old[1] == '1' or (old[1] == '0' and ARGV[2] == '0')) then return 'kept' end
  if ARGV[3] == 'unsigned' and old[2] and old[2] ~= 'unsigned' then return 'kept' end
end
if kind ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'entry', ARGV[1], 'tuned', ARGV[2], 'signer', ARGV[3], 'signature', ARGV[4])
if kind == 'none' then return 'added' end
return 'replaced'
)lua";

// Deletes the lock only while it holds the caller's token: a lock that expired and was taken by
// another tuner is theirs.
constexpr const char* kUnlockScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

std::string random_token() {
  std::random_device device;
  std::string token;
  for (int i = 0; i < 4; ++i) token += llvm::utohexstr(device(), /*LowerCase=*/true);
  return token;
}

bool is_text(const RedisReply& reply) { return reply.kind == RedisReply::Kind::text; }

// "used_memory:123\r\n..." -> the value of `field`.
std::string info_field(const std::string& info, const std::string& field) {
  const std::string prefix = field + ":";
  llvm::SmallVector<llvm::StringRef, 64> lines;
  llvm::StringRef(info).split(lines, '\n');
  for (llvm::StringRef line : lines)
    if (line.consume_front(prefix)) return line.rtrim("\r").str();
  return {};
}

uint64_t as_number(const std::string& text) {
  uint64_t value = 0;
  return llvm::StringRef(text).getAsInteger(10, value) ? 0 : value;
}

// HMGET of an entry's fields. An error reply other than WRONGTYPE (a value of another type under
// the key: that entry's problem) is the server's (NOAUTH, LOADING, MISCONF, ...): a failure, for
// the breaker.
llvm::Expected<RedisReply> read_entry(RedisConnection& connection, const std::string& entry_key) {
  auto reply = connection.run({"HMGET", entry_key, "entry", "tuned", "signer", "signature"});
  if (!reply || !reply->is_error() || llvm::StringRef(reply->text).startswith("WRONGTYPE")) return reply;
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "the server refused to read: %s",
                                 quote_prefix(reply->text, 200).c_str());
}

RemoteFetch refused(std::string why) { return RemoteFetch{RemoteStatus::rejected, std::nullopt, std::move(why)}; }

}  // namespace

RemoteFetch check_stored_entry(const RemoteSettings& settings, const std::string& entry_key,
                               const std::optional<CacheKey>& expected, const StoredFields& fields,
                               const EntryProblems& problems_of) {
  if (!fields.entry && !fields.tuned && !fields.signer && !fields.signature)
    return RemoteFetch{RemoteStatus::miss, std::nullopt, {}};
  if (!fields.entry || !fields.tuned || !fields.signer || !fields.signature)
    return refused("it is incomplete (a field is missing)");
  const std::string& text = *fields.entry;
  const std::string& tuned = *fields.tuned;
  const std::string& signer = *fields.signer;
  if (tuned != "1" && tuned != "0") return refused("its tuned flag is neither 1 nor 0");
  if (text.size() > kMaxEntryTextBytes) return refused("it is larger than any entry FlashJIT writes");
  // The signature first: nothing of an entry that does not verify is parsed.
  if (signer == kUnsigned) {
    if (!settings.allow_unsigned)
      return refused("it is unsigned (entries must be signed with the fleet key; FLASHJIT_REMOTE_CACHE_UNSIGNED=1 "
                     "accepts unsigned ones)");
  } else if (settings.key) {
    if (signer != settings.key->id())
      return refused("it is signed with another fleet key (" + quote_prefix(signer, 40) + ", this process has " +
                     settings.key->id() + ")");
    if (!settings.key->verifies(RemoteCache::signed_text(entry_key, tuned, text), *fields.signature))
      return refused("its signature does not verify (it was changed after it was signed)");
  } else if (!settings.allow_unsigned) {
    return refused("no fleet key verifies it");  // reads_allowed() keeps a reader from asking
  }
  auto document = parse_json(text);
  if (!document) return refused("its entry is not JSON: " + llvm::toString(document.takeError()));
  auto entry = entry_from_json(*document, problems_of);
  if (!entry) return refused(llvm::toString(entry.takeError()));
  if (RemoteCache::entry_key(entry->key) != entry_key || (expected && entry->key != *expected))
    return refused("it holds the entry of another key (" + quote_prefix(key_string(entry->key), 300) + ")");
  if (entry->tuned != (tuned == "1")) return refused("its tuned flag disagrees with its entry");
  return RemoteFetch{RemoteStatus::hit, std::move(*entry), {}};
}

std::string RemoteCache::signed_text(const std::string& entry_key, llvm::StringRef tuned, llvm::StringRef entry_text) {
  return std::string(kSignatureContext) + entry_key + "\n" + tuned.str() + "\n" + entry_text.str();
}

const char* remote_status_name(RemoteStatus status) {
  switch (status) {
    case RemoteStatus::hit: return "hit";
    case RemoteStatus::miss: return "miss";
    case RemoteStatus::rejected: return "rejected";
    case RemoteStatus::unavailable: return "unavailable";
  }
  return "unknown";
}

RemoteCache::RemoteCache(RemoteSettings settings, EntryProblems problems_of)
    : settings_(std::move(settings)), problems_of_(std::move(problems_of)) {}

RemoteCache::~RemoteCache() = default;

std::string RemoteCache::describe() const { return settings_.endpoint.describe() + ", " + settings_.signing(); }

std::string RemoteCache::entry_key(const CacheKey& key) { return std::string(kRemotePrefix) + "entry:" + key_string(key); }
std::string RemoteCache::lock_key(const CacheKey& key) { return std::string(kRemotePrefix) + "lock:" + key_string(key); }

RemoteCounters RemoteCache::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

bool RemoteCache::backing_off() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return Clock::now() < down_until_;
}

llvm::Error RemoteCache::unavailable_error() const {
  // last_failure_ names the endpoint.
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "the remote tuning cache is unavailable: %s",
                                 last_failure_.c_str());
}

void RemoteCache::open_breaker(const std::string& why) {
  connection_.reset();
  down_until_ = Clock::now() + std::chrono::milliseconds(settings_.backoff_ms);
  last_failure_ = why;
  ++counters_.failures;
  // One warning per failure: the back-off keeps every later call from failing (and logging) again.
  log::warning(llvm::formatv("remote tuning cache unavailable: {0}; going on with the local cache and tuning, "
                             "not trying it again for {1} s",
                             why, settings_.backoff_ms / 1000.0)
                   .str());
}

bool RemoteCache::connect() {
  auto opened = RedisConnection::open(settings_.endpoint, settings_.timeout_ms);
  if (!opened) {
    ++counters_.unavailable;
    open_breaker(llvm::toString(opened.takeError()));
    return false;
  }
  connection_ = std::move(*opened);
  return true;
}

template <typename Operation>
auto RemoteCache::with_connection(Operation operation) -> decltype(operation(std::declval<RedisConnection&>())) {
  // Called with mutex_ held.
  if (Clock::now() < down_until_) {
    ++counters_.unavailable;
    return unavailable_error();
  }
  const bool reused = connection_ != nullptr;
  if (!connection_ && !connect()) return unavailable_error();
  auto result = operation(*connection_);
  // A kept connection the server has since closed (restarted, or it drops idle clients) fails at
  // once, not by timing out: one new connection is tried before the server counts as failed.
  if (!result && reused && !connection_->last_failure_timed_out()) {
    llvm::consumeError(result.takeError());
    connection_.reset();
    if (!connect()) return unavailable_error();
    result = operation(*connection_);
  }
  if (!result) {
    ++counters_.unavailable;
    open_breaker(llvm::toString(result.takeError()));
    return unavailable_error();
  }
  return result;
}

RemoteFetch RemoteCache::rejected(const std::string& entry_key, const std::string& why) {
  ++counters_.rejected;
  log::warning("remote tuning cache: ignoring the entry " +
               quote_prefix(llvm::StringRef(entry_key).drop_front(strlen(kRemotePrefix)), 300) + ": " + why);
  return RemoteFetch{RemoteStatus::rejected, std::nullopt, why};
}

void RemoteCache::note_rejected(const CacheKey& key, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  rejected(entry_key(key), why);
}

RemoteFetch RemoteCache::verify(const std::string& entry_key, const std::optional<CacheKey>& expected,
                                const RedisReply& reply) {
  if (reply.is_error()) return rejected(entry_key, "it is not a FlashJIT entry (" + quote_prefix(reply.text, 200) + ")");
  if (reply.kind != RedisReply::Kind::array || reply.elements.size() != 4)
    return rejected(entry_key, "the server answered HMGET with something other than 4 values");
  StoredFields fields;
  std::optional<std::string>* slots[] = {&fields.entry, &fields.tuned, &fields.signer, &fields.signature};
  for (size_t i = 0; i < 4; ++i) {
    const RedisReply& field = reply.elements[i];
    if (!field.is_nil() && !is_text(field)) return rejected(entry_key, "the server answered HMGET with a non-string");
    if (is_text(field)) *slots[i] = field.text;
  }
  RemoteFetch checked = check_stored_entry(settings_, entry_key, expected, fields, problems_of_);
  if (checked.status == RemoteStatus::rejected) return rejected(entry_key, checked.why);
  ++(checked.status == RemoteStatus::hit ? counters_.hits : counters_.misses);
  return checked;
}

RemoteFetch RemoteCache::fetch(const CacheKey& key) { return fetch_entry(entry_key(key), key); }

RemoteFetch RemoteCache::fetch_stored(const std::string& stored) { return fetch_entry(stored, std::nullopt); }

RemoteFetch RemoteCache::fetch_entry(const std::string& stored, const std::optional<CacheKey>& expected) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!settings_.reads_allowed()) return RemoteFetch{RemoteStatus::unavailable, std::nullopt, settings_.signing()};
  auto reply = with_connection([&](RedisConnection& c) { return read_entry(c, stored); });
  if (!reply) return RemoteFetch{RemoteStatus::unavailable, std::nullopt, llvm::toString(reply.takeError())};
  return verify(stored, expected, *reply);
}

llvm::Error RemoteCache::writes_backing_off() {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = Clock::now();
  if (now >= writes_down_until_ && now >= down_until_) return llvm::Error::success();
  ++counters_.unavailable;
  if (now < down_until_) return unavailable_error();
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "the remote tuning cache is full (%s)",
                                 last_failure_.c_str());
}

llvm::Expected<StoreOutcome> RemoteCache::publish(const CacheEntry& given, ReplacePolicy policy) {
  if (!settings_.key && !settings_.allow_unsigned)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "not publishing to the remote tuning cache: %s", settings_.signing().c_str());
  if (llvm::Error backing_off = writes_backing_off()) return backing_off;  // before hashing anything
  CacheEntry entry = given;
  const std::string digest = sha256_hex(entry.cubin);
  if (!entry.cubin_sha256.empty() && entry.cubin_sha256 != digest)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "the entry's cubin does not match its sha256");
  entry.cubin_sha256 = digest;
  entry.cubin_size = entry.cubin.size();
  if (entry.created_unix == 0)
    entry.created_unix = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  auto object = entry_to_json(entry);
  if (!object) return object.takeError();
  const std::string text = object->dump();
  const std::string stored = entry_key(entry.key);
  const std::string tuned = entry.tuned ? "1" : "0";
  const std::string signer = settings_.key ? settings_.key->id() : kUnsigned;
  const std::string signature = settings_.key ? settings_.key->sign(signed_text(stored, tuned, text)) : kUnsigned;
  const std::string how = policy == ReplacePolicy::always ? "always" : "prefer_tuned";

  std::lock_guard<std::mutex> lock(mutex_);
  auto reply = with_connection([&](RedisConnection& c) {
    return c.run({"EVAL", kPublishScript, "1", stored, text, tuned, signer, signature, how});
  });
  if (!reply) return reply.takeError();
  if (reply->is_error()) {
    const std::string why = "the server refused the write: " + quote_prefix(reply->text, 300);
    if (reply->text.find("OOM") != std::string::npos) {
      // Full: reads still serve; writes wait out the back-off (one warning).
      writes_down_until_ = Clock::now() + std::chrono::milliseconds(settings_.backoff_ms);
      last_failure_ = why;
      ++counters_.failures;
      log::warning(llvm::formatv("remote tuning cache {0} is full ({1}); not writing to it for {2} s",
                                 settings_.endpoint.describe(), quote_prefix(reply->text, 200),
                                 settings_.backoff_ms / 1000.0)
                       .str());
    }
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", why.c_str());
  }
  if (reply->text == "added" || reply->text == "replaced") {
    ++counters_.published;
    return reply->text == "added" ? StoreOutcome::added : StoreOutcome::replaced;
  }
  if (reply->text == "kept") {
    ++counters_.publish_kept;
    return StoreOutcome::kept_existing;
  }
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "the server answered the write with %s",
                                 quote_prefix(reply->text, 100).c_str());
}

RemoteCache::LockResult RemoteCache::lock(const CacheKey& key, std::string& token) {
  token = random_token();
  std::lock_guard<std::mutex> guard(mutex_);
  auto reply = with_connection([&](RedisConnection& c) {
    return c.run({"SET", lock_key(key), token, "NX", "PX", std::to_string(settings_.lock_ms)});
  });
  if (!reply) {
    llvm::consumeError(reply.takeError());
    return LockResult::unavailable;
  }
  if (is_text(*reply) && reply->text == "OK") {
    ++counters_.locks_taken;
    return LockResult::acquired;
  }
  if (reply->is_nil()) {
    ++counters_.locks_found_held;
    return LockResult::held;
  }
  return LockResult::unavailable;  // an error reply (a full server refuses SET): tune without the lock
}

void RemoteCache::unlock(const CacheKey& key, const std::string& token) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto reply = with_connection([&](RedisConnection& c) { return c.run({"EVAL", kUnlockScript, "1", lock_key(key), token}); });
  if (!reply) llvm::consumeError(reply.takeError());  // it expires by itself
}

llvm::Expected<std::vector<std::string>> RemoteCache::entry_keys() {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<std::string> keys;
  std::string cursor = "0";
  // A server that never ends its SCAN (a hostile or broken one) must not keep a command forever.
  constexpr int kMaxScanRounds = 1000000;
  int rounds = 0;
  do {
    if (++rounds > kMaxScanRounds)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "the server's SCAN did not end after %d rounds",
                                     kMaxScanRounds);
    auto reply = with_connection([&](RedisConnection& c) {
      return c.run({"SCAN", cursor, "MATCH", std::string(kRemotePrefix) + "entry:*", "COUNT", "1000"});
    });
    if (!reply) return reply.takeError();
    if (reply->kind != RedisReply::Kind::array || reply->elements.size() != 2 || !is_text(reply->elements[0]) ||
        reply->elements[1].kind != RedisReply::Kind::array)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "the server answered SCAN with something else");
    cursor = reply->elements[0].text;
    for (const RedisReply& key : reply->elements[1].elements)
      if (is_text(key)) keys.push_back(key.text);
  } while (cursor != "0");
  // SCAN may return a key twice.
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

llvm::Expected<std::pair<double, std::string>> RemoteCache::ping() {
  std::lock_guard<std::mutex> guard(mutex_);
  const auto start = Clock::now();
  auto replies = with_connection([&](RedisConnection& c) { return c.run_all({{"PING"}, {"INFO", "server"}}); });
  if (!replies) return replies.takeError();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if ((*replies)[0].is_error())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "PING failed: %s",
                                   quote_prefix((*replies)[0].text, 200).c_str());
  return std::make_pair(ms, quote_prefix(info_field((*replies)[1].text, "redis_version"), 40));
}

llvm::Expected<RemoteStats> RemoteCache::stats() {
  auto pinged = ping();
  if (!pinged) return pinged.takeError();
  auto keys = entry_keys();
  if (!keys) return keys.takeError();
  RemoteStats stats;
  stats.ping_ms = pinged->first;
  stats.server_version = pinged->second;
  std::lock_guard<std::mutex> guard(mutex_);
  auto memory = with_connection([&](RedisConnection& c) {
    return c.run_all({{"INFO", "memory"}, {"CONFIG", "GET", "maxmemory-policy"}});
  });
  if (!memory) return memory.takeError();
  const std::string& info = (*memory)[0].text;
  stats.used_memory = as_number(info_field(info, "used_memory"));
  stats.maxmemory = as_number(info_field(info, "maxmemory"));
  stats.maxmemory_policy = quote_prefix(info_field(info, "maxmemory_policy"), 40);
  constexpr size_t kBatch = 256;
  for (size_t first = 0; first < keys->size(); first += kBatch) {
    std::vector<std::vector<std::string>> commands;
    const size_t last = std::min(keys->size(), first + kBatch);
    for (size_t i = first; i < last; ++i) {
      commands.push_back({"HMGET", (*keys)[i], "tuned", "signer"});
      commands.push_back({"HSTRLEN", (*keys)[i], "entry"});
    }
    auto replies = with_connection([&](RedisConnection& c) { return c.run_all(commands); });
    if (!replies) return replies.takeError();
    for (size_t i = 0; i + 1 < replies->size(); i += 2) {
      const RedisReply& flags = (*replies)[i];
      if (flags.kind != RedisReply::Kind::array || flags.elements.size() != 2 || !is_text(flags.elements[0]) ||
          !is_text(flags.elements[1])) {
        ++stats.not_entries;
        continue;
      }
      ++stats.entries;
      if (flags.elements[0].text == "1") ++stats.tuned;
      const std::string& signer = flags.elements[1].text;
      if (signer == kUnsigned) ++stats.unsigned_entries;
      else if (settings_.key && signer == settings_.key->id()) ++stats.signed_by_this_key;
      else ++stats.signed_by_other_keys;
      if ((*replies)[i + 1].kind == RedisReply::Kind::integer) stats.entry_bytes += uint64_t((*replies)[i + 1].integer);
    }
  }
  return stats;
}

}  // namespace flashjit::cache
