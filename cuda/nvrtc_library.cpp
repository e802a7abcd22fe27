#include "cuda/nvrtc_library.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include <llvm/Support/FormatVariadic.h>

#include "cuda/nvrtc_api.h"

namespace flashjit::cuda {
namespace {

#define FLASHJIT_NVRTC_STRINGIFY(x) #x

// More targets than any NVRTC has (CUDA 12.9 lists 19): a count beyond it is a broken library,
// not a vector to allocate.
constexpr int kMostTargets = 256;

std::string last_dl_error() {
  const char* why = dlerror();
  return why ? why : "unknown reason";
}

std::string result_text(const NvrtcApi& api, nvrtcResult result) {
  const char* text = api.nvrtcGetErrorString ? api.nvrtcGetErrorString(result) : nullptr;
  return text ? text : "nvrtcResult " + std::to_string(static_cast<int>(result));
}

std::string resolved(const std::string& path) {
  char buffer[PATH_MAX];
  return realpath(path.c_str(), buffer) ? std::string(buffer) : path;
}

// Where the dynamic loader found `handle`: a path is taken as given, a soname was searched for.
std::string loaded_from(void* handle, const std::string& file) {
  if (file.find('/') != std::string::npos) return file;
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr && map->l_name[0] != '\0')
    return map->l_name;
  return file;
}

bool is_file(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

// NVRTC dlopens its libnvrtc-builtins.so.X.Y by soname the first time it compiles, searching its
// own RUNPATH: the pip wheels' libnvrtc has $ORIGIN and finds the one beside it, but the toolkit's
// has none and relies on the ld.so cache, so a toolkit outside the library path (FLASHJIT_NVRTC,
// CUDA_HOME) would load and then fail every compile. Loading the builtins beside the library first,
// by absolute path, makes NVRTC's dlopen by soname return the one already loaded. Where none lies
// beside it, the library path must have one: otherwise the library is refused now, saying so,
// rather than every compile failing later. Empty when found.
std::string load_builtins(const std::string& library_path, const gen::CompilerTargets& version) {
  const std::string soname = "libnvrtc-builtins.so." + version.version();
  const size_t slash = library_path.rfind('/');
  if (slash != std::string::npos) {
    const std::string beside = library_path.substr(0, slash + 1) + soname;
    if (is_file(beside)) {
      if (dlopen(beside.c_str(), RTLD_NOW | RTLD_LOCAL) != nullptr) return {};
      return "its " + beside + " cannot be loaded: " + last_dl_error();
    }
  }
  if (dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL) != nullptr) return {};
  const std::string where = slash == std::string::npos ? std::string() : " (in " + library_path.substr(0, slash) + ")";
  return "its " + soname + " is neither beside it" + where +
         " nor on the library path, and NVRTC compiles nothing without it";
}

// Asks a library whose functions are all resolved for its version and targets; the reason it
// cannot be used, or empty.
std::string query(const NvrtcApi& api, gen::CompilerTargets& targets) {
  if (nvrtcResult r = api.nvrtcVersion(&targets.nvrtc_major, &targets.nvrtc_minor); r != NVRTC_SUCCESS)
    return "nvrtcVersion failed: " + result_text(api, r);
  if (targets.nvrtc_major <= 0 || targets.nvrtc_minor < 0)
    return llvm::formatv("nvrtcVersion reports {0}.{1}, not a CUDA version", targets.nvrtc_major, targets.nvrtc_minor);
  int count = 0;
  if (nvrtcResult r = api.nvrtcGetNumSupportedArchs(&count); r != NVRTC_SUCCESS)
    return "nvrtcGetNumSupportedArchs failed: " + result_text(api, r);
  if (count <= 0) return "it reports no target architectures";
  if (count > kMostTargets) return llvm::formatv("it reports {0} target architectures, more than any NVRTC has", count);
  targets.archs.assign(count, 0);
  if (nvrtcResult r = api.nvrtcGetSupportedArchs(targets.archs.data()); r != NVRTC_SUCCESS)
    return "nvrtcGetSupportedArchs failed: " + result_text(api, r);
  std::sort(targets.archs.begin(), targets.archs.end());
  return {};
}

}  // namespace

std::string NvrtcLibrary::describe() const {
  if (targets.nvrtc_major <= 0) return path;
  return "NVRTC " + targets.version() + " (" + path + ")";
}

NvrtcLibrary load_nvrtc_library(const std::string& file) {
  NvrtcLibrary library;
  library.path = file;
  library.real_path = resolved(file);
  dlerror();  // clear a stale message
  // RTLD_LOCAL: each NVRTC keeps its symbols to itself, so NVRTC 13, 12 and 11.8 can be loaded side
  // by side. Never closed: a compile may run on another thread until the process exits.
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    library.rejected = "cannot be loaded as a shared library: " + last_dl_error();
    return library;
  }
  library.opened = true;
  library.path = loaded_from(handle, file);
  library.real_path = resolved(library.path);

  auto api = std::make_shared<NvrtcApi>();
#define FLASHJIT_RESOLVE_NVRTC_FUNCTION(name)                                                          \
  api->name = reinterpret_cast<decltype(api->name)>(dlsym(handle, FLASHJIT_NVRTC_STRINGIFY(name)));    \
  if (api->name == nullptr) {                                                                          \
    library.rejected = "it lacks " FLASHJIT_NVRTC_STRINGIFY(name) ", which FlashJIT calls (not an NVRTC, " \
                       "or one older than CUDA 11.2)";                                                  \
    return library;                                                                                    \
  }
  FLASHJIT_NVRTC_FUNCTIONS(FLASHJIT_RESOLVE_NVRTC_FUNCTION)
#undef FLASHJIT_RESOLVE_NVRTC_FUNCTION

  library.rejected = query(*api, library.targets);
  if (library.rejected.empty()) library.rejected = load_builtins(library.path, library.targets);
  if (library.rejected.empty()) library.api = std::move(api);
  return library;
}

}  // namespace flashjit::cuda
