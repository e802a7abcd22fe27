# FLASHJIT_SANITIZE: build every target with the named sanitizers, for the sanitizer jobs of
# scripts/test.sh. "address,undefined" (ASan, LeakSanitizer and UBSan) or "thread" (TSan); empty
# builds without. Included before any target is defined, so every layer and test is instrumented.
#
# A sanitizer build defines only the host-code tests, the unit tests (tests/CMakeLists.txt says why).

set(FLASHJIT_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined | thread | empty for none")

if(NOT FLASHJIT_SANITIZE)
  return()
endif()

string(REPLACE "," ";" flashjit_sanitizers "${FLASHJIT_SANITIZE}")
foreach(sanitizer IN LISTS flashjit_sanitizers)
  if(NOT sanitizer MATCHES "^(address|undefined|thread)$")
    message(FATAL_ERROR "FLASHJIT_SANITIZE: '${sanitizer}' is not address, undefined or thread")
  endif()
endforeach()
if("thread" IN_LIST flashjit_sanitizers AND "address" IN_LIST flashjit_sanitizers)
  message(FATAL_ERROR "FLASHJIT_SANITIZE: thread and address cannot be combined (build one, then the other)")
endif()

# -O1 -g whatever the build type (these come after its flags, so they win): exact stack traces at
# about twice the speed of -O0. -fno-omit-frame-pointer: the sanitizers' fast unwinder needs it.
set(flashjit_sanitize_flags -fsanitize=${FLASHJIT_SANITIZE} -fno-omit-frame-pointer -O1 -g)
# libstdc++'s bounds checks (operator[] of vector, string, array, span; front/back of an empty
# container): ASan misses an index past size() but within capacity(). The layout is unchanged, so
# the uninstrumented libraries we link (LLVM Support, GoogleTest) still fit.
add_compile_definitions(_GLIBCXX_ASSERTIONS)
if("undefined" IN_LIST flashjit_sanitizers)
  # UBSan reports and carries on by default; a finding must fail the test. float-cast-overflow is not
  # part of "undefined" in GCC, and numbers read from disk or the command line are converted to
  # integers: a double out of an int's range is undefined behaviour.
  list(APPEND flashjit_sanitize_flags -fsanitize=float-cast-overflow -fno-sanitize-recover=all)
  # For tests/unit/sanitizer_canary_test.cpp: GCC defines __SANITIZE_ADDRESS__ and
  # __SANITIZE_THREAD__, but nothing for UBSan.
  add_compile_definitions(FLASHJIT_SANITIZE_UNDEFINED)
endif()
add_compile_options(${flashjit_sanitize_flags})
# GCC links with --as-needed only when not sanitizing (Debian's specs): pass it anyway, so a binary
# needs no library it does not call. (Nothing links NVRTC or the driver, both dlopened: tests/linkage
# checks the NEEDED entries of the library and the CLI.)
add_link_options(${flashjit_sanitize_flags} LINKER:--as-needed)
message(STATUS "FlashJIT: sanitizers ${FLASHJIT_SANITIZE}; only the host-code tests are defined")
