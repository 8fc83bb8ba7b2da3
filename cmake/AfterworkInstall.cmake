# SPDX-License-Identifier: MIT
# Installs the libraries, headers and a CMake package so `find_package(afterwork)` works.
include(CMakePackageConfigHelpers)
set(AFTERWORK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/afterwork)

install(TARGETS afterwork afterwork_runtime afterwork_http afterwork_schedule afterwork_observe
    EXPORT afterworkTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The jobs layer; the SQLite store when it is built.
set(afterwork_jobs_targets afterwork_jobs)
if(AFTERWORK_WITH_SQLITE)
    list(APPEND afterwork_jobs_targets afterwork_jobs_sqlite)
endif()
install(TARGETS ${afterwork_jobs_targets}
    EXPORT afterworkTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS afterwork_app RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT afterworkTargets NAMESPACE afterwork:: DESTINATION ${AFTERWORK_CMAKE_DIR})
export(EXPORT afterworkTargets NAMESPACE afterwork::
    FILE ${PROJECT_BINARY_DIR}/afterworkTargets.cmake)

configure_package_config_file(cmake/afterworkConfig.cmake.in
    ${PROJECT_BINARY_DIR}/afterworkConfig.cmake INSTALL_DESTINATION ${AFTERWORK_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/afterworkConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/afterworkConfig.cmake
    ${PROJECT_BINARY_DIR}/afterworkConfigVersion.cmake DESTINATION ${AFTERWORK_CMAKE_DIR})
