# FLASHJIT_FUZZ: the libFuzzer build of the fuzz targets (tests/fuzz/README.md). Clang only, and
# on top of any build type:
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DFLASHJIT_FUZZ=ON -DFLASHJIT_WERROR=OFF
#   cmake --build build-fuzz --target flashjit_fuzz_manifest   (or _cache_import, _cache_row)
#
# Every target is compiled with -fsanitize=fuzzer-no-link,address (coverage for libFuzzer to steer
# by, ASan to turn a memory error into a crash it reports); the libfuzzer_<target> executables link
# -fsanitize=fuzzer (tests/fuzz/CMakeLists.txt). Included before any target is defined, so that
# every layer is instrumented. The deterministic replay (flashjit_fuzz_replay) is built either way.

option(FLASHJIT_FUZZ "Build the libFuzzer targets (needs clang)" OFF)

if(NOT FLASHJIT_FUZZ)
  return()
endif()

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "FLASHJIT_FUZZ needs clang (libFuzzer is clang's), not ${CMAKE_CXX_COMPILER_ID}: "
                      "configure a fresh build directory with CC=clang CXX=clang++")
endif()
if(FLASHJIT_SANITIZE)
  message(FATAL_ERROR "FLASHJIT_FUZZ builds with ASan already; leave FLASHJIT_SANITIZE empty")
endif()

add_compile_options(-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -g)
# --as-needed, as in cmake/sanitizers.cmake: clang does not pass it, and a binary should need no
# library it does not call (NVRTC and the driver are dlopened, never linked: tests/linkage).
add_link_options(-fsanitize=address LINKER:--as-needed)
message(STATUS "FlashJIT: libFuzzer build (fuzzer-no-link and ASan on every target)")
