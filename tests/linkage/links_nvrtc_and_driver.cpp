// The canary of tests/linkage/check_needed.cmake: a library that links NVRTC and the driver at
// build time, as FlashJIT must not. The check must refuse it, naming both. (It calls into libc as
// every FlashJIT binary does: the check insists on seeing libc among the NEEDED entries.)
#include <cuda.h>
#include <nvrtc.h>

#include <cstdlib>

int linked_versions() {
  int major = 0, minor = 0, driver = 0;
  nvrtcVersion(&major, &minor);
  cuDriverGetVersion(&driver);
  return major + minor + driver + (std::getenv("FLASHJIT_NVRTC") != nullptr);
}
