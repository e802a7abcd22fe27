#include "cuda/nvrtc_compiler.h"
#include "support/error.h"

#include <chrono>
#include <memory>

#include <nvrtc.h>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

namespace flashjit::cuda {
namespace {

struct ProgramDeleter {
  void operator()(nvrtcProgram program) const { nvrtcDestroyProgram(&program); }
};
using ProgramHandle = std::unique_ptr<std::remove_pointer_t<nvrtcProgram>, ProgramDeleter>;

std::string program_log(nvrtcProgram program) {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size <= 1) return {};
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS) return {};
  log.resize(size - 1);  // drop the terminating NUL
  return log;
}

template <class GetSize, class Get>
std::string program_output(nvrtcProgram program, GetSize get_size, Get get, bool text) {
  size_t size = 0;
  if (get_size(program, &size) != NVRTC_SUCCESS || size == 0) return {};
  std::string out(size, '\0');
  if (get(program, out.data()) != NVRTC_SUCCESS) return {};
  if (text && !out.empty() && out.back() == '\0') out.pop_back();  // PTX is NUL-terminated
  return out;
}

llvm::Error nvrtc_error(const char* step, nvrtcResult result, const gen::EmittedKernel& kernel,
                        const std::vector<std::string>& options, const std::string& log) {
  std::string message = llvm::formatv("nvrtc {0} failed for {1} ({2}); options: {3}", step,
                                      kernel.key, nvrtcGetErrorString(result),
                                      llvm::join(options, " "))
                            .str();
  if (!log.empty()) message += "\n" + log;
  return make_error(ErrorCode::compile_error, message);
}

}  // namespace

const gen::CompilerTargets& nvrtc_targets() {
  static const gen::CompilerTargets targets = [] {
    gen::CompilerTargets t;
    nvrtcVersion(&t.nvrtc_major, &t.nvrtc_minor);
    int count = 0;
    if (nvrtcGetNumSupportedArchs(&count) == NVRTC_SUCCESS && count > 0) {
      t.archs.resize(count);
      nvrtcGetSupportedArchs(t.archs.data());
    }
    return t;
  }();
  return targets;
}

std::vector<std::string> compile_options(const gen::KernelSpec& spec) {
  return {"--gpu-architecture=" + gen::target_name(spec), "-std=c++17", "--ptxas-options=-v"};
}

llvm::Expected<CompiledKernel> compile_kernel(const gen::EmittedKernel& kernel,
                                              const gen::KernelSpec& spec) {
  const auto start = std::chrono::steady_clock::now();
  CompiledKernel out;
  out.key = kernel.key;
  out.target = gen::target_name(spec);
  out.options = compile_options(spec);

  // NVRTC's own answer to an unsupported target is "invalid value for --gpu-architecture"; the
  // target check says which targets this NVRTC has and what would work.
  if (auto target = gen::choose_target(spec.arch, nvrtc_targets()); !target) return target.takeError();

  nvrtcProgram raw = nullptr;
  const std::string file_name = kernel.key + ".cu";
  if (nvrtcResult r = nvrtcCreateProgram(&raw, kernel.source.c_str(), file_name.c_str(), 0, nullptr, nullptr);
      r != NVRTC_SUCCESS)
    return nvrtc_error("create", r, kernel, out.options, "");
  ProgramHandle program(raw);

  if (nvrtcResult r = nvrtcAddNameExpression(raw, kernel.name_expression.c_str()); r != NVRTC_SUCCESS)
    return nvrtc_error("add name expression", r, kernel, out.options, "");

  std::vector<const char*> argv;
  for (const std::string& o : out.options) argv.push_back(o.c_str());
  const nvrtcResult compiled = nvrtcCompileProgram(raw, static_cast<int>(argv.size()), argv.data());
  out.log = program_log(raw);
  if (compiled != NVRTC_SUCCESS) return nvrtc_error("compile", compiled, kernel, out.options, out.log);

  const char* lowered = nullptr;
  if (nvrtcResult r = nvrtcGetLoweredName(raw, kernel.name_expression.c_str(), &lowered);
      r != NVRTC_SUCCESS || lowered == nullptr)
    return nvrtc_error("lowered name lookup", r, kernel, out.options, out.log);
  out.lowered_name = lowered;

  out.ptx = program_output(raw, nvrtcGetPTXSize, nvrtcGetPTX, true);
  out.cubin = program_output(raw, nvrtcGetCUBINSize, nvrtcGetCUBIN, false);
  if (out.cubin.empty())
    return make_error(ErrorCode::compile_error,
                      "nvrtc produced no cubin for " + kernel.key + " (target " + out.target + ")");

  auto usage = parse_ptxas_report(out.log, out.lowered_name);
  if (!usage) return usage.takeError();
  out.resources = *usage;
  out.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace flashjit::cuda
