# SPDX-License-Identifier: MIT
# Precompiled headers: the standard, Asio, Boost.System/Describe and Boost.JSON headers most
# translation units include, parsed once per build instead of once per file (a shorter clean
# build, see bench/README.md "Compile time"). g++ uses a precompiled header only when the
# macros it tests are defined alike, so there are two, each re-used by the targets whose flags
# match it: `core` (standard + Asio + Boost.System/Describe) for the targets without
# Boost.JSON, `json` (the same + Boost.JSON) for everything that links jobs.
# -Winvalid-pch (added by CMake) reports a file whose flags stopped matching. The header check
# (tests/CMakeLists.txt) and the projects that use the installed package get none: they prove
# that every header includes what it uses. AFTERWORK_PCH=OFF builds without them, e.g. to check
# that the sources include what they use, too.
option(AFTERWORK_PCH "Precompile the standard, Asio and Boost.JSON headers" ON)

set(AFTERWORK_PCH_CORE
    <algorithm> <array> <atomic> <chrono> <condition_variable> <coroutine> <cstddef> <cstdint>
    <exception> <filesystem> <functional> <limits> <map> <memory> <mutex> <optional> <span>
    <stdexcept> <string> <string_view> <system_error> <thread> <type_traits> <unordered_map>
    <utility> <vector>
    <boost/asio/any_io_executor.hpp> <boost/asio/async_result.hpp>
    <boost/asio/cancellation_signal.hpp> <boost/asio/error.hpp>
    <boost/asio/executor_work_guard.hpp> <boost/asio/io_context.hpp> <boost/asio/post.hpp>
    <boost/asio/steady_timer.hpp> <boost/asio/strand.hpp>
    <boost/container/small_vector.hpp> <boost/describe/class.hpp> <boost/describe/enum.hpp>
    <boost/mp11/algorithm.hpp> <boost/system/error_code.hpp> <boost/system/result.hpp>
    <boost/system/system_error.hpp>)
set(AFTERWORK_PCH_JSON
    <boost/json/array.hpp> <boost/json/object.hpp> <boost/json/parse.hpp>
    <boost/json/serialize.hpp> <boost/json/string.hpp> <boost/json/value.hpp>)

# g++ also rejects a precompiled header built with a macro the user does not define, so each
# is built by a target of its own with only the flags all its users share: afterwork_pch_core
# (standard + Asio + Boost.System/Describe: the definitions of afterwork::runtime) and
# afterwork_pch_json (the same + Boost.JSON's definitions).
# afterwork_precompile_owners(): creates both; called once afterwork_runtime exists.
function(afterwork_precompile_owners)
    if(NOT AFTERWORK_PCH)
        return()
    endif()
    set(source ${CMAKE_CURRENT_BINARY_DIR}/afterwork_pch.cpp)
    file(CONFIGURE OUTPUT ${source} CONTENT "// The owner of a precompiled header: no code.\n")
    foreach(owner IN ITEMS core json)
        add_library(afterwork_pch_${owner} OBJECT ${source})
        target_compile_features(afterwork_pch_${owner} PRIVATE cxx_std_20)
        target_compile_definitions(afterwork_pch_${owner} PRIVATE
            $<TARGET_PROPERTY:afterwork_runtime,INTERFACE_COMPILE_DEFINITIONS>)
        target_link_libraries(afterwork_pch_${owner} PRIVATE Boost::headers Threads::Threads
            afterwork_warnings afterwork_sanitize)
    endforeach()
    target_link_libraries(afterwork_pch_json PRIVATE Boost::json)
    target_precompile_headers(afterwork_pch_core PRIVATE ${AFTERWORK_PCH_CORE})
    target_precompile_headers(afterwork_pch_json PRIVATE ${AFTERWORK_PCH_CORE}
        ${AFTERWORK_PCH_JSON})
endfunction()

# afterwork_precompile(TARGET core|json): TARGET uses that precompiled header.
function(afterwork_precompile target which)
    if(AFTERWORK_PCH)
        target_precompile_headers(${target} REUSE_FROM afterwork_pch_${which})
    endif()
endfunction()
