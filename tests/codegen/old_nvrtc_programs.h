// What the codegen programs that compile with several NVRTCs share (nvrtc_variant_matrix.cpp,
// generic_pre_volta.cpp): the older NVRTCs named by FLASHJIT_TEST_OLD_NVRTC (12.9 and 11.8, which
// scripts/setup.sh installs), the exit status when one is missing, and compiles on N threads.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cuda/nvrtc_discovery.h"

namespace flashjit::codegen {

// The usable NVRTCs FLASHJIT_TEST_OLD_NVRTC names, loaded once.
inline const std::vector<cuda::NvrtcLibrary>& old_nvrtcs() {
  static const std::vector<cuda::NvrtcLibrary> found = [] {
    cuda::NvrtcSearch search;
    const char* list = std::getenv("FLASHJIT_TEST_OLD_NVRTC");
    search.nvrtc_list = list ? list : "";
    return cuda::discover_nvrtc(search);
  }();
  return found;
}

// The first usable one of CUDA `major`, or null.
inline const cuda::NvrtcLibrary* old_nvrtc(int major) {
  for (const cuda::NvrtcLibrary& library : old_nvrtcs())
    if (library.usable() && library.targets.nvrtc_major == major) return &library;
  return nullptr;
}

// The exit status when `missing` (e.g. " NVRTC 11.x") were not found: 77, a skip to CTest, or 1
// under FLASHJIT_REQUIRE_OLD_NVRTC=1, so that CI cannot skip them.
inline int missing_old_nvrtc_status(const std::string& missing) {
  const char* list = std::getenv("FLASHJIT_TEST_OLD_NVRTC");
  std::printf("missing:%s (scripts/setup.sh installs them under .tools/; FLASHJIT_TEST_OLD_NVRTC='%s')\n",
              missing.c_str(), list ? list : "");
  const char* required = std::getenv("FLASHJIT_REQUIRE_OLD_NVRTC");
  if (required == nullptr || std::string(required) != "1") return 77;
  std::printf("FAIL: FLASHJIT_REQUIRE_OLD_NVRTC=1: CI must not skip the older NVRTCs\n");
  return 1;
}

// run(i) for every i < count, on `jobs` threads (NVRTC compiles are independent).
inline void for_each_in_parallel(size_t count, unsigned jobs, const std::function<void(size_t)>& run) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < std::max(jobs, 1u); ++w)
    workers.emplace_back([&] {
      for (size_t i = next++; i < count; i = next++) run(i);
    });
  for (std::thread& worker : workers) worker.join();
}

}  // namespace flashjit::codegen
