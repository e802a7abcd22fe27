#include "cache_test_support.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <dirent.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <llvm/ADT/SmallString.h>
#include <llvm/Support/FileSystem.h>

#include "cache/sqlite_database.h"
#include "generator/kernel_spec.h"
#include "generator/spec_json.h"
#include "helpers/minimal_cubin.h"
#include "support/log.h"
#include "runtime/open_cache.h"

#include <nlohmann/json.hpp>

namespace flashjit::cache::testing {

ScratchDir::ScratchDir() {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("flashjit-cache-test", dir))
    ADD_FAILURE() << "cannot create a scratch directory";
  path_ = std::string(dir);
}

ScratchDir::~ScratchDir() {
  // Tests chmod files and directories one level down; give them back so that removal works.
  ::chmod(path_.c_str(), 0700);
  for (const std::string& name : names_starting_with("")) ::chmod(file(name).c_str(), 0700);
  llvm::sys::fs::remove_directories(path_);
}

std::vector<std::string> ScratchDir::names_starting_with(const std::string& prefix) const {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path_.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (name.compare(0, prefix.size(), prefix) == 0) names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

CacheKey sample_key(int n) {
  CacheKey key;
  key.device_name = "NVIDIA H100 80GB HBM3";
  key.compute_capability = 90;
  key.sm_count = 132;
  key.driver_version = 12040;
  key.nvrtc_version = nvrtc_version_number(12, 4);
  key.generator_hash = "1-0123456789abcdef";
  key.compile_options = "--std=c++17 -arch=sm_90 -default-device";
  // A real problem key, different per n (FlashJIT's cache checks every entry's spec against it).
  key.problem_key = "bf16_d128_causal_gqa" + std::to_string(n + 1) + "_len4096";
  return key;
}

std::string sample_cubin(int seed, size_t size) {
  // A cubin for sm_90 holding the sample entry's kernel, padded with bytes that differ per seed
  // (nothing reads past the section headers).
  std::string bytes = flashjit::testing::minimal_cubin(90, {kSampleSymbol});
  for (size_t i = bytes.size(); i < size; ++i)
    bytes.push_back(static_cast<char>((i * 7 + static_cast<size_t>(seed) * 31) & 0xff));
  return bytes;
}

std::string sample_spec_json() {
  gen::KernelSpec spec;
  spec.arch = 90;
  spec.dtype = DType::bf16;
  spec.mask = MaskKind::causal;
  return gen::spec_to_json(spec).dump();
}

CacheEntry sample_entry(const CacheKey& key, bool tuned, int cubin_seed) {
  CacheEntry entry;
  entry.key = key;
  entry.spec_json = sample_spec_json();
  entry.kernel_symbol = kSampleSymbol;
  entry.cubin = sample_cubin(cubin_seed);
  if (tuned) {
    entry.median_ms = 1.25;
    entry.p20_ms = 1.125;
    entry.p80_ms = 1.5;
  }
  entry.candidates_tried = tuned ? 12 : 1;
  entry.tuned = tuned;
  entry.created_unix = 1700000000;
  return entry;
}

llvm::Expected<std::unique_ptr<TuningCache>> open_cache(const std::string& path, bool read_only) {
  OpenOptions options;
  options.read_only = read_only;
  options.busy_timeout_ms = 10000;
  // As FlashJIT opens it: stored specs are held to the generator's rules.
  return open_tuning_cache(path, options);
}

void execute_sql(const std::string& database, const std::string& sql) {
  auto db = Database::open(database, Database::Mode::read_write);
  ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
  llvm::Error error = (*db)->execute(sql);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
}

int64_t query_int(const std::string& database, const std::string& sql) {
  auto db = Database::open(database, Database::Mode::read_write);
  if (!db) {
    ADD_FAILURE() << llvm::toString(db.takeError());
    return -1;
  }
  auto value = (*db)->query_int64(sql);
  if (!value) {
    ADD_FAILURE() << llvm::toString(value.takeError());
    return -1;
  }
  return *value;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

mode_t permissions_of(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

bool running_as_root() { return ::geteuid() == 0; }

ChildProcess ChildProcess::start(const std::function<std::string()>& body, bool unprivileged) {
  int fds[2];
  if (::pipe(fds) != 0) return ChildProcess(-1, -1);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid != 0) {
    ::close(fds[1]);
    return ChildProcess(pid, fds[0]);
  }
  ::close(fds[0]);
  std::string text;
  if (unprivileged && (::setgroups(0, nullptr) != 0 || ::setgid(kUnprivilegedId) != 0 ||
                       ::setuid(kUnprivilegedId) != 0)) {
    text = "child: cannot become uid " + std::to_string(kUnprivilegedId);
  } else {
    text = body();
  }
  for (size_t written = 0; written < text.size();) {
    const ssize_t n = ::write(fds[1], text.data() + written, text.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  // _exit: no atexit handlers or destructors of the parent's objects (gtest's among them) run here.
  ::_exit(0);
}

std::string ChildProcess::wait() {
  if (pid_ < 0) return "fork failed";
  std::string text;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(read_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(read_fd_);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "child ended abnormally (status " + std::to_string(status) + "): " + text;
  return text;
}

std::string captured_warnings(const std::function<void()>& action) {
  ::testing::internal::CaptureStderr();
  action();
  return ::testing::internal::GetCapturedStderr();
}

bool warnings_are_shown() { return log::enabled(log::Level::warning); }

}  // namespace flashjit::cache::testing
