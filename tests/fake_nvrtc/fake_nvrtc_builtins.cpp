// Stands in for the libnvrtc-builtins.so.X.Y that lies beside every real libnvrtc: the loader
// (cuda/nvrtc_library.cpp) refuses an NVRTC whose builtins it cannot find, as NVRTC would fail
// every compile without them. tests/CMakeLists.txt names a copy after each fake's version.
extern "C" __attribute__((visibility("default"))) int fake_nvrtc_builtins() { return 0; }
