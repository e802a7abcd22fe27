#include "cache/access_mode.h"

#include <cerrno>
#include <cstring>

#include <unistd.h>

#include "cache/cache_path.h"

namespace flashjit::cache {
namespace {

llvm::Error cannot_open(const std::string& path, const std::string& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot open the tuning cache %s: %s",
                                 path.c_str(), why.c_str());
}

}  // namespace

llvm::Expected<AccessMode> decide_access(const std::string& path, bool read_only_requested) {
  const std::string directory = directory_of(path);
  const bool file_exists = ::access(path.c_str(), F_OK) == 0;
  if (!file_exists) {
    if (read_only_requested) return cannot_open(path, "no such file (asked to open it read-only)");
    if (::access(directory.c_str(), W_OK) != 0)
      return cannot_open(path, "no such file, and its directory " + directory + " is not writable (" +
                                   std::strerror(errno) + ")");
    return AccessMode{};
  }
  if (::access(path.c_str(), R_OK) != 0) return cannot_open(path, std::strerror(errno));
  if (read_only_requested) return AccessMode{true, "opened read-only as asked"};
  if (::access(path.c_str(), W_OK) != 0) return AccessMode{true, "the file is not writable"};
  if (::access(directory.c_str(), W_OK) != 0)
    return AccessMode{true, "its directory " + directory + " is not writable"};
  return AccessMode{};
}

}  // namespace flashjit::cache
