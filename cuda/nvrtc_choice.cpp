#include "cuda/nvrtc_choice.h"

#include <algorithm>
#include <map>
#include <mutex>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

#include "generator/device_description.h"
#include "cuda/nvrtc_discovery.h"
#include "support/error.h"

namespace flashjit::cuda {
namespace {

std::string cuda_version_of_driver(int driver_version) {
  return std::to_string(driver_version / 1000) + "." + std::to_string(driver_version % 1000 / 10);
}

bool newer(const NvrtcLibrary* a, const NvrtcLibrary* b) {
  return std::make_pair(a->targets.nvrtc_major, a->targets.nvrtc_minor) >
         std::make_pair(b->targets.nvrtc_major, b->targets.nvrtc_minor);
}

// CUDA's minor-version compatibility: a cubin from toolkit X.Y loads on any driver for X.*, but
// not on a driver of an older major version.
bool driver_runs(const NvrtcLibrary& library, int driver_version) {
  return driver_version <= 0 || driver_version / 1000 >= library.targets.nvrtc_major;
}

// "(found: NVRTC 13.0 at P; not usable: Q: why)": where each library named in the message is.
std::string inventory(const std::vector<NvrtcLibrary>& found) {
  std::vector<std::string> usable, refused;
  for (const NvrtcLibrary& library : found) {
    if (library.usable())
      usable.push_back("NVRTC " + library.targets.version() + " at " + library.path);
    else
      refused.push_back(library.path + ": " + library.rejected);
  }
  std::vector<std::string> parts;
  if (!usable.empty()) parts.push_back("found: " + llvm::join(usable, ", "));
  if (!refused.empty()) parts.push_back("not usable: " + llvm::join(refused, "; "));
  return parts.empty() ? std::string() : " (" + llvm::join(parts, "; ") + ")";
}

}  // namespace

NvrtcChoice choose_nvrtc(const std::vector<NvrtcLibrary>& found, int arch, int driver_version) {
  std::vector<const NvrtcLibrary*> usable;
  for (const NvrtcLibrary& library : found)
    if (library.usable()) usable.push_back(&library);
  std::stable_sort(usable.begin(), usable.end(), newer);

  NvrtcChoice choice;
  for (const NvrtcLibrary* library : usable) {
    const gen::CompilerTargets& t = library->targets;
    if (!t.supports(arch)) {
      choice.passed_over.push_back(llvm::formatv("NVRTC {0} targets {1} only", t.version(), t.range()));
    } else if (!driver_runs(*library, driver_version)) {
      choice.passed_over.push_back(llvm::formatv("NVRTC {0} needs a driver for CUDA {1} and the driver supports CUDA {2}",
                                                 t.version(), t.nvrtc_major, cuda_version_of_driver(driver_version)));
    } else if (choice.library != nullptr) {
      choice.passed_over.push_back(llvm::formatv("NVRTC {0} targets sm_{1} too, but NVRTC {2} is newer", t.version(),
                                                 arch, choice.library->targets.version()));
    } else {
      choice.library = library;
    }
  }
  return choice;
}

std::string nvrtc_install_advice(int arch) {
  // NVRTC 11.8 still targets Kepler's sm_35 and sm_37, but FlashJIT's kernels start at Maxwell.
  if (arch < 50) return "FlashJIT's kernels need a Maxwell GPU (sm_50) or newer";
  if (arch < 75)
    return "an NVRTC from CUDA 12.x (which targets sm_50..sm_90) can compile for it, and 11.8's too: install one "
           "(pip install nvidia-cuda-nvrtc-cu12) and set FLASHJIT_NVRTC to its libnvrtc.so.12";
  return "a newer CUDA toolkit's NVRTC is needed";
}

llvm::Expected<const NvrtcLibrary&> nvrtc_for_arch(const std::vector<NvrtcLibrary>& found, int arch,
                                                   int driver_version) {
  NvrtcChoice choice = choose_nvrtc(found, arch, driver_version);
  if (choice.library != nullptr) return *choice.library;

  std::string why = choice.passed_over.empty()
                        ? "no NVRTC was found (FLASHJIT_NVRTC names none, and neither libnvrtc.so.13, .12 nor .11.2 is "
                          "on the library path or under CUDA_HOME, CUDA_PATH or /usr/local/cuda*)"
                        : llvm::join(choice.passed_over, ", ");
  // Some NVRTC targets the GPU, but the driver is too old for every one that does.
  const bool driver_blocks = std::any_of(found.begin(), found.end(), [&](const NvrtcLibrary& library) {
    return library.usable() && library.targets.supports(arch);
  });
  const std::string advice =
      driver_blocks ? llvm::formatv("update the NVIDIA driver, or install the NVRTC of CUDA {0}.x, which this driver "
                                    "runs, and set FLASHJIT_NVRTC to it",
                                    driver_version / 1000)
                          .str()
                    : nvrtc_install_advice(arch);
  return make_error(ErrorCode::unsupported,
                    llvm::formatv("the GPU is sm_{0} ({1}) but {2}; {3}{4}", arch,
                                  gen::arch_family_name(gen::arch_traits(arch).family), why, advice, inventory(found))
                        .str());
}

llvm::Expected<const NvrtcLibrary&> nvrtc_for_arch(int arch, int driver_version) {
  return nvrtc_for_arch(nvrtc_libraries(), arch, driver_version);
}

const NvrtcLibrary* newest_nvrtc(const std::vector<NvrtcLibrary>& found) {
  const NvrtcLibrary* newest = nullptr;
  for (const NvrtcLibrary& library : found)
    if (library.usable() && (newest == nullptr || newer(&library, newest))) newest = &library;
  return newest;
}

gen::CompilerTargets targets_of_choice(const NvrtcChoice& choice) {
  if (choice.library == nullptr) return {};
  gen::CompilerTargets targets = choice.library->targets;
  targets.choice = choice.library->describe();
  if (!choice.passed_over.empty()) targets.choice += "; passed over: " + llvm::join(choice.passed_over, "; ");
  return targets;
}

const gen::CompilerTargets& nvrtc_targets_for_arch(int arch, int driver_version) {
  const std::vector<NvrtcLibrary>& found = nvrtc_libraries();
  const NvrtcChoice choice = choose_nvrtc(found, arch, driver_version);
  if (choice.library == nullptr) {
    static const gen::CompilerTargets none;
    const NvrtcLibrary* newest = newest_nvrtc(found);
    return newest ? newest->targets : none;
  }
  // One entry per (architecture, driver) asked about, kept for the process's life: callers hold
  // the reference (a device's compiler()), and the libraries found never change.
  static std::mutex mutex;
  static std::map<std::pair<int, int>, gen::CompilerTargets>* const chosen =
      new std::map<std::pair<int, int>, gen::CompilerTargets>();
  std::lock_guard<std::mutex> lock(mutex);
  auto [entry, added] = chosen->try_emplace({arch, driver_version});
  if (added) entry->second = targets_of_choice(choice);
  return entry->second;
}

}  // namespace flashjit::cuda
