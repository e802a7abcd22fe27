// libFuzzer's entry point for the remote_url target (fuzz_targets.h); built with FLASHJIT_FUZZ=ON.
#include "fuzz/libfuzzer_entry.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  flashjit::fuzz::quiet_flashjit_log();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return flashjit::fuzz::libfuzzer_run("remote_url", data, size);
}
