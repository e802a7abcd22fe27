// Helpers for the remote tier's tests: fleet keys and a RemoteCache for a test server's URL,
// holding entries to FlashJIT's own rule (cache_entry_check.h), as open_remote_cache does.
#pragma once

#include <memory>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <llvm/ADT/StringExtras.h>

#include "cache/remote_cache.h"
#include "helpers/redis_server.h"
#include "runtime/cache_entry_check.h"

namespace flashjit::cache::remote_testing {

inline const std::string kFleetKey = "fleet-key-for-tests-0123456789abcdef";
inline const std::string kOtherFleetKey = "another-fleet-key-for-tests-98765432";
// What a bounded operation may take beyond its timeout on a loaded CI machine (sanitizers included).
inline constexpr double kSlackMs = 400.0;

// A loopback port that accepts no connection: a listener whose one-slot backlog is already full
// (a connection queued and never accepted), so the kernel drops every further SYN and a connect
// waits until its timeout, as with a host that is down or a firewall that drops.
class BlackHole {
 public:
  BlackHole() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 0) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    port_ = ntohs(address.sin_port);
    // Fill the backlog: these complete their handshakes and sit in the queue, never accepted.
    for (int& filler : fillers_) {
      filler = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      (void)::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address);
    }
    ::usleep(50 * 1000);
  }
  ~BlackHole() {
    for (int filler : fillers_) ::close(filler);
    ::close(listener_);
  }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  int listener_ = -1;
  int port_ = 0;
  int fillers_[4] = {-1, -1, -1, -1};
};

inline std::unique_ptr<RemoteCache> remote_for(const std::string& url, const std::string& key, int timeout_ms,
                                               bool allow_unsigned = false, int backoff_ms = 30000,
                                               int lock_ms = 60000, int single_flight_wait_ms = 20000) {
  RemoteSettings settings;
  auto endpoint = parse_remote_url(url);
  if (!endpoint) {
    ADD_FAILURE() << llvm::toString(endpoint.takeError());
    return nullptr;
  }
  settings.endpoint = *endpoint;
  if (!key.empty()) settings.key = *FleetKey::from_bytes(key);
  settings.allow_unsigned = allow_unsigned;
  settings.timeout_ms = timeout_ms;
  settings.backoff_ms = backoff_ms;
  settings.lock_ms = lock_ms;
  settings.single_flight_wait_ms = single_flight_wait_ms;
  return std::make_unique<RemoteCache>(std::move(settings), [](const CacheEntry& entry) {
    return llvm::join(cache_entry_problems(entry), "; ");
  });
}

// A test with a redis-server of its own (skipped without one, unless FLASHJIT_REQUIRE_REDIS=1).
class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLASHJIT_REQUIRE_REDIS_OR_SKIP();
    restart({});
  }
  // Replaces the server by a new one started with `options`.
  void restart(const flashjit::testing::RedisServerOptions& options) {
    server.reset();
    auto started = flashjit::testing::RedisServer::start(options);
    ASSERT_TRUE(bool(started)) << llvm::toString(started.takeError());
    server = std::move(*started);
  }

  std::unique_ptr<flashjit::testing::RedisServer> server;
};

}  // namespace flashjit::cache::remote_testing
