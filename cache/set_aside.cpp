#include "cache/set_aside.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_path.h"

namespace flashjit::cache {
namespace {

bool exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

// Holds an exclusive flock() on a directory for its lifetime (no lock file to leave behind).
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& directory)
      : fd_(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::string unused_name(const std::string& path, llvm::StringRef tag) {
  const std::string base = path + "." + tag.str() + "-" + std::to_string(std::time(nullptr));
  std::string name = base;
  for (int n = 1; exists(name) || exists(name + "-wal"); ++n) name = base + "." + std::to_string(n);
  return name;
}

llvm::Error rename_error(const std::string& from, const std::string& to) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot move %s to %s: %s",
                                 from.c_str(), to.c_str(), std::strerror(errno));
}

}  // namespace

std::optional<FileIdentity> identify_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return FileIdentity{static_cast<uint64_t>(info.st_dev), static_cast<uint64_t>(info.st_ino)};
}

llvm::Expected<std::string> set_aside(const std::string& path, llvm::StringRef tag,
                                      const FileIdentity& opened, llvm::function_ref<bool()> still_bad) {
  DirectoryLock lock(directory_of(path));
  if (!lock.held())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot lock the directory of %s: %s",
                                   path.c_str(), std::strerror(errno));
  const std::optional<FileIdentity> current = identify_file(path);
  if (!current || !(*current == opened)) return std::string();
  if (!still_bad()) return std::string();

  const std::string aside = unused_name(path, tag);
  if (::rename(path.c_str(), aside.c_str()) != 0) return rename_error(path, aside);
  const std::string wal = path + "-wal";
  if (exists(wal) && ::rename(wal.c_str(), (aside + "-wal").c_str()) != 0)
    return rename_error(wal, aside + "-wal");
  ::unlink((path + "-shm").c_str());  // an index of the old journal only; rebuilt on demand
  return aside;
}

}  // namespace flashjit::cache
