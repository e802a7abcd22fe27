// Device time of Runtime::forward() calls, measured with events around each call on the default
// stream (what `flashjit run` and `flashjit bench` report).
#pragma once

#include <vector>

#include <llvm/Support/Error.h>

#include "flashjit/flashjit.h"

namespace flashjit::tools {

// `calls` forward() calls, each timed on its own: the milliseconds of each, in call order
// (tuner::summarize gives the median and quantiles). A failed call or event is the error.
llvm::Expected<std::vector<double>> time_forward_calls(Runtime& runtime, const AttentionArgs& args, int calls);

}  // namespace flashjit::tools
