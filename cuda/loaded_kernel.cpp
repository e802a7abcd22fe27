#include "cuda/loaded_kernel.h"
#include "support/error.h"

#include <llvm/Support/FormatVariadic.h>

namespace flashjit::cuda {

llvm::Expected<std::unique_ptr<LoadedKernel>> LoadedKernel::load(const PrimaryContext& context,
                                                                 const std::string& cubin, const std::string& symbol,
                                                                 int dynamic_shared_bytes) {
  auto api = driver_api();
  if (!api) return api.takeError();
  auto scope = ScopedContext::enter(context);
  if (!scope) return scope.takeError();
  CUmodule module = nullptr;
  if (llvm::Error err = check(*api, api->cuModuleLoadData(&module, cubin.data()), "cuModuleLoadData",
                              ErrorCode::launch_error))
    return err;
  CUfunction function = nullptr;
  if (llvm::Error err = check(*api, api->cuModuleGetFunction(&function, module, symbol.c_str()),
                              "cuModuleGetFunction", ErrorCode::launch_error)) {
    api->cuModuleUnload(module);
    return err;
  }
  std::unique_ptr<LoadedKernel> kernel(new LoadedKernel(*api, context, module, function, symbol));
  constexpr int kDefaultDynamicLimit = 48 * 1024;
  if (dynamic_shared_bytes > kDefaultDynamicLimit) {
    if (llvm::Error err = check(*api,
                                api->cuFuncSetAttribute(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                        dynamic_shared_bytes),
                                "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", ErrorCode::launch_error))
      return err;
  }
  return kernel;
}

LoadedKernel::~LoadedKernel() {
  auto scope = ScopedContext::enter(context_);
  if (!scope) llvm::consumeError(scope.takeError());
  api_.cuModuleUnload(module_);
}

llvm::Error LoadedKernel::launch(const LaunchShape& s, CUstream stream, void* params) const {
  void* args[] = {params};
  return check(api_,
               api_.cuLaunchKernel(function_, s.grid[0], s.grid[1], s.grid[2], s.block[0], s.block[1],
                                   s.block[2], s.dynamic_shared_bytes, stream, args, nullptr),
               "cuLaunchKernel", ErrorCode::launch_error);
}

}  // namespace flashjit::cuda
