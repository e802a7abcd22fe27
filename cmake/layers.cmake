# The layers of the library, each a static library that links only the layers below it
# (docs/ARCHITECTURE.md draws them). A layer's headers are visible only to the layer itself and to
# the layers that link it, by construction: every layer has an include root of its own,
# <build>/layer_roots/<layer>, holding a link to each of its directories, and no target sees the
# source tree's root. So `#include "runtime/log.h"` in cache/ does not compile: no include root of
# the cache layer or of the layers it links has a runtime/ in it. cmake/check_includes.cmake also
# checks, as a test, the same rule from the table and what a compiler cannot see: no include climbs
# out with "../", a layer's private headers are included only within it, and templates include
# only templates.

set(FLASHJIT_LAYER_ROOTS ${CMAKE_BINARY_DIR}/layer_roots)

# flashjit_include_root(<name> <dir>...): an include root holding links to <dir>... of the source
# tree, for a target that may see exactly those directories.
function(flashjit_include_root name)
  set(root ${FLASHJIT_LAYER_ROOTS}/${name})
  file(MAKE_DIRECTORY ${root})
  foreach(dir IN LISTS ARGN)
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${dir} ${root}/${dir} SYMBOLIC)
  endforeach()
endfunction()

# flashjit_register_layer(<name> DIRS <dir>... [DEPENDS <layer>...] [PRIVATE_HEADERS <header>...])
# Records a layer for the include check: its directories, the layers directly below it, and the
# headers (paths from the source root) that only it may include.
function(flashjit_register_layer name)
  cmake_parse_arguments(LAYER "" "" "DIRS;DEPENDS;PRIVATE_HEADERS" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY FLASHJIT_CHECKED_LAYERS ${name})
  set_property(GLOBAL PROPERTY FLASHJIT_LAYER_${name}_DIRS "${LAYER_DIRS}")
  set_property(GLOBAL PROPERTY FLASHJIT_LAYER_${name}_DEPENDS "${LAYER_DEPENDS}")
  set_property(GLOBAL PROPERTY FLASHJIT_LAYER_${name}_PRIVATE_HEADERS "${LAYER_PRIVATE_HEADERS}")
endfunction()

# flashjit_add_layer(<name> DIRS <dir>... [DEPENDS <layer>...] [PRIVATE_HEADERS <header>...]
#                    SOURCES <file>...)
# A layer library, registered for the include check. DEPENDS names the layers directly below
# (templates counts as one).
function(flashjit_add_layer name)
  cmake_parse_arguments(LAYER "" "" "DIRS;DEPENDS;PRIVATE_HEADERS;SOURCES" ${ARGN})
  flashjit_register_layer(${name} DIRS ${LAYER_DIRS} DEPENDS ${LAYER_DEPENDS} PRIVATE_HEADERS ${LAYER_PRIVATE_HEADERS})
  flashjit_include_root(${name} ${LAYER_DIRS})
  add_library(flashjit_${name} STATIC ${LAYER_SOURCES})
  set_target_properties(flashjit_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_compile_options(flashjit_${name} PRIVATE ${FLASHJIT_WARNINGS})
  target_include_directories(flashjit_${name} PUBLIC $<BUILD_INTERFACE:${FLASHJIT_LAYER_ROOTS}/${name}>)
  foreach(dependency IN LISTS LAYER_DEPENDS)
    target_link_libraries(flashjit_${name} PUBLIC flashjit_${dependency})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY FLASHJIT_LAYERS ${name})
endfunction()

# The layer table as one argument for the include check: "name|dir,dir|dep,dep|header,header#..."
function(flashjit_layer_table out)
  get_property(layers GLOBAL PROPERTY FLASHJIT_CHECKED_LAYERS)
  set(table "")
  foreach(name IN LISTS layers)
    get_property(dirs GLOBAL PROPERTY FLASHJIT_LAYER_${name}_DIRS)
    get_property(deps GLOBAL PROPERTY FLASHJIT_LAYER_${name}_DEPENDS)
    get_property(private GLOBAL PROPERTY FLASHJIT_LAYER_${name}_PRIVATE_HEADERS)
    string(REPLACE ";" "," dirs "${dirs}")
    string(REPLACE ";" "," deps "${deps}")
    string(REPLACE ";" "," private "${private}")
    list(APPEND table "${name}|${dirs}|${deps}|${private}")
  endforeach()
  string(REPLACE ";" "#" table "${table}")
  set(${out} "${table}" PARENT_SCOPE)
endfunction()
