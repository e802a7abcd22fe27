// The register count a kernel must run with. wgmma_sm90's warpgroups trade registers with
// setmaxnreg, whose counts assume that every thread starts with exactly the registers the launch
// bounds give it (templates/warpgroup_register_budget.cuh); a kernel compiled to another count (a
// different ptxas, a changed template) would leave its consumer warpgroups waiting forever in
// setmaxnreg.inc. So the count ptxas reports after a compile, and the one the driver reports after a
// module load, are checked against the spec's (gen::entry_registers) before anything is stored or
// launched.
#pragma once

#include <llvm/Support/Error.h>

#include "generator/kernel_spec.h"

namespace flashjit::cuda {

// Success when `registers` (per thread, as ptxas or CU_FUNC_ATTRIBUTE_NUM_REGS reports it) is what
// `spec` requires, or when the spec lets ptxas pick; otherwise an `unsupported` error naming the
// kernel and both counts: this toolchain cannot make the kernel safely.
llvm::Error check_entry_registers(const gen::KernelSpec& spec, int registers);

}  // namespace flashjit::cuda
