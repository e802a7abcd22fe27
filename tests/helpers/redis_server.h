// A private, throwaway redis-server for tests: started on a free loopback port (or a unix socket)
// in a fresh temp dir, driven through redis-cli, killed and cleaned up by its destructor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

namespace flashjit::testing {

struct RedisServerOptions {
  bool unix_socket = false;  // listen on a unix socket in the server's temp dir (port 0), else 127.0.0.1:<free port>
  std::string password;      // requirepass when non-empty
  std::string maxmemory;     // e.g. "1mb": maxmemory with maxmemory-policy noeviction; empty: none
};

// How long command() waits for redis-cli before killing it: long enough for a loaded CI machine,
// short enough that a test talking to a stopped server fails instead of hanging.
inline constexpr std::chrono::milliseconds kRedisCommandTimeout{10000};

class RedisServer {
 public:
  // Starts redis-server (the binary from $FLASHJIT_REDIS_SERVER, else redis-server on PATH) with no
  // persistence, DEBUG enabled, its dir and log file in a fresh temp dir, on a free loopback port
  // (retried with another port when the server loses the race for it) or a unix socket; waits (up
  // to 10 s) until PING answers PONG. The error says what failed, with the log's tail.
  // redis-cli is $FLASHJIT_REDIS_CLI, else the one next to redis-server, else redis-cli on PATH.
  static llvm::Expected<std::unique_ptr<RedisServer>> start(const RedisServerOptions& options = {});

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer();  // SIGKILLs and reaps the server and any sleep_async() redis-cli, removes the temp dir

  // "redis://127.0.0.1:PORT/0" ("redis://:PASSWORD@127.0.0.1:PORT/0" with a password, percent-encoded),
  // or "unix:///path/redis.sock" (a unix URL never carries the password).
  std::string url() const;
  std::string url_without_password() const;
  int port() const { return port_; }  // 0 for a unix socket
  const std::string& socket_path() const { return socket_path_; }  // empty for TCP
  const std::string& password() const { return options_.password; }
  const std::string& dir() const { return dir_; }  // the temp dir (tests may put files there)
  pid_t pid() const { return pid_; }

  void kill();              // SIGKILL now, reaped; later command() calls fail
  void stop_process();      // SIGSTOP: the server then accepts connections but never answers
  void continue_process();  // SIGCONT

  // Sends "DEBUG SLEEP <seconds>" through a background redis-cli without waiting for it; finished
  // ones are reaped by later calls, the rest by the destructor.
  void sleep_async(double seconds);

  // Runs one command through redis-cli and returns its stdout without the trailing newline (an
  // array reply is one element a line; a nil reply is ""). An error, with redis-cli's stderr and
  // stdout, when redis-cli fails (cannot connect, error reply such as ERR/WRONGTYPE/OOM/NOAUTH) or
  // runs past `timeout` (then it is killed).
  llvm::Expected<std::string> command(const std::vector<std::string>& args,
                                      std::chrono::milliseconds timeout = kRedisCommandTimeout) const;

  // The redis-cli argv that command() puts in front of the command: the binary, -h/-p or -s, -a
  // with --no-auth-warning (only when `with_password` and there is one), --raw and -e (exit 1 on
  // an error reply). For tests that want to see what a client without the password gets.
  std::vector<std::string> cli_args(bool with_password = true) const;

  // The server's log file contents (its stdout and stderr go there too), for messages.
  std::string log() const;

 private:
  RedisServer(RedisServerOptions options, std::string cli_path);
  static llvm::Expected<std::unique_ptr<RedisServer>> launch(const RedisServerOptions& options,
                                                             const std::string& server_path,
                                                             const std::string& cli_path);
  llvm::Error wait_until_ready();
  bool serves_ping(std::string* answer) const;
  bool lost_port_race() const;
  bool reap_if_exited();
  std::string log_tail() const;
  void reap_finished_sleepers();

  RedisServerOptions options_;
  std::string cli_path_;
  std::string dir_;
  std::string log_path_;
  std::string socket_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool running_ = false;  // pid_ not yet reaped: safe to signal
  int exit_status_ = 0;   // waitpid status once reaped
  std::vector<pid_t> sleepers_;
};

// What a finished child process left: its exit code (128 + the signal number when a signal ended
// it), its stdout and its stderr.
struct ProcessOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] a path) with stdin from /dev/null in its own session, collecting stdout and
// stderr; an error when it cannot be started or runs past `timeout` (then it is SIGKILLed).
llvm::Expected<ProcessOutput> run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// Whether a redis-server binary (and a redis-cli to drive it) can be found.
bool redis_server_available();
// Why not, for the skip message ("" when available).
std::string redis_server_unavailable_reason();
// Whether the environment has FLASHJIT_REQUIRE_REDIS=1.
bool redis_required();

}  // namespace flashjit::testing

// For a gtest body (a void function): GTEST_SKIP() when redis-server is missing, unless
// FLASHJIT_REQUIRE_REDIS=1 (CI that installs it), which makes that a failure instead.
#define FLASHJIT_REQUIRE_REDIS_OR_SKIP()                                                         \
  do {                                                                                           \
    if (!::flashjit::testing::redis_server_available()) {                                        \
      if (::flashjit::testing::redis_required()) {                                               \
        ADD_FAILURE() << "FLASHJIT_REQUIRE_REDIS=1 but "                                         \
                      << ::flashjit::testing::redis_server_unavailable_reason();                 \
        return;                                                                                  \
      }                                                                                          \
      GTEST_SKIP() << ::flashjit::testing::redis_server_unavailable_reason()                     \
                   << " (set FLASHJIT_REDIS_SERVER, or FLASHJIT_REQUIRE_REDIS=1 to fail instead)"; \
    }                                                                                            \
  } while (0)
