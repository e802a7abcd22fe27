# Runs cmake/check_includes.cmake on tests/layering/bad, a tree that breaks each rule once (and
# keeps a few allowed includes), and checks that it fails and names exactly those lines.
#   cmake -DCHECKER=<check_includes.cmake> -DTREE=<bad> -P expect_violations.cmake
set(layers "low|low||#mid|mid|low|mid/secret.h#high|high|mid,templates|#templates|tmpl||")
execute_process(COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${TREE} "-DLAYERS=${layers}" -P ${CHECKER}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(result EQUAL 0)
  message(FATAL_ERROR "the check passed a tree that breaks the layering:\n${all}")
endif()
set(expected
  "7 include(s) break the layering"
  "low/low.h:3: #include \"high/high.h\": layer low includes layer high, which is not below it (it may include low)"
  "low/climb.cpp:2: #include \"../high/high.h\": climbs out of the include roots with .."
  "low/bare.cpp:2: #include \"thing.h\": a bare name that is not a template (name its directory)"
  "low/nowhere.cpp:2: #include \"nowhere/x.h\": nowhere/ is no layer's directory"
  "high/use_private.cpp:2: #include \"mid/secret.h\": a private header of layer mid"
  "mid/exposes.h:3: #include \"mid/secret.h\": a public header of layer mid includes a private one"
  "tmpl/t.cuh:3: #include \"low/low.h\": templates include only templates")
foreach(line IN LISTS expected)
  string(FIND "${all}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the check did not say: ${line}\nit said:\n${all}")
  endif()
endforeach()
message(STATUS "every broken rule was named")
