// Runs a host problem on the GPU: device copies of every buffer (output and lse keep their poison),
// one forward() through a CUDA Runtime, results copied back into the host problem.
#pragma once

#include <functional>

#include "flashjit/runtime.h"
#include "helpers/kv_cache_problem.h"
#include "helpers/test_problem.h"

namespace flashjit::test {

// Status of the forward (or of the copies); the host problem's out and lse hold the device results,
// also after a failed forward (then whatever the device buffers hold: the poison, unless something
// was launched).
Status run_on_device(Runtime& runtime, HostProblem& problem);

// The same with the forward() call made by `call` (given the runtime and the device arguments), for
// tests that need their own stream or graph capture around it.
using ForwardCall = std::function<Status(Runtime&, const AttentionArgs&)>;
Status run_on_device(Runtime& runtime, HostProblem& problem, const ForwardCall& call);

// A KV-cache problem the same way: its caches, appended keys, counts and block table go to the
// device too, and the caches come back with the output, so cache_holds_the_append() checks what the
// device wrote.
Status run_on_device(Runtime& runtime, KvCacheProblem& problem);
Status run_on_device(Runtime& runtime, KvCacheProblem& problem, const ForwardCall& call);

}  // namespace flashjit::test
