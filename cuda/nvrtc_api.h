// NVRTC's entry points as function pointers, resolved with dlsym from one dlopened libnvrtc
// (cuda/nvrtc_library.h). Private to the cuda layer: <nvrtc.h> is used for its types only, and no
// other layer sees it. Several NVRTCs (CUDA 13, 12, 11.8) can be loaded side by side, each with
// its own table.
#pragma once

#include <nvrtc.h>

namespace flashjit::cuda {

// X(function): every NVRTC function FlashJIT calls. All exist since CUDA 11.2 (the oldest soname
// the loader looks for); a library lacking one is refused by name.
#define FLASHJIT_NVRTC_FUNCTIONS(X) \
  X(nvrtcVersion)                   \
  X(nvrtcGetNumSupportedArchs)      \
  X(nvrtcGetSupportedArchs)         \
  X(nvrtcCreateProgram)             \
  X(nvrtcDestroyProgram)            \
  X(nvrtcAddNameExpression)         \
  X(nvrtcCompileProgram)            \
  X(nvrtcGetProgramLogSize)         \
  X(nvrtcGetProgramLog)             \
  X(nvrtcGetLoweredName)            \
  X(nvrtcGetPTXSize)                \
  X(nvrtcGetPTX)                    \
  X(nvrtcGetCUBINSize)              \
  X(nvrtcGetCUBIN)                  \
  X(nvrtcGetErrorString)

struct NvrtcApi {
#define FLASHJIT_DECLARE_NVRTC_FUNCTION(name) decltype(&::name) name = nullptr;
  FLASHJIT_NVRTC_FUNCTIONS(FLASHJIT_DECLARE_NVRTC_FUNCTION)
#undef FLASHJIT_DECLARE_NVRTC_FUNCTION
};

}  // namespace flashjit::cuda
