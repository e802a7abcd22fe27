// From validated arguments to the kernel's parameter block and launch shape.
#pragma once

#include "../templates/attention_params.cuh"
#include "flashjit/types.h"
#include "generator/kernel_spec.h"
#include "runtime/cuda/loaded_kernel.h"

namespace flashjit {

// The host and device must agree on the parameter block's layout (nvptx64 and x86-64 lay these
// fields out identically; this guards against someone adding a field of another size).
static_assert(sizeof(AttentionParams) == 5 * 8 + 4 * 3 * 8 + 6 * 4 + 2 * 4, "AttentionParams layout changed");

AttentionParams make_params(const AttentionArgs& normalized);
cuda::LaunchShape launch_shape(const gen::KernelSpec& spec, const AttentionArgs& normalized);

}  // namespace flashjit
