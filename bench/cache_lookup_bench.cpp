// Benchmark (not a test): the cost of a warm start's cache step without the driver: opening the
// SQLite cache and looking up one problem, cubin hash check included. Run: flashjit_cache_lookup_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <llvm/Support/FileSystem.h>

#include "cache/tuning_cache.h"

int main() {
  using namespace flashjit;
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("flashjit-cache-bench", dir)) return 1;
  const std::string path = std::string(dir) + "/cache.sqlite";

  cache::CacheEntry entry;
  entry.key.device_name = "NVIDIA H200";
  entry.key.compute_capability = 90;
  entry.key.sm_count = 132;
  entry.key.driver_version = 13000;
  entry.key.nvrtc_version = 13000;
  entry.key.generator_hash = "1-bench";
  entry.key.compile_options = "--gpu-architecture=sm_90 -std=c++17 --ptxas-options=-v";
  entry.key.problem_key = "bf16_d128_causal_gqa4_len4096";
  entry.spec_json = R"({"block_m":32,"block_n":32,"dtype":"bf16","head_dim":128,"key":"k","mask":"causal","stages":1,"target":"sm_90","variant":"generic","warps":4})";
  entry.kernel_symbol = "_Z6kernel";
  entry.cubin.assign(50 * 1024, '\x5a');  // the size of a generic cubin
  entry.tuned = true;
  {
    auto c = cache::TuningCache::open(path);
    if (!c || !(*c)->store(entry)) return 1;
    for (int i = 0; i < 200; ++i) {  // a populated cache: other problems beside ours
      cache::CacheEntry other = entry;
      other.key.problem_key = "f16_d64_none_gqa1_len" + std::to_string(128 << (i % 8)) + "_" + std::to_string(i);
      if (!(*c)->store(other)) return 1;
    }
  }

  std::vector<double> open_lookup_us, lookup_us;
  for (int i = 0; i < 200; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto c = cache::TuningCache::open(path);
    const auto t1 = std::chrono::steady_clock::now();
    auto hit = (*c)->lookup(entry.key);
    const auto t2 = std::chrono::steady_clock::now();
    if (!hit || !*hit) return 1;
    open_lookup_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
    lookup_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  std::sort(open_lookup_us.begin(), open_lookup_us.end());
  std::sort(lookup_us.begin(), lookup_us.end());
  std::printf("cache with 201 entries, 50 KiB cubin: open + lookup median %.0f us (p80 %.0f us); lookup alone %.0f us\n",
              open_lookup_us[100], open_lookup_us[160], lookup_us[100]);
  llvm::sys::fs::remove_directories(dir);
  return 0;
}
