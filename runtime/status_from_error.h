// The bridge from internal llvm::Error to the public Status.
#pragma once

#include <llvm/Support/Error.h>

#include "flashjit/status.h"

namespace flashjit {

inline Status status_from(llvm::Error error, ErrorCode code) {
  if (!error) return Status::success();
  return Status(code, llvm::toString(std::move(error)));
}

}  // namespace flashjit
