// The environment defaults of the public RemoteCacheOptions (flashjit/runtime.h).
#include <cstdlib>
#include <string>

#include <llvm/ADT/StringRef.h>

#include "flashjit/runtime.h"
#include "support/log.h"

namespace flashjit {

std::string RemoteCacheOptions::environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

int RemoteCacheOptions::environment_int(const char* name, int fallback) {
  const std::string text = environment(name);
  if (text.empty()) return fallback;
  int value = 0;
  if (llvm::StringRef(text).trim().getAsInteger(10, value)) {
    // Not fatal: the default serves, and the operator is told which variable was ignored.
    log::warning(std::string(name) + " is not an integer; using " + std::to_string(fallback));
    return fallback;
  }
  return value;
}

}  // namespace flashjit
