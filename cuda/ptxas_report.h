// Resource usage of a compiled kernel, read from the `ptxas -v` report NVRTC leaves in its log.
#pragma once

#include <string>
#include <vector>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

namespace flashjit::cuda {

struct ResourceUsage {
  int registers = 0;
  int barriers = 0;
  int shared_bytes = 0;  // static shared memory (dynamic shared memory is decided at launch)
  int constant_bytes = 0;
  int stack_bytes = 0;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
  // ptxas's performance advisories for the kernel, e.g. "(C7520) Potential Performance Loss: wgmma.mma_async
  // instructions are serialized ...": a wgmma kernel that gets one runs far below its speed.
  std::vector<std::string> advisories;

  bool spills() const { return spill_store_bytes > 0 || spill_load_bytes > 0; }
};

// Reads the "Function properties for <symbol>" and "Used N registers" lines that belong to
// `symbol` (the lowered kernel name). An error if the log holds no report for it.
llvm::Expected<ResourceUsage> parse_ptxas_report(llvm::StringRef log, llvm::StringRef symbol);

}  // namespace flashjit::cuda
