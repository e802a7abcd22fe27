// Self-test of the RedisServer test helper: servers start on TCP and on a unix socket, commands
// and their error replies come back as values and errors, a password, kill() and maxmemory do
// what tests built on them expect, and a DEBUG SLEEP leaves the server answering afterwards.
#include "helpers/redis_server.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace flashjit::testing {
namespace {

using std::chrono::milliseconds;

// The server, or a fatal failure with the helper's message (ASSERT_ needs a void function).
#define ASSERT_STARTED(server, options)                                       \
  auto server##_or = RedisServer::start(options);                             \
  ASSERT_TRUE(static_cast<bool>(server##_or)) << llvm::toString(server##_or.takeError()); \
  std::unique_ptr<RedisServer> server = std::move(*server##_or)

// command()'s value, or a test failure and "<error: ...>" so the comparison that follows fails too.
std::string value_of(llvm::Expected<std::string> result) {
  if (result) return *result;
  std::string message = llvm::toString(result.takeError());
  ADD_FAILURE() << message;
  return "<error: " + message + ">";
}

// command()'s error message, or a test failure when it succeeded.
std::string error_of(llvm::Expected<std::string> result) {
  if (!result) return llvm::toString(result.takeError());
  ADD_FAILURE() << "expected an error, got \"" << *result << "\"";
  return "";
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(RedisServerFixture, TcpServerSetsAndGets) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  ASSERT_STARTED(server, RedisServerOptions{});
  EXPECT_GT(server->port(), 0);
  EXPECT_TRUE(server->socket_path().empty());
  EXPECT_EQ(server->url(), "redis://127.0.0.1:" + std::to_string(server->port()) + "/0");
  EXPECT_EQ(server->url_without_password(), server->url());
  EXPECT_EQ(value_of(server->command({"SET", "key", "a value with spaces"})), "OK");
  EXPECT_EQ(value_of(server->command({"GET", "key"})), "a value with spaces");
  EXPECT_EQ(value_of(server->command({"GET", "missing"})), "");
  EXPECT_EQ(value_of(server->command({"RPUSH", "list", "a", "", "c"})), "3");
  EXPECT_EQ(value_of(server->command({"LRANGE", "list", "0", "-1"})), "a\n\nc");
  // No persistence: nothing may ever be written to disk behind the tests' back.
  EXPECT_EQ(value_of(server->command({"CONFIG", "GET", "save"})), "save\n");
  EXPECT_EQ(value_of(server->command({"CONFIG", "GET", "appendonly"})), "appendonly\nno");
}

TEST(RedisServerFixture, UnixSocketServerSetsAndGets) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  RedisServerOptions options;
  options.unix_socket = true;
  ASSERT_STARTED(server, options);
  EXPECT_EQ(server->port(), 0);
  EXPECT_EQ(server->socket_path(), server->dir() + "/redis.sock");
  EXPECT_LE(server->socket_path().size(), 107u);
  EXPECT_EQ(server->url(), "unix://" + server->socket_path());
  EXPECT_EQ(value_of(server->command({"SET", "key", "value"})), "OK");
  EXPECT_EQ(value_of(server->command({"GET", "key"})), "value");
  EXPECT_EQ(value_of(server->command({"CONFIG", "GET", "port"})), "port\n0");
}

TEST(RedisServerFixture, ErrorRepliesAreErrorsButLookalikeValuesAreNot) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  ASSERT_STARTED(server, RedisServerOptions{});
  EXPECT_NE(error_of(server->command({"NOSUCHCOMMAND"})).find("ERR unknown command"), std::string::npos);
  EXPECT_EQ(value_of(server->command({"SET", "key", "value"})), "OK");
  EXPECT_NE(error_of(server->command({"LPUSH", "key", "x"})).find("WRONGTYPE"), std::string::npos);
  // A stored value that reads like an error reply is still a value.
  EXPECT_EQ(value_of(server->command({"SET", "fake", "ERR not an error"})), "OK");
  EXPECT_EQ(value_of(server->command({"GET", "fake"})), "ERR not an error");
}

TEST(RedisServerFixture, PasswordIsRequired) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  RedisServerOptions options;
  options.password = "s3cret pass/word";
  ASSERT_STARTED(server, options);
  EXPECT_EQ(server->password(), options.password);
  std::string port = std::to_string(server->port());
  EXPECT_EQ(server->url(), "redis://:s3cret%20pass%2Fword@127.0.0.1:" + port + "/0");
  EXPECT_EQ(server->url_without_password(), "redis://127.0.0.1:" + port + "/0");

  // redis-cli without -a: the server refuses with NOAUTH.
  std::vector<std::string> argv = server->cli_args(/*with_password=*/false);
  argv.insert(argv.end(), {"SET", "key", "value"});
  auto refused = run_process(argv, milliseconds(10000));
  ASSERT_TRUE(static_cast<bool>(refused)) << llvm::toString(refused.takeError());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_NE((refused->err + refused->out).find("NOAUTH"), std::string::npos) << refused->err << refused->out;

  EXPECT_EQ(value_of(server->command({"SET", "key", "value"})), "OK");
  EXPECT_EQ(value_of(server->command({"GET", "key"})), "value");
}

TEST(RedisServerFixture, PasswordOnUnixSocketStaysOutOfTheUrl) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  RedisServerOptions options;
  options.unix_socket = true;
  options.password = "pw";
  ASSERT_STARTED(server, options);
  EXPECT_EQ(server->url(), "unix://" + server->socket_path());
  EXPECT_EQ(value_of(server->command({"PING"})), "PONG");
  std::vector<std::string> argv = server->cli_args(/*with_password=*/false);
  argv.push_back("PING");
  auto refused = run_process(argv, milliseconds(10000));
  ASSERT_TRUE(static_cast<bool>(refused)) << llvm::toString(refused.takeError());
  EXPECT_NE(refused->err.find("NOAUTH"), std::string::npos) << refused->err;
}

TEST(RedisServerFixture, KillMakesCommandsFail) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  ASSERT_STARTED(server, RedisServerOptions{});
  pid_t pid = server->pid();
  EXPECT_EQ(value_of(server->command({"PING"})), "PONG");
  server->kill();
  EXPECT_FALSE(process_exists(pid)) << "kill() must reap the server, not leave a zombie";
  EXPECT_NE(error_of(server->command({"PING"})).find("Could not connect"), std::string::npos);
  server->kill();  // a second kill() is harmless
}

TEST(RedisServerFixture, MaxmemoryRefusesLargeWrites) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  RedisServerOptions options;
  options.maxmemory = "1mb";
  ASSERT_STARTED(server, options);
  EXPECT_EQ(value_of(server->command({"CONFIG", "GET", "maxmemory-policy"})), "maxmemory-policy\nnoeviction");
  // An argument is at most 128 KiB (the kernel's limit per exec argument): grow a value past the
  // limit with SETRANGE, then the next write is refused.
  EXPECT_EQ(value_of(server->command({"SETRANGE", "big", "2000000", "x"})), "2000001");
  EXPECT_NE(error_of(server->command({"SET", "more", std::string(100000, 'y')})).find("OOM"), std::string::npos);
  EXPECT_EQ(value_of(server->command({"GET", "missing"})), "");  // reads still work
}

TEST(RedisServerFixture, AnswersAfterAsyncSleep) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  ASSERT_STARTED(server, RedisServerOptions{});
  auto begin = std::chrono::steady_clock::now();
  server->sleep_async(0.5);
  server->sleep_async(0.2);  // two in flight: both reaped, by sleep_async or the destructor
  EXPECT_LT(std::chrono::steady_clock::now() - begin, milliseconds(400)) << "sleep_async must not wait";
  EXPECT_EQ(value_of(server->command({"PING"})), "PONG");
  EXPECT_EQ(value_of(server->command({"SET", "key", "after"})), "OK");
  EXPECT_EQ(value_of(server->command({"GET", "key"})), "after");
}

TEST(RedisServerFixture, StoppedServerTimesOutThenRecovers) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  ASSERT_STARTED(server, RedisServerOptions{});
  server->stop_process();
  EXPECT_NE(error_of(server->command({"PING"}, milliseconds(300))).find("did not finish"), std::string::npos);
  server->continue_process();
  EXPECT_EQ(value_of(server->command({"PING"})), "PONG");
  server->stop_process();  // the destructor must still kill and reap a stopped server
}

TEST(RedisServerFixture, DestructorRemovesTheTempDir) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  std::string dir;
  pid_t pid = -1;
  {
    ASSERT_STARTED(server, RedisServerOptions{});
    dir = server->dir();
    pid = server->pid();
    struct stat st {};
    EXPECT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_NE(server->log().find("Ready to accept connections"), std::string::npos) << server->log();
  }
  struct stat st {};
  EXPECT_NE(::stat(dir.c_str(), &st), 0) << dir << " still exists";
  EXPECT_FALSE(process_exists(pid));
}

TEST(RedisServerFixture, BadOptionSaysWhatFailed) {
  FLASHJIT_REQUIRE_REDIS_OR_SKIP();
  RedisServerOptions options;
  options.maxmemory = "not-a-size";
  auto server = RedisServer::start(options);
  ASSERT_FALSE(static_cast<bool>(server));
  std::string message = llvm::toString(server.takeError());
  EXPECT_NE(message.find("exited with code"), std::string::npos) << message;
  EXPECT_NE(message.find("maxmemory"), std::string::npos) << message;  // the log tail names the option
}

}  // namespace
}  // namespace flashjit::testing
