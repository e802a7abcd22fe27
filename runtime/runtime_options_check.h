// RuntimeOptions checked before a Runtime is made: every field in its range (an enum value outside
// its enumerators, a negative count, a budget that is not a number), and the forced choices against
// the backend that would have to honour them. Each refusal is invalid_argument and names the field.
#pragma once

#include <string>

#include "flashjit/runtime.h"
#include "flashjit/status.h"

namespace flashjit {

// The fields' ranges, whatever the backend.
Status check_runtime_options(const RuntimeOptions& options);

// The CPU backend runs no kernel variant and no tiles: a forced one cannot be honoured there.
// `fallback_reason` is why Backend::automatic fell back to the CPU (empty when the CPU was asked for).
Status refuse_forced_choices_on_cpu(const RuntimeOptions& options, const std::string& fallback_reason);

}  // namespace flashjit
