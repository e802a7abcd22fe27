// The fleet's remote tier against a real redis-server started for each test: entries round-trip
// signed; the replace rule holds on the server; every kind of bad entry is rejected, warned about
// and counted; every kind of bad server (killed, paused, stopped, full, not Redis, wrong password)
// costs at most the timeout and one warning, then is left alone; the single-flight lock.
#include <chrono>
#include <csignal>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cache/codec.h"
#include "cache/remote_cache.h"
#include "helpers/redis_server.h"
#include "runtime/cache_entry_check.h"
#include "unit/cache_test_support.h"
#include "unit/remote_test_support.h"

namespace flashjit::cache {
namespace {

using flashjit::testing::RedisServer;
using flashjit::testing::RedisServerOptions;
using testing::captured_warnings;
using testing::sample_entry;
using testing::sample_key;
using testing::warnings_are_shown;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class RemoteCacheTest : public remote_testing::RedisTest {
 protected:
  std::unique_ptr<RemoteCache> remote(const std::string& key = remote_testing::kFleetKey, int timeout_ms = 100) {
    return remote_testing::remote_for(server->url(), key, timeout_ms);
  }
  // The stored hash field of `key`'s entry, through redis-cli.
  std::string field(const CacheKey& key, const std::string& name) {
    auto value = server->command({"HGET", RemoteCache::entry_key(key), name});
    EXPECT_TRUE(bool(value)) << llvm::toString(value.takeError());
    return value ? *value : std::string();
  }
  void set_field(const CacheKey& key, const std::string& name, const std::string& value) {
    auto done = server->command({"HSET", RemoteCache::entry_key(key), name, value});
    ASSERT_TRUE(bool(done)) << llvm::toString(done.takeError());
  }
  // Writes `text` as the entry of `stored`, signed with `key` as a writer holding it would.
  void write_signed(const std::string& stored, const std::string& text, const std::string& tuned = "1",
                    const std::string& key = remote_testing::kFleetKey) {
    auto fleet = FleetKey::from_bytes(key);
    ASSERT_TRUE(bool(fleet));
    auto done = server->command({"HSET", stored, "entry", text, "tuned", tuned, "signer", fleet->id(), "signature",
                                 fleet->sign(RemoteCache::signed_text(stored, tuned, text))});
    ASSERT_TRUE(bool(done)) << llvm::toString(done.takeError());
  }
  // Fetches `key` expecting a rejection whose reason holds `why`, warned about once.
  void expect_rejected(RemoteCache& cache, const CacheKey& key, const std::string& why) {
    RemoteFetch fetched;
    const std::string warnings = captured_warnings([&] { fetched = cache.fetch(key); });
    EXPECT_EQ(fetched.status, RemoteStatus::rejected) << remote_status_name(fetched.status) << " " << fetched.why;
    EXPECT_NE(fetched.why.find(why), std::string::npos) << fetched.why;
    EXPECT_FALSE(fetched.entry.has_value());
    if (warnings_are_shown()) {
      EXPECT_EQ(count_of(warnings, "remote tuning cache: ignoring the entry"), 1u) << warnings;
      EXPECT_NE(warnings.find(why), std::string::npos) << warnings;
    }
  }
};

TEST_F(RemoteCacheTest, AnEntryRoundTripsSignedAndVerified) {
  auto writer = remote();
  const CacheEntry entry = sample_entry(sample_key(0), /*tuned=*/true, 5);
  auto published = writer->publish(entry);
  ASSERT_TRUE(bool(published)) << llvm::toString(published.takeError());
  EXPECT_EQ(*published, StoreOutcome::added);

  auto reader = remote();
  RemoteFetch fetched = reader->fetch(sample_key(0));
  ASSERT_EQ(fetched.status, RemoteStatus::hit) << fetched.why;
  const CacheEntry& got = *fetched.entry;
  EXPECT_EQ(got.key, entry.key);
  EXPECT_EQ(got.cubin, entry.cubin);
  EXPECT_EQ(got.cubin_sha256, sha256_hex(entry.cubin));
  EXPECT_EQ(got.spec_json, nlohmann::json::parse(entry.spec_json).dump());
  EXPECT_EQ(got.kernel_symbol, entry.kernel_symbol);
  EXPECT_EQ(got.median_ms, entry.median_ms);
  EXPECT_EQ(got.p20_ms, entry.p20_ms);
  EXPECT_EQ(got.p80_ms, entry.p80_ms);
  EXPECT_EQ(got.candidates_tried, entry.candidates_tried);
  EXPECT_TRUE(got.tuned);
  EXPECT_EQ(got.created_unix, entry.created_unix);
  EXPECT_EQ(reader->fetch(sample_key(1)).status, RemoteStatus::miss);
  const RemoteCounters counters = reader->counters();
  EXPECT_EQ(counters.hits, 1u);
  EXPECT_EQ(counters.misses, 1u);
  EXPECT_EQ(counters.rejected, 0u);

  // What is stored: the entry's JSON and its flags, signed by this key.
  auto fleet = FleetKey::from_bytes(remote_testing::kFleetKey);
  EXPECT_EQ(field(sample_key(0), "signer"), fleet->id());
  EXPECT_EQ(field(sample_key(0), "tuned"), "1");
  EXPECT_EQ(field(sample_key(0), "signature"),
            fleet->sign(RemoteCache::signed_text(RemoteCache::entry_key(sample_key(0)), "1", field(sample_key(0), "entry"))));
}

TEST_F(RemoteCacheTest, ATunedEntryReplacesAnUntunedOneNeverTheReverse) {
  auto cache = remote();
  const CacheKey key = sample_key(2);
  EXPECT_EQ(*cache->publish(sample_entry(key, false, 1)), StoreOutcome::added);
  EXPECT_EQ(*cache->publish(sample_entry(key, false, 2)), StoreOutcome::kept_existing);
  EXPECT_EQ(*cache->publish(sample_entry(key, true, 3)), StoreOutcome::replaced);
  EXPECT_EQ(*cache->publish(sample_entry(key, false, 4)), StoreOutcome::kept_existing);
  EXPECT_EQ(*cache->publish(sample_entry(key, true, 5)), StoreOutcome::kept_existing);
  RemoteFetch fetched = cache->fetch(key);
  ASSERT_EQ(fetched.status, RemoteStatus::hit) << fetched.why;
  EXPECT_EQ(fetched.entry->cubin, testing::sample_cubin(3));
  // A deliberate re-tune replaces whatever is there.
  EXPECT_EQ(*cache->publish(sample_entry(key, true, 6), ReplacePolicy::always), StoreOutcome::replaced);
  EXPECT_EQ(cache->fetch(key).entry->cubin, testing::sample_cubin(6));
  // Another key's entry is replaced (a fleet that changed its key heals); an unsigned writer never
  // replaces a signed entry.
  auto other = remote(remote_testing::kOtherFleetKey);
  EXPECT_EQ(*other->publish(sample_entry(key, false, 7)), StoreOutcome::replaced);
  EXPECT_EQ(*cache->publish(sample_entry(key, false, 8)), StoreOutcome::replaced);
  auto unsigned_writer = remote_testing::remote_for(server->url(), "", 100, /*allow_unsigned=*/true);
  EXPECT_EQ(*unsigned_writer->publish(sample_entry(key, true, 9)), StoreOutcome::kept_existing);
  EXPECT_EQ(cache->fetch(key).entry->cubin, testing::sample_cubin(8));
}

TEST_F(RemoteCacheTest, BadEntriesAreRejectedWarnedAndCounted) {
  auto writer = remote();
  for (int n = 0; n < 8; ++n) ASSERT_TRUE(bool(writer->publish(sample_entry(sample_key(n), true, n))));
  auto reader = remote();

  // A value of another type under the key.
  ASSERT_TRUE(bool(server->command({"DEL", RemoteCache::entry_key(sample_key(0))})));
  ASSERT_TRUE(bool(server->command({"SET", RemoteCache::entry_key(sample_key(0)), "not a hash"})));
  expect_rejected(*reader, sample_key(0), "it is not a FlashJIT entry (WRONGTYPE");

  // A truncated value: its signature no longer verifies.
  const std::string text = field(sample_key(1), "entry");
  set_field(sample_key(1), "entry", text.substr(0, text.size() / 2));
  expect_rejected(*reader, sample_key(1), "its signature does not verify");

  // A wrong signature.
  set_field(sample_key(2), "signature", std::string(64, '0'));
  expect_rejected(*reader, sample_key(2), "its signature does not verify");

  // A tampered cubin, signed by a writer that has the key: the cubin's SHA-256 still catches it.
  nlohmann::json tampered = nlohmann::json::parse(field(sample_key(3), "entry"));
  tampered["cubin_base64"] = base64_encode(testing::sample_cubin(99));
  write_signed(RemoteCache::entry_key(sample_key(3)), tampered.dump());
  expect_rejected(*reader, sample_key(3), "field 'cubin_sha256' does not match the cubin");

  // Signed with another fleet key.
  ASSERT_TRUE(bool(remote(remote_testing::kOtherFleetKey)->publish(sample_entry(sample_key(4), true, 4),
                                                                   ReplacePolicy::always)));
  expect_rejected(*reader, sample_key(4), "it is signed with another fleet key");

  // The entry of another device, moved (and re-signed) under this key.
  CacheKey other_device = sample_key(5);
  other_device.device_name = "NVIDIA A100-SXM4-80GB";
  other_device.compute_capability = 90;
  write_signed(RemoteCache::entry_key(other_device), field(sample_key(5), "entry"));
  expect_rejected(*reader, other_device, "it holds the entry of another key");

  // Not JSON, signed.
  write_signed(RemoteCache::entry_key(sample_key(6)), "{\"format\": [1, 2");
  expect_rejected(*reader, sample_key(6), "its entry is not JSON");

  // A tuned flag that disagrees with the entry, signed.
  write_signed(RemoteCache::entry_key(sample_key(7)), field(sample_key(7), "entry"), "0");
  expect_rejected(*reader, sample_key(7), "its tuned flag disagrees with its entry");

  // A field missing.
  ASSERT_TRUE(bool(server->command({"HDEL", RemoteCache::entry_key(sample_key(7)), "signer"})));
  expect_rejected(*reader, sample_key(7), "it is incomplete");

  const RemoteCounters counters = reader->counters();
  EXPECT_EQ(counters.rejected, 9u);
  EXPECT_EQ(counters.hits, 0u);
  EXPECT_EQ(counters.failures, 0u);  // bad entries are not a bad server: nothing backs off
}

TEST_F(RemoteCacheTest, UnsignedEntriesAreRefusedByDefault) {
  auto unsigned_writer = remote_testing::remote_for(server->url(), "", 100, /*allow_unsigned=*/true);
  ASSERT_EQ(*unsigned_writer->publish(sample_entry(sample_key(0), true)), StoreOutcome::added);
  EXPECT_EQ(field(sample_key(0), "signer"), "unsigned");
  expect_rejected(*remote(), sample_key(0), "it is unsigned");
  // Without a key and without unsigned mode nothing is read or written at all.
  auto keyless = remote_testing::remote_for(server->url(), "", 100, /*allow_unsigned=*/false);
  RemoteFetch refused = keyless->fetch(sample_key(0));
  EXPECT_EQ(refused.status, RemoteStatus::unavailable);
  EXPECT_NE(refused.why.find("no fleet key"), std::string::npos) << refused.why;
  auto not_published = keyless->publish(sample_entry(sample_key(1), true));
  ASSERT_FALSE(bool(not_published));
  EXPECT_NE(llvm::toString(not_published.takeError()).find("not publishing"), std::string::npos);
  // Unsigned mode reads it.
  EXPECT_EQ(remote_testing::remote_for(server->url(), "", 100, true)->fetch(sample_key(0)).status, RemoteStatus::hit);
}

// A killed server: the open connection fails at once, one warning, then the breaker answers
// every call at once without trying, and without another warning.
TEST_F(RemoteCacheTest, AKilledServerCostsOneFailureAndOneWarningThenNothing) {
  auto cache = remote();
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(0), true))));
  server->kill();
  std::string warnings = captured_warnings([&] {
    const auto start = Clock::now();
    EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::unavailable);
    EXPECT_LT(ms_since(start), 100 + remote_testing::kSlackMs);
    const auto later = Clock::now();
    for (int i = 0; i < 100; ++i) EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::unavailable);
    EXPECT_FALSE(bool(cache->publish(sample_entry(sample_key(1), true))));
    std::string token;
    EXPECT_EQ(cache->lock(sample_key(1), token), RemoteCache::LockResult::unavailable);
    EXPECT_LT(ms_since(later), 50.0);  // no connection attempt while backing off
  });
  EXPECT_TRUE(cache->backing_off());
  EXPECT_EQ(cache->counters().failures, 1u);
  EXPECT_EQ(cache->counters().unavailable, 103u);
  if (warnings_are_shown()) {
    EXPECT_EQ(count_of(warnings, "remote tuning cache unavailable"), 1u) << warnings;
  }
}

// hiredis writes with write(): to a unix socket whose server is gone that raises SIGPIPE, whose
// default action would end this process. It must be a failure like any other.
TEST_F(RemoteCacheTest, AServerGoneFromAUnixSocketDoesNotEndTheProcess) {
  RedisServerOptions options;
  options.unix_socket = true;
  restart(options);
  auto cache = remote();
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(0), true))));
  EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::hit);
  server->kill();
  EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::unavailable);
  EXPECT_EQ(cache->counters().failures, 1u);
  // SIGPIPE neither ended the process nor stayed pending for the host to receive later.
  sigset_t pending;
  sigemptyset(&pending);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

// A server that dropped this process's idle connection (its `timeout`, a restart, a proxy): the next
// call finds out at once, connects again and is served; no failure, no back-off. A large write
// that meets the reset on the way (SIGPIPE on TCP) is the same.
TEST_F(RemoteCacheTest, AClosedIdleConnectionIsReplacedWithoutAFailure) {
  auto cache = remote();
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(0), true))));
  ASSERT_TRUE(bool(server->command({"CLIENT", "KILL", "TYPE", "normal"})));
  RemoteFetch fetched = cache->fetch(sample_key(0));
  EXPECT_EQ(fetched.status, RemoteStatus::hit) << fetched.why;
  ASSERT_TRUE(bool(server->command({"CLIENT", "KILL", "TYPE", "normal"})));
  CacheEntry big = sample_entry(sample_key(1), true, 1);
  big.cubin = testing::sample_cubin(1, 4 << 20);
  auto published = cache->publish(big);
  ASSERT_TRUE(bool(published)) << llvm::toString(published.takeError());
  EXPECT_EQ(cache->fetch(sample_key(1)).status, RemoteStatus::hit);
  EXPECT_EQ(cache->counters().failures, 0u);
  EXPECT_FALSE(cache->backing_off());
}

TEST_F(RemoteCacheTest, NothingListeningCostsOneRefusedConnect) {
  const std::string url = server->url();
  server->kill();
  auto cache = remote_testing::remote_for(url, remote_testing::kFleetKey, 100);
  const std::string warnings = captured_warnings([&] {
    const auto start = Clock::now();
    RemoteFetch fetched = cache->fetch(sample_key(0));
    EXPECT_EQ(fetched.status, RemoteStatus::unavailable);
    EXPECT_NE(fetched.why.find("cannot connect"), std::string::npos) << fetched.why;
    EXPECT_LT(ms_since(start), 100 + remote_testing::kSlackMs);
    EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::unavailable);
  });
  EXPECT_EQ(cache->counters().failures, 1u);
  if (warnings_are_shown()) {
    EXPECT_EQ(count_of(warnings, "remote tuning cache unavailable"), 1u) << warnings;
    EXPECT_NE(warnings.find("Connection refused"), std::string::npos) << warnings;
  }
}

// A host that drops the connection attempt: the connect times out, once.
TEST_F(RemoteCacheTest, AnUnansweredConnectCostsTheConnectTimeoutOnce) {
  remote_testing::BlackHole hole;
  auto cache = remote_testing::remote_for(hole.url(), remote_testing::kFleetKey, 100);
  const auto start = Clock::now();
  RemoteFetch fetched = cache->fetch(sample_key(0));
  const double first_ms = ms_since(start);
  EXPECT_EQ(fetched.status, RemoteStatus::unavailable);
  EXPECT_NE(fetched.why.find("cannot connect"), std::string::npos) << fetched.why;
  EXPECT_GE(first_ms, 90.0);
  EXPECT_LT(first_ms, 100 + remote_testing::kSlackMs);
  const auto later = Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::unavailable);
  EXPECT_LT(ms_since(later), 20.0);
}

// Polls (up to 10 s) until the server answers PING within 100 ms (`answering`) or does not.
bool wait_until(const RedisServer& server, bool answering) {
  for (int i = 0; i < 100; ++i) {
    if (bool(server.command({"PING"}, std::chrono::milliseconds(100))) == answering) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// A server busy in DEBUG SLEEP answers nothing: the command times out.
TEST_F(RemoteCacheTest, ABusyServerCostsOneTimeoutThenTheBreakerRecovers) {
  auto cache = remote_testing::remote_for(server->url(), remote_testing::kFleetKey, 100, false, /*backoff_ms=*/300);
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(0), true))));
  server->sleep_async(3.0);
  ASSERT_TRUE(wait_until(*server, /*answering=*/false)) << "DEBUG SLEEP did not begin";
  const auto start = Clock::now();
  RemoteFetch fetched = cache->fetch(sample_key(0));
  EXPECT_EQ(fetched.status, RemoteStatus::unavailable);
  EXPECT_NE(fetched.why.find("no answer within the timeout"), std::string::npos) << fetched.why;
  EXPECT_LT(ms_since(start), 100 + remote_testing::kSlackMs);
  EXPECT_GE(ms_since(start), 90.0);
  // After the sleep and the back-off, it serves again on a new connection.
  ASSERT_TRUE(wait_until(*server, /*answering=*/true)) << "DEBUG SLEEP did not end";
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_FALSE(cache->backing_off());
  EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::hit);
}

// A stopped server: the kernel still accepts connections, nothing answers.
TEST_F(RemoteCacheTest, AStoppedServerCostsOneTimeout) {
  auto cache = remote();
  server->stop_process();
  const auto start = Clock::now();
  EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::unavailable);
  EXPECT_LT(ms_since(start), 2 * 100 + remote_testing::kSlackMs);  // at most the connect and one command
  const auto again = Clock::now();
  EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::unavailable);
  EXPECT_LT(ms_since(again), 20.0);
  server->continue_process();
}

TEST_F(RemoteCacheTest, AFullServerStopsWritesNotReads) {
  RedisServerOptions options;
  options.maxmemory = "2mb";
  restart(options);
  auto cache = remote();
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(0), true))));
  std::string warnings;
  std::string failure;
  warnings = captured_warnings([&] {
    for (int n = 1; n < 200 && failure.empty(); ++n) {
      CacheEntry big = sample_entry(sample_key(n), true, n);
      big.cubin = testing::sample_cubin(n, 64 << 10);
      auto published = cache->publish(big);
      if (!published) failure = llvm::toString(published.takeError());
    }
    const auto start = Clock::now();
    auto refused = cache->publish(sample_entry(sample_key(500), true));
    ASSERT_FALSE(bool(refused));
    EXPECT_NE(llvm::toString(refused.takeError()).find("is full"), std::string::npos);
    EXPECT_LT(ms_since(start), 5.0);  // not even sent while writes back off
  });
  EXPECT_NE(failure.find("OOM"), std::string::npos) << failure;
  EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::hit);  // reads go on
  if (warnings_are_shown()) {
    EXPECT_EQ(count_of(warnings, "is full"), 1u) << warnings;
  }
}

TEST_F(RemoteCacheTest, AServerThatIsNotRedisIsAFailure) {
  // A listener that answers anything with an HTTP error, as a misdirected port would.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::thread http([&] {
    const int client = ::accept(listener, nullptr, nullptr);
    if (client < 0) return;
    char buffer[256];
    (void)!::read(client, buffer, sizeof buffer);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)!::write(client, reply, sizeof reply - 1);
    ::close(client);
  });
  auto cache = remote_testing::remote_for("redis://127.0.0.1:" + std::to_string(ntohs(address.sin_port)),
                                          remote_testing::kFleetKey, 100);
  RemoteFetch fetched = cache->fetch(sample_key(0));
  http.join();
  ::close(listener);
  EXPECT_EQ(fetched.status, RemoteStatus::unavailable);
  EXPECT_NE(fetched.why.find("Protocol error"), std::string::npos) << fetched.why;
  EXPECT_EQ(cache->counters().failures, 1u);
}

TEST_F(RemoteCacheTest, TheSingleFlightLockIsHeldByOneAndExpires) {
  auto first = remote();
  auto second = remote();
  std::string token_a, token_b;
  EXPECT_EQ(first->lock(sample_key(0), token_a), RemoteCache::LockResult::acquired);
  EXPECT_EQ(second->lock(sample_key(0), token_b), RemoteCache::LockResult::held);
  EXPECT_EQ(second->lock(sample_key(1), token_b), RemoteCache::LockResult::acquired);  // per problem
  second->unlock(sample_key(0), token_b);  // not its lock: left alone
  EXPECT_EQ(second->lock(sample_key(0), token_b), RemoteCache::LockResult::held);
  first->unlock(sample_key(0), token_a);
  EXPECT_EQ(second->lock(sample_key(0), token_b), RemoteCache::LockResult::acquired);
  // A crashed tuner's lock expires.
  auto short_lived = remote_testing::remote_for(server->url(), remote_testing::kFleetKey, 100, false, 30000,
                                                /*lock_ms=*/150);
  EXPECT_EQ(short_lived->lock(sample_key(2), token_a), RemoteCache::LockResult::acquired);
  EXPECT_EQ(first->lock(sample_key(2), token_b), RemoteCache::LockResult::held);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(first->lock(sample_key(2), token_b), RemoteCache::LockResult::acquired);
}

TEST_F(RemoteCacheTest, APasswordServerAuthenticatesAndAWrongPasswordIsNeverShown) {
  RedisServerOptions options;
  options.password = "Corr3ct-Horse-Battery";
  restart(options);
  auto cache = remote();
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(0), true))));
  EXPECT_EQ(cache->fetch(sample_key(0)).status, RemoteStatus::hit);
  EXPECT_EQ(cache->describe().find("Corr3ct"), std::string::npos);

  const std::string wrong = "Wr0ng-Password-Here";
  std::string why;
  const std::string warnings = captured_warnings([&] {
    auto intruder = remote_testing::remote_for("redis://:" + wrong + "@127.0.0.1:" + std::to_string(server->port()),
                                               remote_testing::kFleetKey, 100);
    RemoteFetch fetched = intruder->fetch(sample_key(0));
    EXPECT_EQ(fetched.status, RemoteStatus::unavailable);
    why = fetched.why;
  });
  EXPECT_NE(why.find("authentication failed"), std::string::npos) << why;
  for (const std::string& text : {why, warnings}) {
    EXPECT_EQ(text.find(wrong), std::string::npos) << text;
    EXPECT_EQ(text.find("Corr3ct"), std::string::npos) << text;
  }
  // No password at all: the server's NOAUTH is a failure of the server, not a bad entry.
  auto anonymous = remote_testing::remote_for("redis://127.0.0.1:" + std::to_string(server->port()),
                                              remote_testing::kFleetKey, 100);
  RemoteFetch refused = anonymous->fetch(sample_key(0));
  EXPECT_EQ(refused.status, RemoteStatus::unavailable);
  EXPECT_NE(refused.why.find("NOAUTH"), std::string::npos) << refused.why;
}

TEST_F(RemoteCacheTest, StatsCountWhatTheServerHolds) {
  auto cache = remote();
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(0), true))));
  ASSERT_TRUE(bool(cache->publish(sample_entry(sample_key(1), false))));
  ASSERT_TRUE(bool(remote(remote_testing::kOtherFleetKey)->publish(sample_entry(sample_key(2), true))));
  ASSERT_TRUE(bool(remote_testing::remote_for(server->url(), "", 100, true)->publish(sample_entry(sample_key(3), true))));
  ASSERT_TRUE(bool(server->command({"SET", std::string(kRemotePrefix) + "entry:garbage", "x"})));
  ASSERT_TRUE(bool(server->command({"SET", "someone-else:key", "x"})));
  auto keys = cache->entry_keys();
  ASSERT_TRUE(bool(keys)) << llvm::toString(keys.takeError());
  EXPECT_EQ(keys->size(), 5u);
  auto stats = cache->stats();
  ASSERT_TRUE(bool(stats)) << llvm::toString(stats.takeError());
  EXPECT_EQ(stats->entries, 4u);
  EXPECT_EQ(stats->tuned, 3u);
  EXPECT_EQ(stats->signed_by_this_key, 2u);
  EXPECT_EQ(stats->signed_by_other_keys, 1u);
  EXPECT_EQ(stats->unsigned_entries, 1u);
  EXPECT_EQ(stats->not_entries, 1u);
  EXPECT_GT(stats->entry_bytes, 4u * 3000u);
  EXPECT_FALSE(stats->server_version.empty());
  EXPECT_GT(stats->used_memory, 0u);
}

}  // namespace
}  // namespace flashjit::cache
