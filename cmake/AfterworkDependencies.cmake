# SPDX-License-Identifier: MIT
# Every dependency is a Debian 12 package; a failure names the package to install.
find_package(Threads REQUIRED)

macro(afterwork_require name package)
    if(NOT ${name}_FOUND)
        message(FATAL_ERROR "afterwork needs ${name}: apt-get install ${package}")
    endif()
endmacro()

find_package(Boost 1.81 CONFIG COMPONENTS json url)
afterwork_require(Boost "libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev")
find_package(fmt CONFIG)
afterwork_require(fmt libfmt-dev)
find_package(spdlog CONFIG)
afterwork_require(spdlog libspdlog-dev)
find_package(CLI11 CONFIG)
afterwork_require(CLI11 libcli11-dev)
find_package(date CONFIG)
afterwork_require(date libhowardhinnant-date-dev)

# The embedded job store. CMake's FindSQLite3 module provides SQLite::SQLite3.
option(AFTERWORK_WITH_SQLITE "Build the SQLite job store (afterwork::jobs_sqlite)" ON)
if(AFTERWORK_WITH_SQLITE)
    find_package(SQLite3)
    afterwork_require(SQLite3 libsqlite3-dev)
endif()
