# Runs the replay on a corpus whose only file breaks its name's promise (violation_fixture/
# valid-cut-short.json: a manifest cut short, which the parser rejects) and checks that the replay
# fails, says which input and why, shows its bytes in hex and saves them.
#   cmake -DREPLAY=... -DFIXTURE=... -DOUT=... -P expect_violation.cmake
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${REPLAY} --target manifest --corpus ${FIXTURE} --out ${OUT} --mutations 0
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE errors)
message("${output}${errors}")
if(result EQUAL 0)
  message(FATAL_ERROR "the replay passed a corpus file that breaks its name's promise")
endif()
set(expected_lines
    "VIOLATION manifest corpus valid-cut-short.json: its name promises accepted, but it was rejected: manifest: not valid JSON"
    "  28 bytes: 7b227665 7273696f 6e223a20 312c2022 70726f62 6c656d73 223a205b"
    "  saved to ${OUT}/manifest-violation-1.bin"
    "fuzz replay manifest: FAILED, 1 violations")
foreach(line IN LISTS expected_lines)
  string(FIND "${output}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the replay's output lacks the line\n${line}")
  endif()
endforeach()
file(READ ${FIXTURE}/valid-cut-short.json fixture_bytes HEX)
file(READ ${OUT}/manifest-violation-1.bin saved_bytes HEX)
if(NOT fixture_bytes STREQUAL saved_bytes)
  message(FATAL_ERROR "the saved input is not the one that failed")
endif()
message("the replay failed on the violation, showed and saved its input")
