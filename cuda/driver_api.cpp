#include "cuda/driver_api.h"
#include "support/error.h"

#include <dlfcn.h>

#include <string>

#include <llvm/Support/FormatVariadic.h>

namespace flashjit::cuda {
namespace {

#define FLASHJIT_STRINGIFY_EXPANDED(x) FLASHJIT_STRINGIFY(x)
#define FLASHJIT_STRINGIFY(x) #x

struct LoadedDriver {
  DriverApi api;
  std::string error;  // empty when usable
};

LoadedDriver load() {
  LoadedDriver loaded;
  // RTLD_LOCAL keeps the driver's symbols out of the global namespace; the handle is never closed
  // because contexts and modules live until process exit.
  void* handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    loaded.error = llvm::formatv("cannot load the CUDA driver library libcuda.so.1 ({0}); is the "
                                 "NVIDIA driver installed and is this a GPU machine?",
                                 why ? why : "unknown reason");
    return loaded;
  }
  DriverApi& api = loaded.api;
#define FLASHJIT_LOAD_DRIVER_FUNCTION(name)                                                    \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(handle, FLASHJIT_STRINGIFY_EXPANDED(name))); \
  if (api.name == nullptr) {                                                                   \
    loaded.error = std::string("the CUDA driver in libcuda.so.1 lacks ") +                     \
                   FLASHJIT_STRINGIFY_EXPANDED(name) + "; the driver is too old for FlashJIT";  \
    return loaded;                                                                             \
  }
  FLASHJIT_DRIVER_FUNCTIONS(FLASHJIT_LOAD_DRIVER_FUNCTION)
#undef FLASHJIT_LOAD_DRIVER_FUNCTION

  // The version first: it is worth reporting even when cuInit then fails.
  if (CUresult r = api.cuDriverGetVersion(&api.driver_version); r != CUDA_SUCCESS) {
    loaded.error = "cuDriverGetVersion failed: " + describe_result(api, r);
    return loaded;
  }
  if (CUresult r = api.cuInit(0); r != CUDA_SUCCESS) {
    loaded.error = llvm::formatv("cuInit failed: {0} (driver for CUDA {1}.{2})", describe_result(api, r),
                                 api.driver_version / 1000, (api.driver_version % 1000) / 10);
    return loaded;
  }
  return loaded;
}

}  // namespace

llvm::Expected<const DriverApi&> driver_api() {
  // Never destroyed: runtimes released during static destruction still call through it.
  static const LoadedDriver* const loaded = new LoadedDriver(load());
  // No driver (or one that cannot start) means no usable GPU, not a failing one.
  if (!loaded->error.empty()) return make_error(ErrorCode::no_device, loaded->error);
  return loaded->api;
}

std::string describe_result(const DriverApi& api, CUresult result) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.cuGetErrorName == nullptr || api.cuGetErrorName(result, &name) != CUDA_SUCCESS) name = nullptr;
  if (api.cuGetErrorString == nullptr || api.cuGetErrorString(result, &text) != CUDA_SUCCESS) text = nullptr;
  std::string out = name ? name : "CUresult " + std::to_string(static_cast<int>(result));
  if (text) out += std::string(" (") + text + ")";
  return out;
}

llvm::Error check(const DriverApi& api, CUresult result, const char* what, ErrorCode code) {
  if (result == CUDA_SUCCESS) return llvm::Error::success();
  return make_error(code, std::string(what) + " failed: " + describe_result(api, result));
}

}  // namespace flashjit::cuda
