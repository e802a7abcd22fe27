// The CPU backend's answer for a host problem: the reference the GPU kernels must match.
#pragma once

#include "helpers/naive_reference.h"
#include "helpers/test_problem.h"

namespace flashjit::test {

// Output and lse as the CPU backend computes them for `p` (lse always, even when `p` asks for
// none: matches_reference reads it to tell rows that see no key). `p` itself is left untouched.
ReferenceOutput cpu_reference(const HostProblem& p);

}  // namespace flashjit::test
