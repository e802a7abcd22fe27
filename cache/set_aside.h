// Moving a database that cannot be trusted out of the way, so that a fresh one can take its place.
// The file is renamed, never deleted: an operator can still look at what went wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <llvm/ADT/STLFunctionalExtras.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

namespace flashjit::cache {

// Which file a connection opened. Several processes may find the same damaged file at once; only
// the first may move it, or the others would move aside the fresh database the first one made.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  bool operator==(const FileIdentity& other) const {
    return device == other.device && inode == other.inode;
  }
};

std::optional<FileIdentity> identify_file(const std::string& path);

// Renames `path` to "<path>.<tag>-<unix seconds>" (".1", ".2", ... appended if taken), its -wal
// journal alongside, and removes its -shm index; a stale journal must never be replayed into the
// new database. Serialised between processes by a lock on the directory, under which the file must
// still be `opened` and `still_bad()` must confirm the diagnosis with a fresh look: a good cache
// shared by other processes must never be thrown away on one misreading. Returns the new name, or
// "" when nothing was moved (someone else set the file aside already, or it looks fine now).
llvm::Expected<std::string> set_aside(const std::string& path, llvm::StringRef tag,
                                      const FileIdentity& opened, llvm::function_ref<bool()> still_bad);

}  // namespace flashjit::cache
