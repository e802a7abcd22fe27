// flashjit: inspect, compile and run FlashJIT kernels from the command line.
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/InitLLVM.h>
#include <llvm/Support/raw_ostream.h>

#include <exception>
#include <new>

#include "flashjit/flashjit.h"
#include "support/quote.h"
#include "tools/commands.h"
#include "tools/subcommands.h"

namespace {

// sysexits.h's EX_SOFTWARE: an internal software error.
constexpr int kInternalErrorExit = 70;
// sysexits.h's EX_OSERR: the system refused a resource (here, memory).
constexpr int kOutOfMemoryExit = 71;

int run_subcommand() {
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

}  // namespace

int main(int argc, char** argv) {
  llvm::InitLLVM init(argc, argv);
  // InitLLVM installs a new-handler that aborts ("LLVM ERROR: out of memory") on the first failed
  // allocation; without it, operator new throws std::bad_alloc, which the commands' callers report.
  std::set_new_handler(nullptr);
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
  // The last resort: the commands report what they know as errors, and a library never throws on
  // bad input; if anything still escapes, say so and exit EX_SOFTWARE instead of aborting.
  try {
    return run_subcommand();
  } catch (const std::bad_alloc&) {
    llvm::errs() << "flashjit: out of memory: the system refused an allocation (a memory limit such as "
                    "`ulimit -v`, or an input too large for this machine)\n";
    return kOutOfMemoryExit;
  } catch (const std::exception& e) {
    llvm::errs() << "flashjit: internal error: " << flashjit::quote_prefix(e.what(), 400) << "\n";
  } catch (...) {
    llvm::errs() << "flashjit: internal error: an unknown exception\n";
  }
  return kInternalErrorExit;
}
