// One kernel from spec to cubin: emitted by the generator, compiled by the NVRTC the device chose
// for its architecture, written to FLASHJIT_DUMP_DIR when that is set. Needs no GPU; every device
// that compiles uses it.
#pragma once

#include <llvm/Support/Error.h>

#include "generator/kernel_spec.h"
#include "cuda/nvrtc_library.h"
#include "tuner/tuning_backend.h"

namespace flashjit {

// A compile_error carrying NVRTC's log when the source does not compile; unsupported when ptxas gave
// the kernel another register count than its spec requires (cuda/entry_registers.h); ptxas
// performance advisories are logged as warnings (the kernel works, far below its speed).
llvm::Expected<tuner::CompiledCandidate> compile_candidate(const gen::KernelSpec& spec, const cuda::NvrtcLibrary& nvrtc);

}  // namespace flashjit
