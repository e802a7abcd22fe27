#include "cuda/nvrtc_discovery.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include <llvm/ADT/StringExtras.h>
#include <llvm/ADT/StringRef.h>

namespace flashjit::cuda {
namespace {

// Where a toolkit keeps its libraries: the runfile and packages use lib64 (often a link to lib),
// the conda and pip layouts lib, cross-capable toolkits targets/x86_64-linux/lib.
constexpr const char* kToolkitLibraryDirs[] = {"lib64", "lib", "targets/x86_64-linux/lib"};

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

bool exists(const std::string& path, bool* is_directory = nullptr) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return false;
  if (is_directory) *is_directory = S_ISDIR(info.st_mode);
  return true;
}

// The /usr/local/cuda-X.Y toolkits, newest version first (cuda-12.10 after cuda-12.9).
std::vector<std::string> versioned_toolkits() {
  std::vector<std::string> found;
  glob_t matches{};
  if (glob("/usr/local/cuda-*", GLOB_ONLYDIR, nullptr, &matches) == 0)
    for (size_t i = 0; i < matches.gl_pathc; ++i) found.emplace_back(matches.gl_pathv[i]);
  globfree(&matches);
  auto version_of = [](llvm::StringRef path) {
    llvm::StringRef text = path.substr(path.rfind('-') + 1);
    auto [major, minor] = text.split('.');
    unsigned a = 0, b = 0;
    if (major.getAsInteger(10, a)) a = 0;
    if (minor.getAsInteger(10, b)) b = 0;
    return std::make_pair(a, b);
  };
  std::stable_sort(found.begin(), found.end(),
                   [&](const std::string& x, const std::string& y) { return version_of(x) > version_of(y); });
  return found;
}

// The directories `pattern` (a glob) matches, sorted.
std::vector<std::string> matching_directories(const std::string& pattern) {
  std::vector<std::string> found;
  glob_t matches{};
  if (glob(pattern.c_str(), GLOB_ONLYDIR, nullptr, &matches) == 0)
    for (size_t i = 0; i < matches.gl_pathc; ++i) found.emplace_back(matches.gl_pathv[i]);
  globfree(&matches);
  std::sort(found.begin(), found.end());
  return found;
}

// Where NVIDIA's pip wheels put libnvrtc (nvidia-cuda-nvrtc-cu11 and -cu12: nvidia/cuda_nvrtc/lib;
// nvidia-cuda-nvrtc for CUDA 13: nvidia/cu13/lib), in the Python environments a user most likely
// installed one into: the active virtual environment, the active conda environment, the user's own
// site-packages, the system's. `pip install nvidia-cuda-nvrtc-cu12` (what the advice for a Pascal
// GPU says) then works without FLASHJIT_NVRTC; PyTorch installs the same wheels.
std::vector<std::string> python_wheel_directories() {
  std::vector<std::string> site_packages;
  for (const char* variable : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (std::string prefix = environment(variable); !prefix.empty())
      site_packages.push_back(prefix + "/lib/python3*/site-packages");
  if (std::string home = environment("HOME"); !home.empty())
    site_packages.push_back(home + "/.local/lib/python3*/site-packages");
  site_packages.push_back("/usr/local/lib/python3*/dist-packages");
  site_packages.push_back("/usr/lib/python3/dist-packages");
  std::vector<std::string> directories;
  for (const std::string& packages : site_packages)
    for (const char* wheel : {"/nvidia/cu13/lib", "/nvidia/cuda_nvrtc/lib"})
      for (std::string& directory : matching_directories(packages + wheel)) directories.push_back(std::move(directory));
  return directories;
}

// Why an entry of FLASHJIT_NVRTC cannot even be tried; empty when it is a file to load.
std::string unloadable_entry(const std::string& path) {
  bool is_directory = false;
  if (!exists(path, &is_directory)) return "FLASHJIT_NVRTC names it, but it does not exist";
  if (is_directory) return "FLASHJIT_NVRTC names it, but it is a directory, not a libnvrtc.so file";
  return {};
}

class Collector {
 public:
  // Loads `file` unless it is a library already listed; `absent_is_news`: a file that cannot be
  // opened at all is listed (an entry of FLASHJIT_NVRTC), not passed over (a soname not installed).
  void add(const std::string& file, bool absent_is_news) {
    NvrtcLibrary library = load_nvrtc_library(file);
    if (!library.opened && !absent_is_news) return;
    for (const NvrtcLibrary& seen : found_)
      if (seen.real_path == library.real_path) return;
    if (library.usable()) {
      for (const NvrtcLibrary& seen : found_) {
        if (!seen.usable() || seen.targets.version() != library.targets.version()) continue;
        library.rejected = "another NVRTC " + seen.targets.version() + " was found first and serves: " + seen.path;
        library.api.reset();  // never used: one NVRTC per version, so one cache key means one compiler
        break;
      }
    }
    found_.push_back(std::move(library));
  }

  void reject(const std::string& path, const std::string& why) {
    NvrtcLibrary library;
    library.path = path;
    library.real_path = path;
    library.rejected = why;
    found_.push_back(std::move(library));
  }

  std::vector<NvrtcLibrary> take() { return std::move(found_); }

 private:
  std::vector<NvrtcLibrary> found_;
};

}  // namespace

const std::vector<std::string>& nvrtc_sonames() {
  static const std::vector<std::string> sonames = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"};
  return sonames;
}

NvrtcSearch default_nvrtc_search() {
  NvrtcSearch search;
  search.nvrtc_list = environment("FLASHJIT_NVRTC");
  search.sonames = nvrtc_sonames();
  std::vector<std::string> prefixes;
  for (const char* variable : {"CUDA_HOME", "CUDA_PATH"})
    if (std::string prefix = environment(variable); !prefix.empty()) prefixes.push_back(prefix);
  prefixes.push_back("/usr/local/cuda");
  for (std::string& toolkit : versioned_toolkits()) prefixes.push_back(std::move(toolkit));
  for (const std::string& prefix : prefixes)
    for (const char* dir : kToolkitLibraryDirs) search.directories.push_back(prefix + "/" + dir);
  for (std::string& directory : python_wheel_directories()) search.directories.push_back(std::move(directory));
  search.directories.push_back("/usr/lib/x86_64-linux-gnu");
  return search;
}

std::vector<NvrtcLibrary> discover_nvrtc(const NvrtcSearch& search) {
  Collector collector;
  llvm::SmallVector<llvm::StringRef, 4> entries;
  llvm::StringRef(search.nvrtc_list).split(entries, ':', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef entry : entries) {
    const std::string path = entry.str();
    // A bare name is a soname for the dynamic loader's search, as dlopen takes it.
    if (path.find('/') == std::string::npos) {
      collector.add(path, /*absent_is_news=*/true);
      continue;
    }
    if (std::string why = unloadable_entry(path); !why.empty()) {
      collector.reject(path, why);
      continue;
    }
    collector.add(path, /*absent_is_news=*/true);
  }
  for (const std::string& soname : search.sonames) collector.add(soname, false);
  for (const std::string& dir : search.directories)
    for (const std::string& soname : search.sonames)
      if (const std::string path = dir + "/" + soname; exists(path)) collector.add(path, true);
  return collector.take();
}

const std::vector<NvrtcLibrary>& nvrtc_libraries() {
  // Never destroyed: a compile on another thread may still use a library while the process exits.
  static const std::vector<NvrtcLibrary>* const found = new std::vector<NvrtcLibrary>(discover_nvrtc(default_nvrtc_search()));
  return *found;
}

}  // namespace flashjit::cuda
