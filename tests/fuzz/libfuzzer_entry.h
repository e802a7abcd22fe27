// The body of every libFuzzer entry point: run the target, and on a violation print it and abort,
// which libFuzzer reports as a crash and saves the input of (crash-<sha1>). The target itself never
// aborts; here the driver decides.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_targets.h"

namespace flashjit::fuzz {

inline int libfuzzer_run(const char* target_name, const uint8_t* data, size_t size) {
  static const Target* target = find_target(target_name);
  if (target == nullptr) {
    std::fprintf(stderr, "no fuzz target named %s\n", target_name);
    std::abort();
  }
  const Verdict verdict = run_target(*target, llvm::StringRef(reinterpret_cast<const char*>(data), size));
  if (verdict.outcome == Outcome::violation) {
    std::fprintf(stderr, "VIOLATION %s: %s\n", target_name, verdict.message.c_str());
    std::abort();
  }
  return 0;
}

}  // namespace flashjit::fuzz
