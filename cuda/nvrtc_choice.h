// Which NVRTC compiles for a GPU: the newest one found that targets its architecture and whose
// cubins the driver can load (a cubin from CUDA X needs a driver for CUDA X or newer). Each other
// NVRTC found gets the reason it was not chosen; where none serves, the error lists them all and
// says which CUDA version's NVRTC to install.
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "generator/compiler_targets.h"
#include "cuda/nvrtc_library.h"

namespace flashjit::cuda {

struct NvrtcChoice {
  const NvrtcLibrary* library = nullptr;  // null when none serves the architecture
  // Why each other usable NVRTC was not chosen, newest first: "NVRTC 13.0 targets sm_75..sm_121
  // only, not sm_61 (PATH)", "NVRTC 13.0 needs a driver for CUDA 13 and the driver supports CUDA
  // 12.4 (PATH)", "NVRTC 11.8 targets sm_61 too, but NVRTC 12.9 is newer (PATH)".
  std::vector<std::string> passed_over;
};

// `driver_version` as cuDriverGetVersion (12040 = CUDA 12.4); 0: no driver to satisfy (compiling
// for an architecture without a GPU).
NvrtcChoice choose_nvrtc(const std::vector<NvrtcLibrary>& found, int arch, int driver_version = 0);

// The chosen library, or an unsupported error: "the GPU is sm_61 (Pascal) but NVRTC 13.0 targets
// sm_75..sm_121 only, not sm_61 (PATH); an NVRTC from CUDA 12.x ... can compile for it ...", with
// every NVRTC found and every library refused.
llvm::Expected<const NvrtcLibrary&> nvrtc_for_arch(const std::vector<NvrtcLibrary>& found, int arch,
                                                   int driver_version = 0);
// The same over this process's nvrtc_libraries().
llvm::Expected<const NvrtcLibrary&> nvrtc_for_arch(int arch, int driver_version = 0);

// What to install to compile for `arch`: "an NVRTC from CUDA 12.x (which targets sm_50..sm_90) can
// compile for it ...", "FlashJIT's kernels need a Maxwell GPU (sm_50) or newer", ...
std::string nvrtc_install_advice(int arch);

// The newest usable library of `found`; null where there is none.
const NvrtcLibrary* newest_nvrtc(const std::vector<NvrtcLibrary>& found);

// The chosen library's targets, with `choice` saying which NVRTC it is and which others were passed
// over and why (gen::CompilerTargets::choice, which the selector's reason carries); empty targets
// when none was chosen.
gen::CompilerTargets targets_of_choice(const NvrtcChoice& choice);

// The targets of the NVRTC that compiles for `arch` (the selector and the cache key use its
// version); where none targets it, those of the newest NVRTC found, so that the selector's
// choose_target names what is missing. Empty targets where no NVRTC was found at all.
const gen::CompilerTargets& nvrtc_targets_for_arch(int arch, int driver_version = 0);

}  // namespace flashjit::cuda
