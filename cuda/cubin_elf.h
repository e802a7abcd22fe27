// What a cubin says about itself, read from its ELF header and symbol table without the driver:
// enough to refuse bytes that are not a CUDA binary, or are one for another architecture, or lack
// the kernel they are stored for, before the driver is ever handed them. Every offset is checked
// against the size, so any bytes at all can be given.
#pragma once

#include <string>
#include <vector>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

namespace flashjit::cuda {

struct CubinInfo {
  int arch = 0;                        // the SM it runs on: 90 for sm_90 and sm_90a
  std::vector<std::string> functions;  // the names of its function symbols (the kernels)
};

// An invalid_argument error naming what is wrong: "not an ELF file", "an ELF file for machine 62,
// not CUDA (190)", "section header 3 lies outside the file", ...
llvm::Expected<CubinInfo> read_cubin(llvm::StringRef bytes);

}  // namespace flashjit::cuda
