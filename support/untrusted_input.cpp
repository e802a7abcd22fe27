#include "support/untrusted_input.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <llvm/Support/FormatVariadic.h>
#include <nlohmann/json.hpp>

#include "support/error.h"
#include "support/quote.h"

namespace flashjit {
namespace {

llvm::Error input_error(const std::string& path, const std::string& why) {
  // Paths are the user's own, but may still hold anything a file name can; a long one is kept.
  return make_error(ErrorCode::invalid_argument, "cannot read " + quote_prefix(path, 512) + ": " + why);
}

// What a file that is not a regular file is, in words.
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

llvm::Error too_large(const std::string& path, const std::string& size, uint64_t max_bytes, llvm::StringRef hint) {
  return input_error(path, llvm::formatv("it is {0} bytes, over the limit of {1} bytes (raise it with {2})", size,
                                         max_bytes, hint)
                               .str());
}

// Closes the descriptor on every return.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

llvm::Expected<std::string> read_input_file(const std::string& path, uint64_t max_bytes, llvm::StringRef limit_hint) {
  // O_NONBLOCK: opening a FIFO with no writer must not hang before fstat() can refuse it.
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (file.fd < 0) return input_error(path, std::strerror(errno));
  // Checked on the descriptor, so what was checked is what is read.
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) return input_error(path, std::strerror(errno));
  if (!S_ISREG(info.st_mode)) return input_error(path, std::string("it is ") + kind_of(info.st_mode));
  if (static_cast<uint64_t>(info.st_size) > max_bytes)
    return too_large(path, std::to_string(info.st_size), max_bytes, limit_hint);

  std::string text;
  text.resize(static_cast<size_t>(info.st_size));
  size_t filled = 0;
  while (true) {
    // One byte past the limit tells a file that grew since fstat() from one that did not.
    if (filled == text.size()) {
      if (text.size() > max_bytes) return too_large(path, "more than " + std::to_string(max_bytes), max_bytes, limit_hint);
      text.resize(std::min<uint64_t>(max_bytes + 1, text.size() + 65536));
    }
    const ssize_t got = ::read(file.fd, &text[filled], text.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return input_error(path, std::strerror(errno));
    if (got == 0) break;
    filled += static_cast<size_t>(got);
  }
  text.resize(filled);
  return text;
}

llvm::Expected<nlohmann::json> parse_json(llvm::StringRef text, int max_depth) {
  using nlohmann::json;
  // The callback sees every array and object as it starts, with the number of containers around
  // it; discarding the too-deep ones keeps the tree shallow while the parser (iterative) reads on.
  bool too_deep = false;
  const json::parser_callback_t bound = [&](int depth, json::parse_event_t event, json&) {
    const bool opens = event == json::parse_event_t::array_start || event == json::parse_event_t::object_start;
    if (opens && depth >= max_depth) too_deep = true;
    return !too_deep;
  };
  json root = json::parse(text.begin(), text.end(), bound, /*allow_exceptions=*/false);
  if (too_deep)
    return make_error(ErrorCode::invalid_argument, llvm::formatv("JSON nesting deeper than {0} levels", max_depth));
  if (root.is_discarded()) return make_error(ErrorCode::invalid_argument, "not valid JSON");
  return root;
}

}  // namespace flashjit
