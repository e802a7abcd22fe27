#include "tools/subcommands.h"

namespace flashjit::tools {

llvm::cl::SubCommand doctor_command("doctor", "Is this GPU compatible, and what will run on it");
llvm::cl::SubCommand emit_command("emit", "Print a generated kernel's source, PTX or resource usage (no GPU needed)");
llvm::cl::SubCommand run_command("run", "Generate, compile and run attention for a problem (CPU backend without a GPU)");

llvm::cl::SubCommand tune_command("tune", "Tune one problem on this GPU and print every candidate and the winner");

llvm::cl::SubCommand cache_command("cache", "List, show, export, import, verify or clear the tuning cache");
llvm::cl::SubCommand warm_command("warm", "Pre-warm the tuning cache from a deployment manifest (tunes on a GPU; --arch compiles without one)");

llvm::cl::SubCommand bench_command("bench", "Time FlashJIT over a sweep of shapes on this GPU (JSON output for bench/compare_sdpa.py)");

llvm::cl::OptionCategory flashjit_options("flashjit options");

}  // namespace flashjit::tools
