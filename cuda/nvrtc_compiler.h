// The NVRTC wrapper: compile emitted source for a target and return everything an engineer or the
// loader needs (cubin, PTX, log, lowered kernel name, resource usage). Works without a GPU.
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "generator/compiler_targets.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"
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
};

// NVRTC's version and supported targets (queried once).
const gen::CompilerTargets& nvrtc_targets();

// The options FlashJIT compiles `spec` with (part of the cache key).
std::vector<std::string> compile_options(const gen::KernelSpec& spec);

// Compiles `kernel` (emitted from `spec`). A failure carries the key, the options and the log.
llvm::Expected<CompiledKernel> compile_kernel(const gen::EmittedKernel& kernel,
                                              const gen::KernelSpec& spec);

}  // namespace flashjit::cuda
