// Helpers for the tuning cache tests: scratch directories, sample keys and entries, raw SQL for
// tampering, and child processes (several writers at once, or a user without root's powers).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "cache/cache_entry.h"
#include "cache/tuning_cache.h"

namespace flashjit::cache::testing {

// A fresh directory under the system temp dir, removed with everything in it at scope exit
// (permissions are restored first, so tests may chmod inside it).
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Names in the directory starting with `prefix`.
  std::vector<std::string> names_starting_with(const std::string& prefix) const;

 private:
  std::string path_;
};

// A key that differs from sample_key(j) for every j != n: bf16, d128, causal, GQA ratio n + 1 on
// an H100, so that sample_entry() passes the checks FlashJIT's cache applies to every entry.
CacheKey sample_key(int n = 0);
// The kernel every sample cubin holds.
inline constexpr const char* kSampleSymbol = "_Z20flashjit_generic_fwdILi128EEvN8flashjit16AttentionParamsE";
// Deterministic cubin bytes for `seed`: an sm_90 cubin holding kSampleSymbol, padded to `size`
// with bytes that differ per seed (every byte value appears, including zeros).
std::string sample_cubin(int seed, size_t size = 3000);
// A valid KernelSpec as JSON text.
std::string sample_spec_json();
CacheEntry sample_entry(const CacheKey& key, bool tuned, int cubin_seed = 0);

llvm::Expected<std::unique_ptr<TuningCache>> open_cache(const std::string& path, bool read_only = false);

// Runs SQL on the database file directly, with no schema or integrity help: for tampering.
void execute_sql(const std::string& database, const std::string& sql);
int64_t query_int(const std::string& database, const std::string& sql);

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);
mode_t permissions_of(const std::string& path);

bool running_as_root();
// The unprivileged account used when the tests run as root ("nobody").
inline constexpr uid_t kUnprivilegedId = 65534;

// A forked process running `body`; its returned text comes back through a pipe. With
// `unprivileged`, the child first becomes kUnprivilegedId, so that file permissions apply to it.
class ChildProcess {
 public:
  static ChildProcess start(const std::function<std::string()>& body, bool unprivileged = false);
  // The child's text, or a description of how it failed to deliver one.
  std::string wait();

 private:
  ChildProcess(pid_t pid, int read_fd) : pid_(pid), read_fd_(read_fd) {}
  pid_t pid_;
  int read_fd_;
};

inline std::string run_in_child(const std::function<std::string()>& body, bool unprivileged = false) {
  return ChildProcess::start(body, unprivileged).wait();
}

// What flashjit::log printed to stderr while `action` ran.
std::string captured_warnings(const std::function<void()>& action);
// Whether warnings reach stderr at all (FLASHJIT_LOG may silence them).
bool warnings_are_shown();

}  // namespace flashjit::cache::testing
