// A private redis-server for tests (see redis_server.h): child processes are started with
// fork+exec so each can be put in its own session and tied to the test process's life, and every
// admin command goes through redis-cli with a timeout, so a stopped or dead server fails a test
// instead of hanging it.
#include "helpers/redis_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

extern char** environ;

namespace flashjit::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStartTimeout{10000};
// Short, so a lost port race (something that accepts but never answers) costs little per retry;
// a slow answer just means another try before kStartTimeout.
constexpr milliseconds kPingTimeout{1000};
constexpr milliseconds kPollInterval{20};
constexpr int kMaxStartAttempts = 5;
// sockaddr_un::sun_path holds 108 bytes, one of them the terminating NUL.
constexpr std::size_t kMaxSocketPath = 107;
constexpr const char* kLoopback = "127.0.0.1";

llvm::Error error(const std::string& message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::string errno_text(int err) { return std::strerror(err); }

// Closes its descriptor on every path out, so early returns leak nothing into later children.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

llvm::Expected<Pipe> make_pipe() {
  int fds[2];
  // O_CLOEXEC: no other child (ours or another thread's) may hold a write end, or reads never end.
  if (::pipe2(fds, O_CLOEXEC) != 0) return error("pipe2: " + errno_text(errno));
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// --- Finding binaries ---------------------------------------------------------------------------

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string find_on_path(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::stringstream dirs(env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return "";
}

// A binary named by `env_var` (a path, or a bare name looked up on PATH), else `fallback`'s result.
template <class Fallback>
llvm::Expected<std::string> find_binary(const char* env_var, Fallback fallback) {
  const char* env = std::getenv(env_var);
  if (env == nullptr || *env == '\0') return fallback();
  std::string value = env;
  std::string path = value.find('/') == std::string::npos ? find_on_path(value) : value;
  if (!path.empty() && is_executable_file(path)) return path;
  return error(std::string(env_var) + "=" + value + " is not an executable file");
}

llvm::Expected<std::string> find_redis_server() {
  return find_binary("FLASHJIT_REDIS_SERVER", []() -> llvm::Expected<std::string> {
    std::string path = find_on_path("redis-server");
    if (path.empty()) return error("no redis-server on PATH");
    return path;
  });
}

// The redis-cli that came with the server comes first: a custom server build may not match the
// redis-cli on PATH (or there may be none there).
llvm::Expected<std::string> find_redis_cli(const std::string& server_path) {
  return find_binary("FLASHJIT_REDIS_CLI", [&]() -> llvm::Expected<std::string> {
    std::string sibling = std::filesystem::path(server_path).parent_path().string() + "/redis-cli";
    if (is_executable_file(sibling)) return sibling;
    std::string path = find_on_path("redis-cli");
    if (path.empty()) return error("no redis-cli next to " + server_path + " or on PATH");
    return path;
  });
}

// --- Child processes ----------------------------------------------------------------------------

// argv as execve wants it, built before fork: the child may only make async-signal-safe calls.
class CArgv {
 public:
  explicit CArgv(const std::vector<std::string>& args) : storage_(args) {
    for (std::string& arg : storage_) pointers_.push_back(arg.data());
    pointers_.push_back(nullptr);
  }
  char* const* get() const { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

[[noreturn]] void report_and_exit(int report_fd, int err) {
  ssize_t ignored = ::write(report_fd, &err, sizeof err);
  (void)ignored;
  ::_exit(127);
}

// Closes every descriptor from 3 up except `keep` (the exec-failure report pipe), so the child
// holds nothing of the test process's: no stray pipe write ends, sockets or files.
void close_fds_except(int keep) {
  bool closed = (keep <= 3 || ::close_range(3, keep - 1, 0) == 0) && ::close_range(keep + 1, ~0U, 0) == 0;
  if (closed) return;
  // Kernels before 5.9 lack close_range: close one by one, up to a sane bound.
  struct rlimit limit {};
  int max_fd = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? static_cast<int>(limit.rlim_cur)
                                                                                   : 65536;
  for (int fd = 3; fd < max_fd; ++fd) {
    if (fd != keep) ::close(fd);
  }
}

// In the forked child. Its own session: no controlling terminal, so terminal signals (Ctrl-C,
// Ctrl-Z) and job control meant for the test binary do not reach it, and killpg() gets any
// process it forks. PR_SET_PDEATHSIG: if the test process dies (crash, sanitizer abort, CI
// timeout) the server dies with it instead of lingering on a port. Note: the signal follows the
// *thread* that forked, so start servers from a thread that outlives them (a gtest body does).
[[noreturn]] void exec_child(const CArgv& argv, int in_fd, int out_fd, int err_fd, int report_fd, pid_t parent) {
  ::setsid();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl: nobody to serve
  // Blocked or ignored signals survive exec; start the child with the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) report_and_exit(report_fd, errno);
  close_fds_except(report_fd);
  ::execve(argv.get()[0], argv.get(), environ);
  report_and_exit(report_fd, errno);
}

// Starts argv[0] (a path) with stdin from /dev/null and stdout/stderr to the given descriptors
// (/dev/null for -1). Exec failures come back as errors through a close-on-exec pipe.
llvm::Expected<pid_t> spawn(const std::vector<std::string>& args, int out_fd, int err_fd) {
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (dev_null.get() < 0) return error("open /dev/null: " + errno_text(errno));
  auto report = make_pipe();
  if (!report) return report.takeError();
  CArgv argv(args);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return error("fork: " + errno_text(errno));
  if (pid == 0) {
    exec_child(argv, dev_null.get(), out_fd >= 0 ? out_fd : dev_null.get(), err_fd >= 0 ? err_fd : dev_null.get(),
               report->write.get(), parent);
  }
  report->write.reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report->read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return pid;  // EOF: exec closed the pipe, the program runs
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return error("cannot run " + args[0] + ": " + errno_text(child_errno));
}

// Blocks until `pid` has exited and reaps it; its wait status, or -1 when something else reaped
// it (SIGCHLD set to SIG_IGN).
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

// The wait status if `pid` has exited (and is now reaped), nothing while it runs.
std::optional<int> try_reap(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return std::nullopt;
  return r == pid ? status : -1;
}

// SIGKILL to the child's session (so whatever it forked goes too) and to the child itself.
void kill_child(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
}

int exit_code_of(int status) {
  if (status == -1) return -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::string describe_status(int status) {
  if (status == -1) return "exited (status unknown: reaped elsewhere)";
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

// Reads both pipes until both reach EOF (true) or the deadline passes (false). Reading both at
// once: a child that fills one pipe while we block on the other would never finish.
bool drain(int out_fd, int err_fd, Clock::time_point deadline, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&out, &err};
  int open_count = 2;
  char buffer[4096];
  while (open_count > 0) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    int ready = ::poll(fds, 2, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return false;
    for (int i = 0; i < 2 && ready > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // poll skips negative descriptors
        --open_count;
      }
    }
  }
  return true;
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

// --- Server setup -------------------------------------------------------------------------------

// A fresh private dir. Under $TMPDIR when set, but a unix socket path must fit in 107 bytes, so a
// long $TMPDIR gives way to /tmp there.
llvm::Expected<std::string> make_temp_dir(bool short_path) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const std::string leaf = "/fjredis.XXXXXX";
  if (short_path && base.size() + leaf.size() + std::strlen("/redis.sock") > kMaxSocketPath) base = "/tmp";
  std::string pattern = base + leaf;
  if (::mkdtemp(pattern.data()) == nullptr) return error("mkdtemp " + base + leaf + ": " + errno_text(errno));
  return pattern;
}

// A loopback port nobody listens on right now. Another process may take it before redis-server
// binds it; start() retries with a new one when that happens.
llvm::Expected<int> pick_free_port() {
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return error("socket: " + errno_text(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return error("bind: " + errno_text(errno));
  }
  socklen_t len = sizeof addr;
  if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return error("getsockname: " + errno_text(errno));
  }
  return ntohs(addr.sin_port);
}

std::vector<std::string> server_args(const std::string& server_path, const RedisServerOptions& options,
                                     const std::string& dir, const std::string& log_path,
                                     const std::string& socket_path, int port) {
  // Redis 7 quotes each command-line argument into its config, so "" and spaces survive.
  std::vector<std::string> args = {server_path, "--port", std::to_string(port), "--dir", dir,
                                   "--logfile", log_path, "--daemonize", "no", "--save", "",
                                   "--appendonly", "no", "--enable-debug-command", "yes"};
  if (!socket_path.empty()) {
    args.insert(args.end(), {"--unixsocket", socket_path, "--unixsocketperm", "700"});
  } else {
    args.insert(args.end(), {"--bind", kLoopback});
  }
  if (!options.password.empty()) args.insert(args.end(), {"--requirepass", options.password});
  if (!options.maxmemory.empty()) {
    args.insert(args.end(), {"--maxmemory", options.maxmemory, "--maxmemory-policy", "noeviction"});
  }
  return args;
}

// Percent-encodes everything but RFC 3986's unreserved characters, for the URL's userinfo.
std::string percent_encode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The command as an error message shows it: long values (a big SET) cut short.
std::string describe_command(const std::vector<std::string>& args) {
  std::string text;
  for (const std::string& arg : args) {
    if (!text.empty()) text += ' ';
    text += arg.size() <= 64 ? arg : arg.substr(0, 64) + "...(" + std::to_string(arg.size()) + " bytes)";
  }
  return text;
}

// Whether stdout is a top-level error reply the way redis-cli --raw prints one when it does not
// exit non-zero for it (without -e): the bare error text, then an empty line. A bulk string prints
// with one newline only, so a stored value "ERR x" is not mistaken for an error.
bool looks_like_error_reply(const std::string& out) {
  if (out.rfind("(error) ", 0) == 0) return true;  // the formatted (non --raw) style
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\n\n") != 0) return false;
  if (out.find('\n') != out.size() - 2) return false;
  for (const char* prefix : {"ERR", "WRONGTYPE", "OOM", "NOAUTH", "WRONGPASS"}) {
    std::size_t len = std::strlen(prefix);
    if (out.compare(0, len, prefix) == 0 && (out.size() == len + 2 || out[len] == ' ')) return true;
  }
  return false;
}

// The pid in an INFO server reply ("process_id:1234\r\n"), -1 when absent.
long process_id_in(const std::string& info) {
  const std::string key = "process_id:";
  std::size_t at = info.find(key);
  if (at == std::string::npos) return -1;
  return std::strtol(info.c_str() + at + key.size(), nullptr, 10);
}

std::string format_seconds(double seconds) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f", seconds);
  return text;
}

}  // namespace

// --- Free functions -----------------------------------------------------------------------------

llvm::Expected<ProcessOutput> run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) return error("run_process: empty argv");
  Clock::time_point deadline = Clock::now() + timeout;
  auto out_pipe = make_pipe();
  if (!out_pipe) return out_pipe.takeError();
  auto err_pipe = make_pipe();
  if (!err_pipe) return err_pipe.takeError();
  auto pid = spawn(argv, out_pipe->write.get(), err_pipe->write.get());
  // Our copies of the write ends must go, or the reads below never see EOF.
  out_pipe->write.reset();
  err_pipe->write.reset();
  if (!pid) return pid.takeError();
  ProcessOutput result;
  bool finished = drain(out_pipe->read.get(), err_pipe->read.get(), deadline, result.out, result.err);
  if (!finished) {
    kill_child(*pid);
    wait_for(*pid);
    return error(argv[0] + " did not finish within " + std::to_string(timeout.count()) + " ms (killed); stdout: " +
                 trim(result.out) + "; stderr: " + trim(result.err));
  }
  result.exit_code = exit_code_of(wait_for(*pid));
  return result;
}

std::string redis_server_unavailable_reason() {
  auto server = find_redis_server();
  if (!server) return llvm::toString(server.takeError());
  auto cli = find_redis_cli(*server);
  if (!cli) return llvm::toString(cli.takeError());
  return "";
}

bool redis_server_available() { return redis_server_unavailable_reason().empty(); }

bool redis_required() {
  const char* env = std::getenv("FLASHJIT_REQUIRE_REDIS");
  return env != nullptr && std::string(env) == "1";
}

// --- RedisServer --------------------------------------------------------------------------------

RedisServer::RedisServer(RedisServerOptions options, std::string cli_path)
    : options_(std::move(options)), cli_path_(std::move(cli_path)) {}

llvm::Expected<std::unique_ptr<RedisServer>> RedisServer::start(const RedisServerOptions& options) {
  auto server_path = find_redis_server();
  if (!server_path) return server_path.takeError();
  auto cli_path = find_redis_cli(*server_path);
  if (!cli_path) return cli_path.takeError();
  for (int attempt = 1;; ++attempt) {
    auto server = launch(options, *server_path, *cli_path);
    if (!server) return server.takeError();
    llvm::Error ready = (*server)->wait_until_ready();
    if (!ready) return std::move(*server);
    // Only a lost race for the port is worth another try; anything else would fail again.
    if (attempt == kMaxStartAttempts || !(*server)->lost_port_race()) return {std::move(ready)};
    llvm::consumeError(std::move(ready));
  }
}

llvm::Expected<std::unique_ptr<RedisServer>> RedisServer::launch(const RedisServerOptions& options,
                                                                 const std::string& server_path,
                                                                 const std::string& cli_path) {
  auto dir = make_temp_dir(options.unix_socket);
  if (!dir) return dir.takeError();
  // From here on the destructor removes the dir, whatever fails.
  std::unique_ptr<RedisServer> server(new RedisServer(options, cli_path));
  server->dir_ = *dir;
  server->log_path_ = *dir + "/redis.log";
  if (options.unix_socket) {
    server->socket_path_ = *dir + "/redis.sock";
    if (server->socket_path_.size() > kMaxSocketPath) {
      return error("unix socket path too long (" + std::to_string(server->socket_path_.size()) +
                   " bytes, at most 107): " + server->socket_path_);
    }
  } else {
    auto port = pick_free_port();
    if (!port) return port.takeError();
    server->port_ = *port;
  }
  UniqueFd log_fd(::open(server->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (log_fd.get() < 0) return error("open " + server->log_path_ + ": " + errno_text(errno));
  auto args = server_args(server_path, options, server->dir_, server->log_path_, server->socket_path_, server->port_);
  // Startup errors (a bad option) go to stderr before the log file is opened: keep both in one file.
  auto pid = spawn(args, log_fd.get(), log_fd.get());
  if (!pid) return pid.takeError();
  server->pid_ = *pid;
  server->running_ = true;
  return {std::move(server)};
}

llvm::Error RedisServer::wait_until_ready() {
  Clock::time_point deadline = Clock::now() + kStartTimeout;
  std::string answer;
  while (true) {
    if (reap_if_exited()) {
      return error("redis-server " + describe_status(exit_status_) + " before answering PING; log:\n" + log_tail());
    }
    if (serves_ping(&answer)) return llvm::Error::success();
    if (Clock::now() >= deadline) {
      return error("redis-server (pid " + std::to_string(pid_) + ") did not answer PING within " +
                   std::to_string(kStartTimeout.count() / 1000) + " s; last redis-cli answer: " + answer + "; log:\n" +
                   log_tail());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// PONG from our own server: on TCP a foreign server that took the port could answer too (while
// ours is about to exit for the lost bind), hence the process_id check.
bool RedisServer::serves_ping(std::string* answer) const {
  auto pong = command({"PING"}, kPingTimeout);
  if (!pong) {
    *answer = llvm::toString(pong.takeError());
    return false;
  }
  *answer = *pong;
  if (*pong != "PONG") return false;
  auto info = command({"INFO", "server"}, kPingTimeout);
  if (!info) {
    *answer = llvm::toString(info.takeError());
    return false;
  }
  if (process_id_in(*info) == pid_) return true;
  *answer = "PONG from another server (process_id " + std::to_string(process_id_in(*info)) + ")";
  return false;
}

bool RedisServer::lost_port_race() const {
  return socket_path_.empty() && !running_ && log().find("Address already in use") != std::string::npos;
}

bool RedisServer::reap_if_exited() {
  if (!running_) return true;
  std::optional<int> status = try_reap(pid_);
  if (!status) return false;
  exit_status_ = *status;
  running_ = false;
  return true;
}

RedisServer::~RedisServer() {
  kill();
  for (pid_t sleeper : sleepers_) {
    kill_child(sleeper);
    wait_for(sleeper);
  }
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServer::url() const {
  if (!socket_path_.empty()) return "unix://" + socket_path_;
  std::string auth = options_.password.empty() ? "" : ":" + percent_encode(options_.password) + "@";
  return "redis://" + auth + kLoopback + ":" + std::to_string(port_) + "/0";
}

std::string RedisServer::url_without_password() const {
  if (!socket_path_.empty()) return "unix://" + socket_path_;
  return std::string("redis://") + kLoopback + ":" + std::to_string(port_) + "/0";
}

void RedisServer::kill() {
  if (!running_) return;
  kill_child(pid_);
  exit_status_ = wait_for(pid_);
  running_ = false;
}

void RedisServer::stop_process() {
  if (running_) ::kill(pid_, SIGSTOP);
}

void RedisServer::continue_process() {
  if (running_) ::kill(pid_, SIGCONT);
}

void RedisServer::reap_finished_sleepers() {
  std::vector<pid_t> still_running;
  for (pid_t sleeper : sleepers_) {
    if (!try_reap(sleeper)) still_running.push_back(sleeper);
  }
  sleepers_ = std::move(still_running);
}

void RedisServer::sleep_async(double seconds) {
  reap_finished_sleepers();
  std::vector<std::string> args = cli_args();
  args.insert(args.end(), {"DEBUG", "SLEEP", format_seconds(seconds)});
  auto pid = spawn(args, -1, -1);
  if (!pid) {
    ADD_FAILURE() << "sleep_async: " << llvm::toString(pid.takeError());
    return;
  }
  sleepers_.push_back(*pid);
}

std::vector<std::string> RedisServer::cli_args(bool with_password) const {
  std::vector<std::string> args = {cli_path_};
  if (!socket_path_.empty()) {
    args.insert(args.end(), {"-s", socket_path_});
  } else {
    args.insert(args.end(), {"-h", kLoopback, "-p", std::to_string(port_)});
  }
  if (with_password && !options_.password.empty()) {
    args.insert(args.end(), {"-a", options_.password, "--no-auth-warning"});
  }
  // -e: exit 1 (the error on stderr) on an error reply; without it redis-cli exits 0.
  args.insert(args.end(), {"--raw", "-e"});
  return args;
}

llvm::Expected<std::string> RedisServer::command(const std::vector<std::string>& args,
                                                 std::chrono::milliseconds timeout) const {
  if (args.empty()) return error("RedisServer::command: no command");
  std::vector<std::string> argv = cli_args();
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv, timeout);
  if (!result) return error("redis-cli " + describe_command(args) + ": " + llvm::toString(result.takeError()));
  if (result->exit_code != 0 || looks_like_error_reply(result->out)) {
    return error("redis-cli " + describe_command(args) + " failed (exit " + std::to_string(result->exit_code) +
                 "): " + trim(result->err + result->out));
  }
  std::string out = std::move(result->out);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string RedisServer::log() const {
  std::ifstream file(log_path_, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The last lines of the log: enough for "Address already in use" or a config error.
std::string RedisServer::log_tail() const {
  constexpr int kLines = 30;
  std::string text = log();
  std::size_t at = text.size();
  for (int lines = 0; lines <= kLines && at != std::string::npos && at > 0; ++lines) at = text.rfind('\n', at - 1);
  return at == std::string::npos ? text : text.substr(at + 1);
}

}  // namespace flashjit::testing
