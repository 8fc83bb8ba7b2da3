# SPDX-License-Identifier: MIT
# Warnings live in an INTERFACE target linked PRIVATE, so consumers never inherit them.
# Option structs are written `{.port = 8000}`, leaving the other fields at their defaults on
# purpose; g++ 12's -Wextra flags every such designated initializer, so that one is off.
add_library(afterwork_warnings INTERFACE)
target_compile_options(afterwork_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-qual
    -Wno-missing-field-initializers
    $<$<BOOL:${AFTERWORK_WERROR}>:-Werror>)

# Sanitizers apply to everything we build (library, tests, apps), never to consumers.
add_library(afterwork_sanitize INTERFACE)
if(AFTERWORK_SANITIZE)
    target_compile_options(afterwork_sanitize INTERFACE
        -fsanitize=${AFTERWORK_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(afterwork_sanitize INTERFACE -fsanitize=${AFTERWORK_SANITIZE})
endif()
