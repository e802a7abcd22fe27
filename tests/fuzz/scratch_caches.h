// The tuning caches the cache targets write into: created once per process in a scratch
// directory (removed at exit), reused for every input and emptied as they fill, so that an input
// costs a few SQLite transactions and not the creation of a database.
#pragma once

#include <memory>
#include <string>

#include <llvm/Support/Error.h>

#include "cache/tuning_cache.h"

namespace flashjit::fuzz {

class ScratchCaches {
 public:
  // The process's caches, opened at the first call; an error when they cannot be (no scratch
  // directory, no SQLite file): the fuzz run cannot go on.
  static llvm::Expected<ScratchCaches*> get();
  ~ScratchCaches();

  // Opened as FlashJIT opens every cache (runtime/open_cache.h): entries held to the entry check.
  cache::TuningCache& import_target() { return *import_target_; }
  // Where an export of an accepted cache is imported again.
  cache::TuningCache& reimport() { return *reimport_; }
  // One file, opened twice: without the entry check, which stores whatever row it is given (what a
  // damaged or hostile file holds), and with it, which must refuse every row it finds wrong.
  cache::TuningCache& rows_unchecked() { return *rows_unchecked_; }
  cache::TuningCache& rows_checked() { return *rows_checked_; }

 private:
  ScratchCaches() = default;
  std::string directory_;
  std::unique_ptr<cache::TuningCache> import_target_;
  std::unique_ptr<cache::TuningCache> reimport_;
  std::unique_ptr<cache::TuningCache> rows_unchecked_;
  std::unique_ptr<cache::TuningCache> rows_checked_;
};

}  // namespace flashjit::fuzz
