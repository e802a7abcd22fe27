// The llvm::cl subcommands, shared between main() and the command implementations.
#pragma once

#include <llvm/Support/CommandLine.h>

namespace flashjit::tools {

extern llvm::cl::SubCommand doctor_command;
extern llvm::cl::SubCommand emit_command;
extern llvm::cl::SubCommand run_command;
extern llvm::cl::SubCommand tune_command;
extern llvm::cl::SubCommand cache_command;
extern llvm::cl::SubCommand warm_command;
extern llvm::cl::SubCommand bench_command;
// Every flashjit option is in this category, so --help hides LLVM's own options.
extern llvm::cl::OptionCategory flashjit_options;

}  // namespace flashjit::tools
