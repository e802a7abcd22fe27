#include "fuzz/fuzz_targets.h"

#include <cstdlib>
#include <exception>
#include <new>

#include "support/quote.h"

namespace flashjit::fuzz {

const std::vector<Target>& all_targets() {
  static const std::vector<Target> targets = {
      {"manifest", manifest_target},
      {"cache_import", cache_import_target},
      {"cache_row", cache_row_target},
      {"remote_url", remote_url_target},
      {"remote_entry", remote_entry_target},
  };
  return targets;
}

const Target* find_target(llvm::StringRef name) {
  for (const Target& target : all_targets())
    if (name == target.name) return &target;
  return nullptr;
}

Verdict run_target(const Target& target, llvm::StringRef bytes) {
  try {
    return target.run(bytes);
  } catch (const std::bad_alloc&) {
    return Verdict::violation("std::bad_alloc escaped: the input made the parser allocate without bound");
  } catch (const std::exception& e) {
    return Verdict::violation(std::string("an exception escaped: ") + quote_prefix(e.what(), 300));
  } catch (...) {
    return Verdict::violation("an exception that is not a std::exception escaped");
  }
}

void quiet_flashjit_log() { ::setenv("FLASHJIT_LOG", "off", /*overwrite=*/0); }

}  // namespace flashjit::fuzz
