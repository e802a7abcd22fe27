# No link-time NVRTC or driver: FlashJIT dlopens both (cuda/nvrtc_library.h, cuda/driver_api.h), so
# the library and the CLI start on a machine with neither and pick an NVRTC per GPU at run time.
# Reads each file's dynamic section with readelf -d and fails naming every NEEDED entry that is a
# libnvrtc or a libcuda.
#   cmake -DREADELF=<readelf> "-DFILES=<file>;<file>" -P check_needed.cmake
if(NOT READELF OR NOT FILES)
  message(FATAL_ERROR "usage: cmake -DREADELF=<readelf> -DFILES=<file>;... -P check_needed.cmake")
endif()

set(offending "")
foreach(file IN LISTS FILES)
  execute_process(COMMAND ${READELF} -d ${file} OUTPUT_VARIABLE dynamic ERROR_VARIABLE error RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${READELF} -d ${file} failed (${result}): ${error}")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*\\]" needed "${dynamic}")
  # Every FlashJIT binary needs libc: a file whose NEEDED entries were not read proves nothing.
  if(NOT needed MATCHES "libc\\.so")
    message(FATAL_ERROR "${file}: no NEEDED entry for libc found in its dynamic section; is it a dynamic ELF file?")
  endif()
  foreach(entry IN LISTS needed)
    string(REGEX REPLACE ".*\\[([^]]*)\\].*" "\\1" library "${entry}")
    if(library MATCHES "^lib(nvrtc|cuda)[.-]")
      list(APPEND offending "${file} needs ${library}")
    endif()
  endforeach()
endforeach()

if(offending)
  string(REPLACE ";" "\n  " offending "${offending}")
  message(FATAL_ERROR "linked at build time, where FlashJIT must dlopen it:\n  ${offending}")
endif()
list(LENGTH FILES count)
message(STATUS "linkage: ${count} files need neither libnvrtc nor libcuda: ok")
