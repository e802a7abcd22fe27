// One connection to a Redis server, through hiredis (private to the cache layer: only
// redis_connection.cpp includes hiredis.h). Connect and every command are bounded by the timeout;
// AUTH and SELECT happen at connect. A failure of the connection itself (refused, timed out,
// closed, not speaking Redis) is an error, after which the connection must be dropped; an error the
// server answers with (WRONGTYPE, OOM, NOSCRIPT, ...) is a reply of kind `error`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "cache/remote_settings.h"

struct redisContext;

namespace flashjit::cache {

struct RedisReply {
  enum class Kind { nil, text, integer, array, error };
  Kind kind = Kind::nil;
  std::string text;  // a bulk or status string, or the error's message
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool is_error() const { return kind == Kind::error; }
  bool is_nil() const { return kind == Kind::nil; }
};

class RedisConnection {
 public:
  // Errors name the endpoint (describe(): never the password) and what failed.
  static llvm::Expected<std::unique_ptr<RedisConnection>> open(const RemoteEndpoint& endpoint, int timeout_ms);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command, its arguments binary-safe.
  llvm::Expected<RedisReply> run(const std::vector<std::string>& arguments);
  // Several commands sent at once and their replies read in order (one round trip).
  llvm::Expected<std::vector<RedisReply>> run_all(const std::vector<std::vector<std::string>>& commands);
  // Whether the last failure was the command timeout (the server is there but does not answer),
  // rather than the connection having gone (closed, reset): a connection that had gone may be
  // replaced at once; one that timed out has used the time a call may spend.
  bool last_failure_timed_out() const { return last_failure_timed_out_; }

 private:
  explicit RedisConnection(redisContext* context, std::string described);
  llvm::Error failure(const char* doing);
  redisContext* context_;
  std::string described_;
  bool last_failure_timed_out_ = false;
};

}  // namespace flashjit::cache
