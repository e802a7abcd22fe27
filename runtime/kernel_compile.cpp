#include "runtime/kernel_compile.h"

#include <llvm/Support/FormatVariadic.h>

#include "generator/emit.h"
#include "cuda/entry_registers.h"
#include "cuda/nvrtc_compiler.h"
#include "runtime/kernel_dump.h"
#include "support/error.h"
#include "support/log.h"

namespace flashjit {

llvm::Expected<tuner::CompiledCandidate> compile_candidate(const gen::KernelSpec& spec, const cuda::NvrtcLibrary& nvrtc) {
  auto emitted = gen::emit(spec);
  if (!emitted) return emitted.takeError();
  auto compiled = cuda::compile_kernel(*emitted, spec, nvrtc);
  const std::string dump_dir = dump_directory();
  if (!compiled) {
    Status failed = to_status(compiled.takeError());
    if (!dump_dir.empty()) dump_kernel(dump_dir, spec, *emitted, nullptr, failed.message());
    return to_error(failed);
  }
  if (!dump_dir.empty()) dump_kernel(dump_dir, spec, *emitted, &*compiled, "");
  // Refused before it is stored or timed: a wgmma kernel whose register count is not the one its
  // setmaxnreg counts assume would hang (checked again after every load).
  if (llvm::Error err = cuda::check_entry_registers(spec, compiled->resources.registers)) return err;
  log::debug(llvm::formatv("compiled {0} in {1:F1} ms with NVRTC {2} ({3} registers, {4} spill bytes)", compiled->key,
                           compiled->compile_ms, compiled->nvrtc_version, compiled->resources.registers,
                           compiled->resources.spill_store_bytes));
  // A performance advisory (a serialized wgmma, say) means the kernel runs far below its speed: the
  // kernel still works, but someone should know.
  for (const std::string& advisory : compiled->resources.advisories)
    log::warning(llvm::formatv("ptxas on {0}: {1}", compiled->key, advisory).str());
  tuner::CompiledCandidate c;
  c.spec = spec;
  c.key = compiled->key;
  c.symbol = compiled->lowered_name;
  c.cubin = std::move(compiled->cubin);
  c.registers = compiled->resources.registers;
  c.spill_bytes = compiled->resources.spill_store_bytes;
  c.compile_ms = compiled->compile_ms;
  return c;
}


}  // namespace flashjit
