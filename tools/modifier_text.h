// How the CLI prints a problem's ragged batch and score modifiers: the problem lines of run and
// tune ("ragged, window 256,0, softcap 50, ALiBi") and bench's column ("varlen w256,0 cap50 alibi").
#pragma once

#include <string>

#include "problem/problem.h"

namespace flashjit::tools {

// Empty when the problem has none.
std::string modifiers_text(const Problem& problem);
// "-" when the problem has none.
std::string modifiers_label(const Problem& problem);

}  // namespace flashjit::tools
