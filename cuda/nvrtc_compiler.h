// The NVRTC wrapper: compile emitted source for a target and return everything an engineer or the
// loader needs (cubin, PTX, log, lowered kernel name, resource usage). Works without a GPU. NVRTC
// is loaded at run time (cuda/nvrtc_library.h); a compile uses the NVRTC chosen for its
// architecture (cuda/nvrtc_choice.h) unless the caller passes one.
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "generator/compiler_targets.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
#include "cuda/nvrtc_library.h"
#include "cuda/ptxas_report.h"

namespace flashjit::cuda {

struct CompiledKernel {
  std::string key;           // canonical spec key
  std::string target;        // "sm_90"
  std::string lowered_name;  // the mangled symbol to look up in the module
  std::string cubin;
  std::string ptx;
  std::string log;
  std::vector<std::string> options;
  ResourceUsage resources;
  double compile_ms = 0.0;
  std::string nvrtc_version;  // the NVRTC that compiled it: "12.9"
  std::string nvrtc_path;     // and its library
};

// The newest NVRTC found: its version and targets (queried once). Empty targets where none was
// found. What compiles for a given GPU is nvrtc_targets_for_arch's (cuda/nvrtc_choice.h).
const gen::CompilerTargets& nvrtc_targets();

// The options FlashJIT compiles `spec` with (part of the cache key).
std::vector<std::string> compile_options(const gen::KernelSpec& spec);

// Compiles `kernel` (emitted from `spec`) with `nvrtc`. A failure carries the key, the NVRTC, the
// options and the log; a target `nvrtc` does not have is unsupported, before NVRTC runs.
llvm::Expected<CompiledKernel> compile_kernel(const gen::EmittedKernel& kernel, const gen::KernelSpec& spec,
                                              const NvrtcLibrary& nvrtc);

// The same with the NVRTC chosen for spec.arch with no driver to satisfy (nvrtc_for_arch).
llvm::Expected<CompiledKernel> compile_kernel(const gen::EmittedKernel& kernel,
                                              const gen::KernelSpec& spec);

}  // namespace flashjit::cuda
