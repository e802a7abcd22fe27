// The CUDA Driver API, loaded at run time with dlopen("libcuda.so.1") and never linked, so FlashJIT
// binaries start on machines without a driver and can say precisely why no GPU is usable.
// cuda.h is used for its types only.
#pragma once

#include <cuda.h>

#include <llvm/Support/Error.h>

#include "flashjit/status.h"

namespace flashjit::cuda {

// X(function): every driver entry point FlashJIT calls. cuda.h maps some names to versioned
// symbols (cuMemAlloc -> cuMemAlloc_v2); the symbol looked up is the one the macro expands to.
#define FLASHJIT_DRIVER_FUNCTIONS(X) \
  X(cuInit)                          \
  X(cuDriverGetVersion)              \
  X(cuGetErrorName)                  \
  X(cuGetErrorString)                \
  X(cuDeviceGetCount)                \
  X(cuDeviceGet)                     \
  X(cuDeviceGetName)                 \
  X(cuDeviceGetAttribute)            \
  X(cuDeviceTotalMem)                \
  X(cuDevicePrimaryCtxRetain)        \
  X(cuDevicePrimaryCtxRelease)       \
  X(cuCtxSetCurrent)                 \
  X(cuCtxGetCurrent)                 \
  X(cuCtxSynchronize)                \
  X(cuModuleLoadData)                \
  X(cuModuleUnload)                  \
  X(cuModuleGetFunction)             \
  X(cuFuncSetAttribute)              \
  X(cuFuncGetAttribute)              \
  X(cuLaunchKernel)                  \
  X(cuMemAlloc)                      \
  X(cuMemFree)                       \
  X(cuMemcpyHtoD)                    \
  X(cuMemcpyDtoH)                    \
  X(cuMemsetD8)                      \
  X(cuStreamSynchronize)             \
  X(cuStreamIsCapturing)             \
  X(cuStreamCreate)                  \
  X(cuStreamDestroy)                 \
  X(cuStreamBeginCapture)            \
  X(cuStreamEndCapture)              \
  X(cuGraphDestroy)                  \
  X(cuEventCreate)                   \
  X(cuEventDestroy)                  \
  X(cuEventRecord)                   \
  X(cuEventSynchronize)              \
  X(cuEventElapsedTime)              \
  X(cuPointerGetAttribute)           \
  X(cuPointerGetAttributes)          \
  X(cuMemGetAddressRange)            \
  X(cuTensorMapEncodeTiled)

struct DriverApi {
#define FLASHJIT_DECLARE_DRIVER_FUNCTION(name) decltype(&::name) name = nullptr;
  FLASHJIT_DRIVER_FUNCTIONS(FLASHJIT_DECLARE_DRIVER_FUNCTION)
#undef FLASHJIT_DECLARE_DRIVER_FUNCTION
  int driver_version = 0;  // cuDriverGetVersion: 13000 = CUDA 13.0
};

// The driver, loaded and initialized once per process; the error (no libcuda.so.1, a missing entry
// point, cuInit failing with the driver's error name) is remembered and returned on every call, as
// a no_device error.
llvm::Expected<const DriverApi&> driver_api();

// "CUDA_ERROR_INVALID_VALUE (invalid argument)"
std::string describe_result(const DriverApi& api, CUresult result);

// Success, or an error "<what> failed: CUDA_ERROR_... (...)" with `code` (driver_error unless the
// caller knows better: a module that will not load is a launch_error).
llvm::Error check(const DriverApi& api, CUresult result, const char* what,
                  ErrorCode code = ErrorCode::driver_error);

}  // namespace flashjit::cuda
