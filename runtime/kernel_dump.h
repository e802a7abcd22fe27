// FLASHJIT_DUMP_DIR=dir makes the runtime write each kernel it compiles: <key>.cu, <key>.ptx,
// <key>.log and <key>.json (spec, options, resources). Failing to write is a warning, never fatal.
#pragma once

#include <string>

#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "cuda/nvrtc_compiler.h"

namespace flashjit {

// The dump directory from the environment, or empty.
std::string dump_directory();

// Writes the source and, when compilation succeeded, PTX, log and metadata; `compile_error` is the
// message of a failed compile (then the log it carries is written instead).
void dump_kernel(const std::string& directory, const gen::KernelSpec& spec,
                 const gen::EmittedKernel& emitted, const cuda::CompiledKernel* compiled,
                 const std::string& compile_error);

}  // namespace flashjit
