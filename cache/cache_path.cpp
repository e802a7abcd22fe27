#include "cache/cache_path.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <sys/stat.h>

#include <llvm/ADT/SmallString.h>
#include <llvm/Support/Path.h>

namespace flashjit::cache {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

std::string join(const std::string& directory, const char* a, const char* b = nullptr) {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, a);
  if (b != nullptr) llvm::sys::path::append(path, b);
  return std::string(path);
}

llvm::Error directory_error(const std::string& directory, const std::string& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot create cache directory %s: %s",
                                 directory.c_str(), why.c_str());
}

}  // namespace

llvm::Expected<std::string> default_cache_path() {
  const std::string flashjit_dir = environment("FLASHJIT_CACHE_DIR");
  if (!flashjit_dir.empty()) return join(flashjit_dir, kCacheFileName);
  const std::string xdg = environment("XDG_CACHE_HOME");
  if (!xdg.empty() && llvm::sys::path::is_absolute(xdg)) return join(xdg, "flashjit", kCacheFileName);
  const std::string home = environment("HOME");
  if (!home.empty()) return join(join(home, ".cache"), "flashjit", kCacheFileName);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "no place for the tuning cache: set FLASHJIT_CACHE_DIR, "
                                 "XDG_CACHE_HOME or HOME");
}

std::string directory_of(const std::string& file) {
  llvm::StringRef parent = llvm::sys::path::parent_path(file);
  return parent.empty() ? std::string(".") : parent.str();
}

llvm::Error create_private_directory(const std::string& directory) {
  struct stat info {};
  if (::stat(directory.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return llvm::Error::success();
    return directory_error(directory, "a file of that name is in the way");
  }
  const std::string parent = directory_of(directory);
  if (parent != directory && parent != ".") {
    if (llvm::Error error = create_private_directory(parent)) return error;
  }
  if (::mkdir(directory.c_str(), 0700) != 0) {
    // Another process may have created it since the stat() above; that is as good.
    if (errno == EEXIST && ::stat(directory.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
      return llvm::Error::success();
    return directory_error(directory, std::strerror(errno));
  }
  // mkdir() applies the umask, which could leave the owner without access; make it exactly 0700.
  if (::chmod(directory.c_str(), 0700) != 0) return directory_error(directory, std::strerror(errno));
  return llvm::Error::success();
}

}  // namespace flashjit::cache
