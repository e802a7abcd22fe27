#include "fuzz/scratch_caches.h"

#include <cstdlib>

#include <unistd.h>

#include <llvm/Support/FileSystem.h>

#include "runtime/open_cache.h"

namespace flashjit::fuzz {
namespace {

// A RAM-backed directory when there is one (every store is a transaction that syncs the file), else
// $TMPDIR or /tmp.
std::string scratch_parent() {
  if (const char* tmpdir = std::getenv("TMPDIR"); tmpdir != nullptr && *tmpdir != '\0') return tmpdir;
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return "/tmp";
}

}  // namespace

llvm::Expected<ScratchCaches*> ScratchCaches::get() {
  static std::unique_ptr<ScratchCaches> caches;
  if (caches) return caches.get();

  std::string pattern = scratch_parent() + "/flashjit-fuzz-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot create a scratch directory like %s",
                                   pattern.c_str());
  std::unique_ptr<ScratchCaches> opened(new ScratchCaches());
  opened->directory_ = pattern;
  auto import_target = open_tuning_cache(pattern + "/import.sqlite");
  if (!import_target) return import_target.takeError();
  opened->import_target_ = std::move(*import_target);
  auto reimport = open_tuning_cache(pattern + "/reimport.sqlite");
  if (!reimport) return reimport.takeError();
  opened->reimport_ = std::move(*reimport);
  auto unchecked = cache::TuningCache::open(pattern + "/rows.sqlite");
  if (!unchecked) return unchecked.takeError();
  opened->rows_unchecked_ = std::move(*unchecked);
  auto checked = open_tuning_cache(pattern + "/rows.sqlite");
  if (!checked) return checked.takeError();
  opened->rows_checked_ = std::move(*checked);
  caches = std::move(opened);
  return caches.get();
}

ScratchCaches::~ScratchCaches() {
  // Closed before their directory goes.
  import_target_.reset();
  reimport_.reset();
  rows_unchecked_.reset();
  rows_checked_.reset();
  llvm::sys::fs::remove_directories(directory_);
}

}  // namespace flashjit::fuzz
