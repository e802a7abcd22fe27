// A fake libnvrtc for the loader's tests (cuda/nvrtc_library.h): it reports the version and
// targets it was built with and compiles nothing (nvrtcCompileProgram fails with a log that says
// so). tests/CMakeLists.txt builds it several times with these definitions:
//   FAKE_NVRTC_MAJOR, FAKE_NVRTC_MINOR   what nvrtcVersion reports
//   FAKE_NVRTC_ARCHS                     the targets, e.g. 50,61,75 (none: it reports no targets)
//   FAKE_NVRTC_VERSION_FAILS             nvrtcVersion returns NVRTC_ERROR_INTERNAL_ERROR
//   FAKE_NVRTC_WITHOUT_GET_CUBIN         nvrtcGetCUBIN is not defined (a symbol the loader needs)
#include <nvrtc.h>

#include <cstring>
#include <string>

namespace {

#ifdef FAKE_NVRTC_ARCHS
constexpr int kArchs[] = {FAKE_NVRTC_ARCHS};
constexpr int kArchCount = sizeof(kArchs) / sizeof(kArchs[0]);
#else
constexpr int* kArchs = nullptr;
constexpr int kArchCount = 0;
#endif

#define FAKE_NVRTC_TEXT2(x) #x
#define FAKE_NVRTC_TEXT(x) FAKE_NVRTC_TEXT2(x)
const std::string kLog = "fake NVRTC " FAKE_NVRTC_TEXT(FAKE_NVRTC_MAJOR) "." FAKE_NVRTC_TEXT(FAKE_NVRTC_MINOR)
                         " compiles nothing";

// Any non-null handle: nothing is ever compiled into it.
int program_storage = 0;

}  // namespace

extern "C" {

__attribute__((visibility("default"))) const char* nvrtcGetErrorString(nvrtcResult result) {
  switch (result) {
    case NVRTC_SUCCESS: return "NVRTC_SUCCESS";
    case NVRTC_ERROR_COMPILATION: return "NVRTC_ERROR_COMPILATION";
    case NVRTC_ERROR_INTERNAL_ERROR: return "NVRTC_ERROR_INTERNAL_ERROR";
    default: return "NVRTC_ERROR (fake)";
  }
}

__attribute__((visibility("default"))) nvrtcResult nvrtcVersion(int* major, int* minor) {
#ifdef FAKE_NVRTC_VERSION_FAILS
  (void)major;
  (void)minor;
  return NVRTC_ERROR_INTERNAL_ERROR;
#else
  *major = FAKE_NVRTC_MAJOR;
  *minor = FAKE_NVRTC_MINOR;
  return NVRTC_SUCCESS;
#endif
}

__attribute__((visibility("default"))) nvrtcResult nvrtcGetNumSupportedArchs(int* count) {
  *count = kArchCount;
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcGetSupportedArchs(int* archs) {
  for (int i = 0; i < kArchCount; ++i) archs[i] = kArchs[i];
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcCreateProgram(nvrtcProgram* program, const char*, const char*,
                                                                      int, const char* const*, const char* const*) {
  *program = reinterpret_cast<nvrtcProgram>(&program_storage);
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcDestroyProgram(nvrtcProgram* program) {
  *program = nullptr;
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcAddNameExpression(nvrtcProgram, const char*) {
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcCompileProgram(nvrtcProgram, int, const char* const*) {
  return NVRTC_ERROR_COMPILATION;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram, size_t* size) {
  *size = kLog.size() + 1;
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcGetProgramLog(nvrtcProgram, char* log) {
  std::memcpy(log, kLog.c_str(), kLog.size() + 1);
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcGetLoweredName(nvrtcProgram, const char*, const char** name) {
  *name = nullptr;
  return NVRTC_ERROR_COMPILATION;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcGetPTXSize(nvrtcProgram, size_t* size) {
  *size = 0;
  return NVRTC_SUCCESS;
}

__attribute__((visibility("default"))) nvrtcResult nvrtcGetPTX(nvrtcProgram, char*) { return NVRTC_SUCCESS; }

__attribute__((visibility("default"))) nvrtcResult nvrtcGetCUBINSize(nvrtcProgram, size_t* size) {
  *size = 0;
  return NVRTC_SUCCESS;
}

#ifndef FAKE_NVRTC_WITHOUT_GET_CUBIN
__attribute__((visibility("default"))) nvrtcResult nvrtcGetCUBIN(nvrtcProgram, char*) { return NVRTC_SUCCESS; }
#endif

}  // extern "C"
