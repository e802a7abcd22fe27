# Installs libflashjit, its public headers, the flashjit tool and a CMake package, so that an outside
# project can `find_package(flashjit)` and link `flashjit::flashjit`.
include(CMakePackageConfigHelpers)

install(TARGETS flashjit EXPORT flashjitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/flashjit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(FLASHJIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/flashjit)
install(EXPORT flashjitTargets NAMESPACE flashjit:: DESTINATION ${FLASHJIT_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/flashjitConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/flashjitConfig.cmake
                              INSTALL_DESTINATION ${FLASHJIT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/flashjitConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/flashjitConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/flashjitConfigVersion.cmake
        DESTINATION ${FLASHJIT_CMAKE_DIR})
