# templates/wgmma_instructions.cuh is generated: it must be exactly what its script writes. Checks
# the template, then a copy with one edit, which must be refused (so the check can fail).
#   cmake -DPYTHON=<python3> -DSCRIPT=<generate_wgmma_instructions.py> -DTEMPLATE=<the .cuh>
#         -DSCRATCH=<dir> -P check_wgmma_instructions.cmake
execute_process(COMMAND ${PYTHON} ${SCRIPT} --check ${TEMPLATE} RESULT_VARIABLE result OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${out}${err}")
endif()

file(READ ${TEMPLATE} text)
string(REPLACE "m64n128k16" "m64n120k16" edited "${text}")
if(edited STREQUAL text)
  message(FATAL_ERROR "the template has no m64n128k16 instruction to edit")
endif()
file(MAKE_DIRECTORY ${SCRATCH})
file(WRITE ${SCRATCH}/wgmma_instructions.cuh "${edited}")
execute_process(COMMAND ${PYTHON} ${SCRIPT} --check ${SCRATCH}/wgmma_instructions.cuh RESULT_VARIABLE result
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(result EQUAL 0 OR NOT err MATCHES "differs from what scripts/generate_wgmma_instructions.py generates")
  message(FATAL_ERROR "an edited copy was not refused (exit ${result}):\n${out}${err}")
endif()
message(STATUS "${TEMPLATE} is what its generator writes")
