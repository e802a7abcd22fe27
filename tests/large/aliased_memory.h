// A buffer of tens of GiB for a test that holds a few hundred MiB: a range of address space whose
// first chunk and last two chunks are memory of their own (so the last chunk_bytes before the end of
// the size asked for are, wherever that end falls) and whose chunks between all map one shared
// scratch chunk. The library can be handed the whole range and write it end to end; what lands in the edge
// chunks stays there to be checked, what lands between overwrites itself. Linux only (memfd).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace flashjit::test {

class AliasedMemory {
 public:
  // `bytes` rounded up to whole chunks; null, with the reason in *why_not, when the system refuses.
  // `prefault`: the page tables are filled at once (MAP_POPULATE), several times faster than a
  // fault per page for a buffer that will be written end to end.
  static std::unique_ptr<AliasedMemory> create(uint64_t bytes, uint64_t chunk_bytes, bool prefault,
                                               std::string* why_not);
  ~AliasedMemory();
  AliasedMemory(const AliasedMemory&) = delete;
  AliasedMemory& operator=(const AliasedMemory&) = delete;

  char* data() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t chunk_bytes() const { return chunk_; }
  // Whether [offset, offset + length) lies within the first chunk or the last two: memory of its own.
  bool is_own(uint64_t offset, uint64_t length) const;

 private:
  AliasedMemory(char* base, uint64_t size, uint64_t chunk) : base_(base), size_(size), chunk_(chunk) {}
  char* base_;
  uint64_t size_;
  uint64_t chunk_;
};

}  // namespace flashjit::test
