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

// The fleet's remote tuning cache: a Redis server behind the local SQLite cache, so that a problem
// tuned on one server of a fleet starts warm on every other (README, "A fleet shares its tuning").
// Lookups go kernel table, SQLite, Redis, tuner; a remote entry runs only after its signature, its
// cubin's SHA-256, the checks every cached kernel passes and (tuning on) the tuner's correctness
// check on this GPU, and is then stored locally. It never fails a call: a Redis that is down, slow,
// full or answers garbage costs at most one timeout and one warning, then is left alone for
// backoff_ms while the local cache and tuning go on. Each field's default comes from the
// environment variable named beside it; the URL's default is empty: off.
struct FLASHJIT_API RemoteCacheOptions {
  // redis://[user[:password]@]host[:port][/db] or unix:///path/to/redis.sock (FLASHJIT_REMOTE_CACHE).
  // Runtime::create refuses a malformed one (invalid_argument, without echoing it).
  std::string url = environment("FLASHJIT_REMOTE_CACHE");
  // A file holding the password, so it need not sit in every process's environment; it takes
  // precedence over one in the URL (FLASHJIT_REMOTE_CACHE_PASSWORD_FILE).
  std::string password_file = environment("FLASHJIT_REMOTE_CACHE_PASSWORD_FILE");
  // The fleet key (at least 32 bytes) that signs and verifies entries (FLASHJIT_REMOTE_CACHE_KEY_FILE).
  // Without one, remote entries are not read, unless allow_unsigned.
  std::string key_file = environment("FLASHJIT_REMOTE_CACHE_KEY_FILE");
  // Accept entries no key verifies (FLASHJIT_REMOTE_CACHE_UNSIGNED=1): only where everyone who can
  // write to the Redis server may run code on every GPU that reads it.
  bool allow_unsigned = environment("FLASHJIT_REMOTE_CACHE_UNSIGNED") == "1";
  // Connect and command timeout (FLASHJIT_REMOTE_CACHE_TIMEOUT_MS; 1 to 60000).
  int timeout_ms = environment_int("FLASHJIT_REMOTE_CACHE_TIMEOUT_MS", 50);
  // After a failure, how long the server is left alone (the circuit breaker; 0 to 86400000).
  int backoff_ms = 30000;
  // Single flight: a process that finds another tuning the same problem (its lock in Redis) waits
  // up to this long for the result before tuning it itself; 0 turns the lock off (0 to 3600000).
  int single_flight_wait_ms = 20000;

  static std::string environment(const char* name);
  static int environment_int(const char* name, int fallback);
};

struct FLASHJIT_API RuntimeOptions {
  Backend backend = Backend::automatic;
  int device_index = 0;
  // Testing and debugging: force a variant (invalid_argument says why if the device or problem
  // cannot take it) and/or a tile configuration (validated against the device's limits before
  // anything compiles). The CPU backend runs no kernel: Runtime::create refuses either there, also
  // when Backend::automatic falls back to it.
  std::optional<Variant> force_variant;
  std::optional<TileConfig> force_tiles;
  // CPU backend worker threads; 0 uses the hardware concurrency.
  int cpu_threads = 0;
  // CPU backend instruction set: empty picks the best this CPU runs (avx512, then avx2, then
  // portable); a name forces that one, to test or compare it (Runtime::create says unsupported when
  // this CPU lacks it, naming the missing features). FLASHJIT_CPU_ISA in the environment sets it
  // for a default-constructed RuntimeOptions.
  std::string cpu_isa = default_cpu_isa();

  // Tuning at the first use of a problem on a device: the candidate tiles are compiled, timed and
  // checked, and the winner kept. Off: the heuristic default per architecture and head dim.
  // FLASHJIT_TUNE=0 in the environment turns it off for a default-constructed RuntimeOptions.
  bool tune = default_tune();
  double tune_budget_ms = 60.0;  // timed samples per candidate, first round
  int tune_max_candidates = 0;   // 0: every candidate that survives static pruning

  // The SQLite tuning cache shared by processes: the winner (configuration and cubin) of every
  // problem, so later processes start without NVRTC. Empty path: $FLASHJIT_CACHE_DIR/flashjit.sqlite,
  // else $XDG_CACHE_HOME/flashjit/, else ~/.cache/flashjit/. A cache that cannot be opened is a
  // warning, never an error.
  bool use_cache = true;
  std::string cache_path;
  // The fleet's shared tier behind it (off unless a URL is given; see RemoteCacheOptions).
  RemoteCacheOptions remote_cache;

  // Checks what forward() cannot check without a copy from the device: a ragged batch's offsets
  // (cu_seqlens_q/k) are copied to the host (synchronizing on the stream) and refused when they
  // decrease, run past the tensors' extent the other arguments imply or give a sequence longer than
  // seqlen_q/seqlen_k, naming the first bad entry. Off by default (it costs a copy and a sync per
  // call); FLASHJIT_CHECK_ARGS=1 in the environment turns it on for a default-constructed
  // RuntimeOptions.
  bool check_args = default_check_args();

  static bool default_tune();
  static bool default_check_args();
  static std::string default_cpu_isa();
};

// Opaque CUDA stream (a CUstream or cudaStream_t); nullptr is the default stream.
using Stream = void*;

// Where the kernel forward() runs (or would run) came from.
enum class KernelOrigin {
  planned,    // not built yet: the selector's choice before the first forward() of the problem
  cache,      // loaded from the tuning cache, without NVRTC
  tuned,      // tuned at first use in this process
  heuristic,  // the heuristic default (tuning off, or tuning failed and the default ran instead)
  forced,     // RuntimeOptions::force_variant or force_tiles
  cpu,        // the CPU backend
  remote,     // fetched from the fleet's remote cache (verified, then stored in the local one)
};

// "planned", "cache", "tuned", "heuristic", "forced", "cpu", "remote"
FLASHJIT_API const char* kernel_origin_name(KernelOrigin origin);

// What forward() ran or would run for some arguments.
struct KernelChoice {
  Backend backend = Backend::cpu;
  std::string device;       // "NVIDIA H100 80GB HBM3" or "cpu"
  std::string kernel_key;   // canonical spec key, e.g. "mma_sm80_sm90_bf16_d128_m128n32w4s2_causal"
  std::optional<Variant> variant;  // the kernel variant; empty on the CPU backend
  std::string reason;       // why this variant was chosen
  KernelOrigin origin = KernelOrigin::planned;
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

  // The bytes of args.workspace a forward() with these arguments needs: split-KV's partial results
  // when a KV-cache call is split (see AttentionArgs::workspace), else 0 (always 0 on the CPU
  // backend). Depends on the sizes and the GPU only, not on data or on which kernel serves the call.
  Result<size_t> workspace_size(const AttentionArgs& args) const;

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
