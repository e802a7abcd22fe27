// flashjit: inspect, compile and run FlashJIT kernels from the command line.
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/InitLLVM.h>
#include <llvm/Support/raw_ostream.h>

#include "flashjit/flashjit.h"
#include "tools/commands.h"
#include "tools/subcommands.h"

int main(int argc, char** argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream& os) { os << "flashjit " << FLASHJIT_VERSION_STRING << "\n"; });
  llvm::cl::HideUnrelatedOptions(flashjit::tools::flashjit_options);
  if (!llvm::cl::ParseCommandLineOptions(argc, argv,
                                         "FlashJIT: FlashAttention kernels generated, compiled and "
                                         "tuned for the GPU at hand\n\n"
                                         "  flashjit doctor   is this GPU compatible, and what will run on it\n"
                                         "  flashjit emit     generated source, PTX or resource usage of a kernel\n"
                                         "  flashjit run      the main job: generate, compile and run attention\n"
                                         "  flashjit tune     tune one problem and print every candidate\n"
                                         "  flashjit warm     pre-warm the tuning cache from a manifest\n"
                                         "  flashjit cache    list, show, export, import, verify, clear the cache\n"
                                         "  flashjit bench    time the kernels over a sweep of shapes (GPU)\n",
                                         &llvm::errs()))
    return 2;
  if (flashjit::tools::doctor_command) return flashjit::tools::run_doctor();
  if (flashjit::tools::emit_command) return flashjit::tools::run_emit();
  if (flashjit::tools::run_command) return flashjit::tools::run_main_job();
  if (flashjit::tools::tune_command) return flashjit::tools::run_tune();
  if (flashjit::tools::cache_command) return flashjit::tools::run_cache();
  if (flashjit::tools::warm_command) return flashjit::tools::run_warm();
  if (flashjit::tools::bench_command) return flashjit::tools::run_bench();
  llvm::errs() << "flashjit: no subcommand given; try `flashjit --help`\n";
  return 2;
}
