#include "cuda/nvrtc_compiler.h"
#include "support/error.h"

#include <chrono>
#include <memory>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "cuda/nvrtc_api.h"
#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_discovery.h"

namespace flashjit::cuda {
namespace {

// One program of one NVRTC, destroyed by the library that created it.
class Program {
 public:
  explicit Program(const NvrtcApi& api) : api_(api) {}
  ~Program() {
    if (program_ != nullptr) api_.nvrtcDestroyProgram(&program_);
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  nvrtcProgram* out() { return &program_; }
  nvrtcProgram get() const { return program_; }

 private:
  const NvrtcApi& api_;
  nvrtcProgram program_ = nullptr;
};

std::string program_log(const NvrtcApi& api, nvrtcProgram program) {
  size_t size = 0;
  if (api.nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size <= 1) return {};
  std::string log(size, '\0');
  if (api.nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS) return {};
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

// One NVRTC run over the kernel: the program (kept for its outputs), how it ended, the step that
// failed and NVRTC's log.
struct Compilation {
  std::unique_ptr<Program> program;
  nvrtcResult result = NVRTC_SUCCESS;
  const char* step = "compile";
  std::string log;

  // NVRTC refused `option` as unknown ("unrecognized option --no-cache found").
  bool refused(const char* option) const {
    return result == NVRTC_ERROR_INVALID_OPTION && log.find(option) != std::string::npos;
  }
};

constexpr const char* kNoCache = "--no-cache";

Compilation compile_program(const NvrtcApi& api, const gen::EmittedKernel& kernel,
                            const std::vector<std::string>& options, bool no_cache) {
  Compilation c;
  c.program = std::make_unique<Program>(api);
  const std::string file_name = kernel.key + ".cu";
  c.result = api.nvrtcCreateProgram(c.program->out(), kernel.source.c_str(), file_name.c_str(), 0, nullptr, nullptr);
  if (c.result != NVRTC_SUCCESS) {
    c.step = "create";
    return c;
  }
  c.result = api.nvrtcAddNameExpression(c.program->get(), kernel.name_expression.c_str());
  if (c.result != NVRTC_SUCCESS) {
    c.step = "add name expression";
    return c;
  }
  std::vector<const char*> argv;
  for (const std::string& o : options) argv.push_back(o.c_str());
  if (no_cache) argv.push_back(kNoCache);
  c.result = api.nvrtcCompileProgram(c.program->get(), static_cast<int>(argv.size()), argv.data());
  c.log = program_log(api, c.program->get());
  return c;
}

llvm::Error nvrtc_error(const NvrtcLibrary& nvrtc, const char* step, nvrtcResult result,
                        const gen::EmittedKernel& kernel, const std::vector<std::string>& options,
                        const std::string& log) {
  const char* text = nvrtc.api->nvrtcGetErrorString(result);
  std::string message = llvm::formatv("nvrtc {0} failed for {1} ({2}) with {3}; options: {4}", step, kernel.key,
                                      text ? text : "nvrtcResult " + std::to_string(static_cast<int>(result)),
                                      nvrtc.describe(), llvm::join(options, " "))
                            .str();
  if (!log.empty()) message += "\n" + log;
  return make_error(ErrorCode::compile_error, message);
}

}  // namespace

const gen::CompilerTargets& nvrtc_targets() {
  static const gen::CompilerTargets none;
  const NvrtcLibrary* newest = newest_nvrtc(nvrtc_libraries());
  return newest ? newest->targets : none;
}

std::vector<std::string> compile_options(const gen::KernelSpec& spec) {
  return {"--gpu-architecture=" + gen::target_name(spec), "-std=c++17", "--ptxas-options=-v"};
}

llvm::Expected<CompiledKernel> compile_kernel(const gen::EmittedKernel& kernel, const gen::KernelSpec& spec) {
  auto nvrtc = nvrtc_for_arch(spec.arch);
  if (!nvrtc) return nvrtc.takeError();
  return compile_kernel(kernel, spec, *nvrtc);
}

llvm::Expected<CompiledKernel> compile_kernel(const gen::EmittedKernel& kernel, const gen::KernelSpec& spec,
                                              const NvrtcLibrary& nvrtc) {
  const auto start = std::chrono::steady_clock::now();
  if (!nvrtc.usable())
    return make_error(ErrorCode::unsupported, nvrtc.path + " cannot compile " + kernel.key + ": " + nvrtc.rejected);
  const NvrtcApi& api = *nvrtc.api;
  CompiledKernel out;
  out.key = kernel.key;
  out.target = gen::target_name(spec);
  out.options = compile_options(spec);
  out.nvrtc_version = nvrtc.targets.version();
  out.nvrtc_path = nvrtc.path;

  // NVRTC's own answer to an unsupported target is "invalid value for --gpu-architecture"; the
  // target check says which targets this NVRTC has and what would work.
  if (auto target = gen::choose_target(spec.arch, nvrtc.targets); !target) return target.takeError();

  // NVRTC 12.x and 13.x keep what they compile in the CUDA driver's compute cache whenever a driver
  // is present, and a cache hit skips ptxas, so its -v report is missing: on the H200 host every
  // kernel some earlier process had compiled failed with "the ptxas report has no resource usage".
  // FlashJIT keeps its own cache, so NVRTC's is turned off with --no-cache. The option changes no
  // code, so it is not among the options the cache key records. NVRTCs without that cache (11.x)
  // refuse it; for those the compile runs without it.
  const bool no_cache = nvrtc.targets.nvrtc_major >= 12;
  Compilation compilation = compile_program(api, kernel, out.options, no_cache);
  if (no_cache && compilation.refused(kNoCache)) compilation = compile_program(api, kernel, out.options, false);
  if (compilation.result != NVRTC_SUCCESS)
    return nvrtc_error(nvrtc, compilation.step, compilation.result, kernel, out.options, compilation.log);
  const Program& program = *compilation.program;
  out.log = compilation.log;

  const char* lowered = nullptr;
  if (nvrtcResult r = api.nvrtcGetLoweredName(program.get(), kernel.name_expression.c_str(), &lowered);
      r != NVRTC_SUCCESS || lowered == nullptr)
    return nvrtc_error(nvrtc, "lowered name lookup", r, kernel, out.options, out.log);
  out.lowered_name = lowered;

  out.ptx = program_output(program.get(), api.nvrtcGetPTXSize, api.nvrtcGetPTX, true);
  out.cubin = program_output(program.get(), api.nvrtcGetCUBINSize, api.nvrtcGetCUBIN, false);
  if (out.cubin.empty())
    return make_error(ErrorCode::compile_error, "nvrtc produced no cubin for " + kernel.key + " (target " + out.target +
                                                    ", " + nvrtc.describe() + ")");

  auto usage = parse_ptxas_report(out.log, out.lowered_name);
  if (!usage) {
    // Say what NVRTC did print, so a change in its log (or a cache that skipped ptxas) is visible.
    constexpr size_t kLogExcerpt = 600;
    const std::string excerpt = out.log.empty() ? "(empty)" : out.log.substr(0, kLogExcerpt);
    return make_error(ErrorCode::compile_error, llvm::toString(usage.takeError()) + " (" + kernel.key + ", " +
                                                    nvrtc.describe() + "); NVRTC's log: " + excerpt);
  }
  out.resources = *usage;
  out.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace flashjit::cuda
