#include "cache/redis_connection.h"

#include <cerrno>
#include <csignal>
#include <ctime>

#include <pthread.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

namespace flashjit::cache {
namespace {

// A reply larger than this is not something FlashJIT wrote (an entry is a cubin of at most a few
// MiB, base64-encoded): refusing to copy it keeps a hostile server from doubling the memory it
// already made hiredis allocate.
constexpr size_t kMaxReplyBytes = size_t(256) << 20;

timeval as_timeval(int timeout_ms) {
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  return tv;
}

// hiredis's reply as ours; false when it is larger than kMaxReplyBytes in all.
bool convert(const redisReply& from, RedisReply& to, size_t& budget) {
  switch (from.type) {
    case REDIS_REPLY_NIL: to.kind = RedisReply::Kind::nil; return true;
    case REDIS_REPLY_INTEGER: to.kind = RedisReply::Kind::integer; to.integer = from.integer; return true;
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      to.kind = from.type == REDIS_REPLY_ERROR ? RedisReply::Kind::error : RedisReply::Kind::text;
      if (from.len > budget) return false;
      budget -= from.len;
      to.text.assign(from.str, from.len);
      return true;
    case REDIS_REPLY_ARRAY:
      to.kind = RedisReply::Kind::array;
      to.elements.resize(from.elements);
      for (size_t i = 0; i < from.elements; ++i)
        if (!convert(*from.element[i], to.elements[i], budget)) return false;
      return true;
    default: return false;
  }
}

// hiredis writes with write(): to a peer that has closed the connection (a server killed or
// restarted, one that dropped an idle client) that raises SIGPIPE, whose default action ends the
// process -- on a unix socket at the first write, on TCP at a write after the reset. A library
// must not end its host, nor change the process's signal handling; so, for the duration of the
// calls that write, SIGPIPE is blocked in this thread, and one it raised is taken off the thread
// (sigtimedwait) before the mask is restored: the write then fails with EPIPE, a failure like any
// other. (What libcurl and OpenSSL's documentation do.)
class SigpipeHeldBack {
 public:
  SigpipeHeldBack() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    // One already pending (blocked by the host) is the host's to deliver: leave it alone.
    already_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &saved_);
  }
  ~SigpipeHeldBack() {
    if (!already_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        const timespec no_wait{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &no_wait) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  SigpipeHeldBack(const SigpipeHeldBack&) = delete;
  SigpipeHeldBack& operator=(const SigpipeHeldBack&) = delete;

 private:
  sigset_t pipe_;
  sigset_t saved_;
  bool already_pending_ = false;
};

struct ReplyDeleter {
  void operator()(void* reply) const { freeReplyObject(reply); }
};
using OwnedReply = std::unique_ptr<void, ReplyDeleter>;

}  // namespace

RedisConnection::RedisConnection(redisContext* context, std::string described)
    : context_(context), described_(std::move(described)) {}

RedisConnection::~RedisConnection() { redisFree(context_); }

llvm::Error RedisConnection::failure(const char* doing) {
  // hiredis's own text: "Connection refused", "Resource temporarily unavailable" (the timeout),
  // "Server closed the connection", "Protocol error, got ..." -- never the password.
  // A read past SO_RCVTIMEO fails with EAGAIN, which hiredis reports by its strerror text.
  std::string why = context_->errstr[0] != '\0' ? context_->errstr : "unknown error";
  last_failure_timed_out_ = why == "Resource temporarily unavailable";
  if (last_failure_timed_out_) why = "no answer within the timeout";
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s %s: %s", described_.c_str(), doing, why.c_str());
}

llvm::Expected<std::unique_ptr<RedisConnection>> RedisConnection::open(const RemoteEndpoint& endpoint, int timeout_ms) {
  const timeval timeout = as_timeval(timeout_ms);
  redisContext* context = endpoint.unix_socket ? redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), timeout)
                                               : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, timeout);
  const std::string described = endpoint.describe();
  if (context == nullptr)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: cannot allocate a connection",
                                   described.c_str());
  std::unique_ptr<RedisConnection> connection(new RedisConnection(context, described));
  if (context->err != 0) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: cannot connect: %s", described.c_str(),
                                   static_cast<const char*>(context->errstr));
  }
  if (redisSetTimeout(context, timeout) != REDIS_OK) return connection->failure("cannot set the command timeout");
  if (!endpoint.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(endpoint.password);
    auto reply = connection->run(auth);
    if (!reply) return reply.takeError();
    // The server's message ("WRONGPASS invalid username-password pair ...") names no password.
    if (reply->is_error())
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: authentication failed: %s",
                                     described.c_str(), reply->text.c_str());
  }
  if (endpoint.db != 0) {
    auto reply = connection->run({"SELECT", std::to_string(endpoint.db)});
    if (!reply) return reply.takeError();
    if (reply->is_error())
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: cannot select database %d: %s",
                                     described.c_str(), endpoint.db, reply->text.c_str());
  }
  return connection;
}

llvm::Expected<RedisReply> RedisConnection::run(const std::vector<std::string>& arguments) {
  auto replies = run_all({arguments});
  if (!replies) return replies.takeError();
  return std::move(replies->front());
}

llvm::Expected<std::vector<RedisReply>> RedisConnection::run_all(const std::vector<std::vector<std::string>>& commands) {
  for (const std::vector<std::string>& arguments : commands) {
    std::vector<const char*> pointers;
    std::vector<size_t> lengths;
    for (const std::string& argument : arguments) {
      pointers.push_back(argument.data());
      lengths.push_back(argument.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(pointers.size()), pointers.data(), lengths.data()) != REDIS_OK)
      return failure("cannot queue a command");
  }
  std::vector<RedisReply> replies(commands.size());
  const SigpipeHeldBack held_back;  // redisGetReply writes the queued commands first
  for (RedisReply& reply : replies) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return failure("did not answer");
    OwnedReply owned(raw);
    size_t budget = kMaxReplyBytes;
    if (!convert(*static_cast<redisReply*>(raw), reply, budget))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s answered with a reply larger than %zu MiB",
                                     described_.c_str(), kMaxReplyBytes >> 20);
  }
  return replies;
}

}  // namespace flashjit::cache
