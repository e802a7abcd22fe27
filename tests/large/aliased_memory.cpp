#include "large/aliased_memory.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

namespace flashjit::test {
namespace {

std::string system_error(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::unique_ptr<AliasedMemory> AliasedMemory::create(uint64_t bytes, uint64_t chunk_bytes, bool prefault,
                                                     std::string* why_not) {
  const uint64_t chunks = std::max<uint64_t>(4, (bytes + chunk_bytes - 1) / chunk_bytes);
  const uint64_t size = chunks * chunk_bytes;
  // The file: the first chunk, the scratch chunk, the last two chunks.
  const int fd = memfd_create("flashjit-aliased-memory", MFD_CLOEXEC);
  if (fd < 0) {
    *why_not = system_error("memfd_create");
    return nullptr;
  }
  if (ftruncate(fd, static_cast<off_t>(4 * chunk_bytes)) != 0) {
    *why_not = system_error("ftruncate");
    close(fd);
    return nullptr;
  }
  // Address space only (PROT_NONE commits nothing), then every chunk mapped over it.
  void* reserved = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) {
    *why_not = system_error("mmap of the address range");
    close(fd);
    return nullptr;
  }
  char* base = static_cast<char*>(reserved);
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t file_chunk = c == 0 ? 0 : c + 2 >= chunks ? c + 4 - chunks : 1;
    void* mapped = mmap(base + c * chunk_bytes, chunk_bytes, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_FIXED | (prefault ? MAP_POPULATE : 0), fd,
                        static_cast<off_t>(file_chunk * chunk_bytes));
    if (mapped == MAP_FAILED) {
      *why_not = system_error("mmap of a chunk");
      munmap(base, size);
      close(fd);
      return nullptr;
    }
  }
  close(fd);  // the mappings keep the file
  return std::unique_ptr<AliasedMemory>(new AliasedMemory(base, size, chunk_bytes));
}

AliasedMemory::~AliasedMemory() { munmap(base_, size_); }

bool AliasedMemory::is_own(uint64_t offset, uint64_t length) const {
  return offset + length <= chunk_ || (offset >= size_ - 2 * chunk_ && offset + length <= size_);
}

}  // namespace flashjit::test
