// The FlashJIT runtime: one object per device (or the CPU backend), one forward() per attention.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "flashjit/export.h"
#include "flashjit/status.h"
#include "flashjit/types.h"

namespace flashjit {

enum class Backend {
  automatic,  // the GPU when one is usable, else the CPU backend (fallback_reason() says why)
  cuda,       // a GPU or an error that says why none is usable
  cpu,        // host memory, multi-threaded fp32 computation
};

// Tile parameters for forcing a configuration; zero fields take the default for the variant.
struct TileConfig {
  int block_m = 0;
  int block_n = 0;
  int warps = 0;
  int stages = 0;
};

struct RuntimeOptions {
  Backend backend = Backend::automatic;
  int device_index = 0;
  // Testing and debugging: force a variant (an error says why if the device cannot run it) and/or
  // a tile configuration (validated against the device's limits before anything compiles).
  std::optional<Variant> force_variant;
  std::optional<TileConfig> force_tiles;
  // CPU backend worker threads; 0 uses the hardware concurrency.
  int cpu_threads = 0;
};

// Opaque CUDA stream (a CUstream or cudaStream_t); nullptr is the default stream.
using Stream = void*;

// What forward() ran or would run for some arguments.
struct KernelChoice {
  Backend backend = Backend::cpu;
  std::string device;       // "NVIDIA H100 80GB HBM3" or "cpu"
  std::string kernel_key;   // canonical spec key, e.g. "generic_sm90_bf16_d128_m32n32w4s1_causal"
  std::string reason;       // why this variant was chosen
};

class FLASHJIT_API Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> create(const RuntimeOptions& options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Computes attention. On the CUDA backend the pointers are device pointers and the work is
  // queued on `stream` (the call returns once launched; the first call for a new problem compiles
  // first). On the CPU backend the pointers are host pointers and the call is synchronous.
  // Arguments are validated before anything is launched. Thread-safe.
  Status forward(const AttentionArgs& args, Stream stream = nullptr);

  // The kernel forward() would use for these arguments, compiling nothing.
  Result<KernelChoice> plan(const AttentionArgs& args) const;

  Backend backend() const;
  std::string device_name() const;
  // Why Backend::automatic fell back to the CPU; empty when it did not.
  const std::string& fallback_reason() const;

  class Impl;

 private:
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flashjit
