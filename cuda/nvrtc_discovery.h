// Where FlashJIT looks for NVRTC, and everything it found there. In order:
//   1. FLASHJIT_NVRTC: a libnvrtc path (or a bare soname), or several separated by ':';
//   2. the sonames libnvrtc.so.13, libnvrtc.so.12 and libnvrtc.so.11.2 (CUDA 11.2 to 11.8) through
//      the dynamic loader's search (LD_LIBRARY_PATH, the ld.so cache);
//   3. those sonames in lib64, lib and targets/x86_64-linux/lib under $CUDA_HOME, $CUDA_PATH,
//      /usr/local/cuda and every /usr/local/cuda-* (newest first); in NVIDIA's pip wheels
//      (nvidia/cuda_nvrtc/lib, nvidia/cu13/lib) in the site-packages of $VIRTUAL_ENV, $CONDA_PREFIX,
//      ~/.local and the system's Python; then in /usr/lib/x86_64-linux-gnu.
// One library found twice (a link, or a soname and its path) is listed once; of two libraries of
// one version, the first found serves and the other is listed as not used.
#pragma once

#include <string>
#include <vector>

#include "cuda/nvrtc_library.h"

namespace flashjit::cuda {

struct NvrtcSearch {
  std::string nvrtc_list;                // FLASHJIT_NVRTC's value: paths separated by ':'
  std::vector<std::string> sonames;      // tried through the dynamic loader's search, then in each directory
  std::vector<std::string> directories;  // searched for each soname, in order
};

// The sonames FlashJIT loads, newest first.
const std::vector<std::string>& nvrtc_sonames();

// The search this process makes: FLASHJIT_NVRTC, CUDA_HOME and CUDA_PATH from the environment, and
// the toolkits installed under /usr/local.
NvrtcSearch default_nvrtc_search();

// Every library `search` finds, in the order found: usable ones and rejected ones with their reason.
// An entry of the list that does not exist, or cannot be used, is listed rejected; a soname or
// directory that holds nothing is not (most machines have one CUDA version, not three).
std::vector<NvrtcLibrary> discover_nvrtc(const NvrtcSearch& search);

// discover_nvrtc(default_nvrtc_search()), done once per process (thread-safe) and kept for its life.
const std::vector<NvrtcLibrary>& nvrtc_libraries();

}  // namespace flashjit::cuda
