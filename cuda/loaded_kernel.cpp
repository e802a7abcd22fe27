#include "cuda/loaded_kernel.h"
#include "cuda/entry_registers.h"
#include "support/error.h"

#include <llvm/Support/FormatVariadic.h>

namespace flashjit::cuda {

llvm::Expected<std::unique_ptr<LoadedKernel>> LoadedKernel::load(const PrimaryContext& context,
                                                                 const gen::KernelSpec& spec, const std::string& cubin,
                                                                 const std::string& symbol,
                                                                 const char* combine_symbol) {
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
  if (spec.features().kv_cache)
    if (llvm::Error err = check(*api, api->cuModuleGetFunction(&kernel->combine_, module, combine_symbol),
                                "cuModuleGetFunction of the split-KV combine step", ErrorCode::launch_error))
      return err;
  // The count the module really has, whatever compiled it: a wgmma kernel with another than its
  // setmaxnreg counts assume would hang rather than fail.
  int registers = 0;
  if (llvm::Error err = check(*api, api->cuFuncGetAttribute(&registers, CU_FUNC_ATTRIBUTE_NUM_REGS, function),
                              "cuFuncGetAttribute(NUM_REGS)"))
    return err;
  if (llvm::Error err = check_entry_registers(spec, registers)) return err;
  const int dynamic_shared_bytes = gen::shared_memory_bytes(spec);
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

llvm::Error LoadedKernel::launch(const LaunchShape& s, CUstream stream, void** arguments) const {
  return check(api_,
               api_.cuLaunchKernel(function_, s.grid[0], s.grid[1], s.grid[2], s.block[0], s.block[1],
                                   s.block[2], s.dynamic_shared_bytes, stream, arguments, nullptr),
               "cuLaunchKernel", ErrorCode::launch_error);
}

llvm::Error LoadedKernel::launch_combine(const LaunchShape& s, CUstream stream, void** arguments) const {
  if (combine_ == nullptr)
    return make_error(ErrorCode::internal, "kernel " + symbol_ + " has no split-KV combine step (not a KV-cache kernel)");
  return check(api_,
               api_.cuLaunchKernel(combine_, s.grid[0], s.grid[1], s.grid[2], s.block[0], s.block[1], s.block[2],
                                   s.dynamic_shared_bytes, stream, arguments, nullptr),
               "cuLaunchKernel of the split-KV combine step", ErrorCode::launch_error);
}

}  // namespace flashjit::cuda
