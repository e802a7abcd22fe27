// Checking TuneOptions before any work, so a bad option is one clear error rather than a tune that
// silently times nothing or never breaks a tie.
#pragma once

#include <llvm/Support/Error.h>

#include "tuner/tuner.h"

namespace flashjit::tuner {

llvm::Error check_options(const TuneOptions& options);

}  // namespace flashjit::tuner
