// Benchmark (not a test): what the fleet's remote tuning cache adds to a first call, on the path a
// process takes at its first use of a problem, without a GPU (a compile-only sm_90 device, tuning
// off, so the path is lookup, verify, store -- no load). Needs a Redis server:
//
//   redis-server --port 6390 --save '' --appendonly no --daemonize yes
//   build/flashjit_remote_cache_bench redis://127.0.0.1:6390
//
// Rows: a first call served by a local SQLite hit (open the cache, obtain), and by a remote hit on
// an empty local cache (open it, connect, fetch, verify the signature, the cubin's SHA-256 and the
// entry, store locally); then an unreachable server (a loopback port whose backlog is full, so a
// connect waits out its timeout): the first fetch, and those after it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FileSystem.h>

#include "runtime/cache_entries.h"
#include "runtime/cache_entry_check.h"
#include "runtime/compile_only_device.h"
#include "runtime/kernel_builder.h"
#include "runtime/open_cache.h"

namespace {

using namespace flashjit;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

struct Summary {
  double median, p20, p80;
};
Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[v.size() / 5], v[v.size() * 4 / 5]};
}

std::unique_ptr<cache::RemoteCache> remote_at(const std::string& url, int timeout_ms) {
  RemoteCacheOptions options;
  options.url = url;
  options.key_file.clear();
  options.password_file.clear();
  options.timeout_ms = timeout_ms;
  auto settings = cache::resolve_remote_settings(options);
  if (!settings) {
    std::fprintf(stderr, "%s\n", llvm::toString(settings.takeError()).c_str());
    std::exit(2);
  }
  settings->key = *cache::FleetKey::from_bytes("bench-fleet-key-0123456789abcdef-0123");
  return std::make_unique<cache::RemoteCache>(std::move(*settings), [](const cache::CacheEntry& e) {
    return llvm::join(cache_entry_problems(e), "; ");
  });
}

std::unique_ptr<KernelBuilder> builder(const std::string& sqlite, std::unique_ptr<cache::RemoteCache> remote) {
  auto local = open_tuning_cache(sqlite);
  if (!local) std::exit(3);
  BuildOptions options;
  options.tune = false;
  return std::make_unique<KernelBuilder>(std::make_unique<CompileOnlyDevice>(90), std::move(*local), options,
                                         std::move(remote));
}

// A loopback port that completes no connection (its one-slot backlog is full).
int black_hole_port(int& listener, int (&fillers)[4]) {
  listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::listen(listener, 0);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  for (int& filler : fillers) {
    filler = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    (void)::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  ::usleep(50 * 1000);
  return ntohs(address.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: flashjit_remote_cache_bench redis://HOST:PORT (a Redis server to use)\n");
    return 2;
  }
  const std::string url = argv[1];
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("flashjit-remote-bench", dir)) return 1;
  const std::string seed = std::string(dir) + "/seed.sqlite";
  ProblemFeatures features{DType::bf16, 128, MaskKind::causal};
  auto problem = Problem::of_features(features);
  if (!problem) return 1;

  // One real sm_90 kernel, compiled by NVRTC, stored locally and published.
  auto publisher = builder(seed, remote_at(url, 1000));
  auto built = publisher->obtain(*problem);
  if (!built || (!built->published && built->origin != KernelOrigin::remote)) {
    std::fprintf(stderr, "could not publish the kernel: %s\n",
                 built ? built->publish_error.c_str() : llvm::toString(built.takeError()).c_str());
    return 1;
  }
  const cache::CacheKey key = cache_key_for(publisher->device().description(), publisher->device().compiler(), *problem);
  auto entry = publisher->cache()->lookup(key);
  std::printf("kernel %s, cubin %zu KiB\n", gen::canonical_key(built->spec).c_str(),
              entry && *entry ? (*entry)->cubin.size() / 1024 : size_t(0));

  constexpr int kRuns = 40;
  std::vector<double> local_ms, remote_ms;
  for (int i = 0; i < kRuns; ++i) {
    // A first call served by the local cache: open it, obtain.
    auto start = Clock::now();
    auto local = builder(seed, nullptr);
    auto hit = local->obtain(*problem);
    local_ms.push_back(ms_since(start));
    if (!hit || hit->origin != KernelOrigin::cache) return 4;
    // A first call served by the remote cache: open an empty local cache, connect, fetch, verify, store.
    // The empty cache exists already (made by an earlier process): its creation is not the remote tier's.
    const std::string empty = std::string(dir) + "/empty-" + std::to_string(i) + ".sqlite";
    if (!open_tuning_cache(empty)) return 6;
    start = Clock::now();
    auto fleet = builder(empty, remote_at(url, 50));
    const double opened_ms = ms_since(start);
    auto fetched = fleet->obtain(*problem);
    remote_ms.push_back(ms_since(start));
    if (i == 0) std::printf("(remote run 0: open %.2f ms, obtain %.2f ms)\n", opened_ms, remote_ms.back() - opened_ms);
    if (!fetched || fetched->origin != KernelOrigin::remote) return 5;
  }
  // Where the remote hit's time goes: connect, fetch and verify; and the local store.
  std::vector<double> connect_fetch_ms, fetch_ms, store_ms;
  for (int i = 0; i < kRuns; ++i) {
    auto fleet = remote_at(url, 50);
    auto start = Clock::now();
    cache::RemoteFetch got = fleet->fetch(key);
    connect_fetch_ms.push_back(ms_since(start));
    start = Clock::now();
    got = fleet->fetch(key);
    fetch_ms.push_back(ms_since(start));
    if (got.status != cache::RemoteStatus::hit) return 7;
    const std::string empty = std::string(dir) + "/store-" + std::to_string(i) + ".sqlite";
    auto local = open_tuning_cache(empty);
    if (!local) return 8;
    start = Clock::now();
    if (!(*local)->store(*got.entry)) return 9;
    store_ms.push_back(ms_since(start));
  }
  const Summary local = summarize(local_ms), remote = summarize(remote_ms);
  const Summary connect_fetch = summarize(connect_fetch_ms), fetch = summarize(fetch_ms), store = summarize(store_ms);
  std::printf("  of which: connect + fetch + verify %.2f ms, fetch + verify on an open connection %.2f ms, "
              "local store %.2f ms\n",
              connect_fetch.median, fetch.median, store.median);
  std::printf("first call, local SQLite hit:             median %.2f ms (p20 %.2f, p80 %.2f)\n", local.median,
              local.p20, local.p80);
  std::printf("first call, remote hit, empty SQLite:     median %.2f ms (p20 %.2f, p80 %.2f)\n", remote.median,
              remote.p20, remote.p80);
  std::printf("the remote hit adds:                      %.2f ms (medians), over %d runs each\n",
              remote.median - local.median, kRuns);

  // An unreachable server: the first fetch waits out the connect timeout, the breaker then answers.
  int listener = -1, fillers[4];
  const int port = black_hole_port(listener, fillers);
  auto unreachable = remote_at("redis://127.0.0.1:" + std::to_string(port), 50);
  auto start = Clock::now();
  cache::RemoteFetch first = unreachable->fetch(key);
  const double first_ms = ms_since(start);
  std::vector<double> later_us;
  for (int i = 0; i < 1000; ++i) {
    start = Clock::now();
    unreachable->fetch(key);
    later_us.push_back(ms_since(start) * 1000.0);
  }
  const Summary later = summarize(later_us);
  std::printf("unreachable (connect timeout 50 ms): first fetch %.1f ms (%s), later fetches median %.2f us, "
              "max %.2f us\n",
              first_ms, cache::remote_status_name(first.status), later.median,
              *std::max_element(later_us.begin(), later_us.end()));
  for (int filler : fillers) ::close(filler);
  ::close(listener);
  llvm::sys::fs::remove_directories(dir);
  return 0;
}
