#include "cuda/entry_registers.h"

#include <llvm/Support/FormatVariadic.h>

#include "support/error.h"

namespace flashjit::cuda {

llvm::Error check_entry_registers(const gen::KernelSpec& spec, int registers) {
  const int required = gen::entry_registers(spec);
  if (required == 0 || registers == required) return llvm::Error::success();
  return make_error(ErrorCode::unsupported,
                    llvm::formatv("kernel {0} has {1} registers per thread, but its setmaxnreg counts assume exactly {2} "
                                  "(templates/warpgroup_register_budget.cuh): with another count its consumer warpgroups "
                                  "may wait forever for registers, so it is not run",
                                  gen::canonical_key(spec), registers, required));
}

}  // namespace flashjit::cuda
