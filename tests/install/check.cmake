# SPDX-License-Identifier: MIT
# Proves the installed CMake package works from outside the tree (run by ctest as
# `install.consumer`): install BUILD_DIR into WORK_DIR/prefix, configure and build the consumer
# project SOURCE_DIR against that prefix with GENERATOR, then run it. A failing step stops the
# check with that step's output.
#
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -P check.cmake
cmake_minimum_required(VERSION 3.25)

foreach(variable IN ITEMS BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR)
    if(NOT DEFINED ${variable} OR "${${variable}}" STREQUAL "")
        message(FATAL_ERROR "check.cmake needs -D${variable}=...")
    endif()
endforeach()

# afterwork_check_step(<name> <timeout-seconds> <command>...): runs one step; on failure
# (or timeout) stops with its exit status and its output (stdout and stderr together).
function(afterwork_check_step name timeout)
    execute_process(COMMAND ${ARGN}
        TIMEOUT ${timeout}
        RESULT_VARIABLE result
        OUTPUT_VARIABLE output
        ERROR_VARIABLE output)
    if(NOT result EQUAL 0)
        list(JOIN ARGN " " command)
        # Indented lines are printed as they are, not re-wrapped as a paragraph.
        string(REPLACE "\n" "\n  " output "  $ ${command}\n${output}")
        message(FATAL_ERROR "install check: ${name} failed (${result}):\n${output}")
    endif()
    message(STATUS "install check: ${name}: ok")
    set(step_output "${output}" PARENT_SCOPE)
endfunction()

# A value from the main build's cache, empty when it has none.
function(afterwork_cached_value out key)
    set(value "")
    if(EXISTS "${BUILD_DIR}/CMakeCache.txt")
        file(STRINGS "${BUILD_DIR}/CMakeCache.txt" lines REGEX "^${key}:[A-Z]+=")
        if(lines)
            list(GET lines 0 line)
            string(REGEX REPLACE "^${key}:[A-Z]+=" "" value "${line}")
        endif()
    endif()
    set(${out} "${value}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

afterwork_check_step("install" 120 "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")

# The consumer uses the main build's compiler and build tool. A sanitized build installs
# sanitized static libraries, which need the sanitizer runtime in the consumer's link too.
set(configure_args
    -S "${SOURCE_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_BUILD_TYPE=Release)
afterwork_cached_value(compiler CMAKE_CXX_COMPILER)
if(compiler)
    list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${compiler}")
endif()
afterwork_cached_value(make_program CMAKE_MAKE_PROGRAM)
if(make_program)
    list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${make_program}")
endif()
afterwork_cached_value(sanitize AFTERWORK_SANITIZE)
if(sanitize)
    list(APPEND configure_args
        "-DCMAKE_CXX_FLAGS=-fsanitize=${sanitize} -fno-omit-frame-pointer"
        "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${sanitize}")
endif()
find_program(ccache_program ccache)
if(ccache_program)
    list(APPEND configure_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${ccache_program}")
endif()

afterwork_check_step("configure the consumer" 120 "${CMAKE_COMMAND}" ${configure_args})
afterwork_check_step("build the consumer" 300
    "${CMAKE_COMMAND}" --build "${consumer_build}" --config Release)

# Single-config generators put the program in the build folder, multi-config ones below it.
set(consumer "")
foreach(candidate IN ITEMS "${consumer_build}/consumer" "${consumer_build}/Release/consumer")
    if(EXISTS "${candidate}")
        set(consumer "${candidate}")
        break()
    endif()
endforeach()
if(NOT consumer)
    message(FATAL_ERROR "install check: the consumer was built but not found in ${consumer_build}")
endif()

afterwork_check_step("run the consumer" 60 "${consumer}")
message(STATUS "${step_output}")
