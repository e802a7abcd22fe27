// One NVRTC, loaded at run time with dlopen and never linked: its path, version and targets, or
// the precise reason it cannot be used. FlashJIT links no libnvrtc, so one build serves every GPU
// whose NVRTC is installed (CUDA 13 for sm_75 and newer, CUDA 12 or 11.8 for Maxwell to Volta);
// cuda/nvrtc_discovery.h finds the candidates, cuda/nvrtc_choice.h picks one per architecture.
#pragma once

#include <memory>
#include <string>

#include "generator/compiler_targets.h"

namespace flashjit::cuda {

struct NvrtcApi;  // cuda/nvrtc_api.h: the entry points (private to this layer)

struct NvrtcLibrary {
  std::string path;               // the file loaded: as given, or where the dynamic loader found a soname
  std::string real_path;          // `path` with every link resolved: one library found twice is one
  gen::CompilerTargets targets;   // its version and nvrtcGetSupportedArchs
  std::string rejected;           // why it cannot be used; empty when it can
  bool opened = false;            // dlopen succeeded (whatever was wrong after)
  std::shared_ptr<const NvrtcApi> api;  // its entry points; null when rejected

  bool usable() const { return rejected.empty(); }
  // "NVRTC 12.9 (/path/libnvrtc.so.12)", or the path alone where no version was read.
  std::string describe() const;
};

// Loads `file` (a path, or a soname for the dynamic loader's search) with RTLD_NOW | RTLD_LOCAL,
// resolves every function FlashJIT calls, asks its version and targets, and makes sure its
// libnvrtc-builtins can be found. Never fails: a file that is not a shared library, lacks a
// function, whose nvrtcVersion fails or that has no targets comes back rejected, saying why. A
// loaded library is never unloaded (compiles may run until the process exits).
NvrtcLibrary load_nvrtc_library(const std::string& file);

}  // namespace flashjit::cuda
