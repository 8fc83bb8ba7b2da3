// SPDX-License-Identifier: MIT
#pragma once

// `before_thread_start()`: what the runtime does before it starts a thread of its own (a
// loop's, a blocking pool's).
//
// spdlog's registry (behind the default logger every spdlog::info() goes through) is a
// function-local static of libspdlog.so, created by whichever thread logs first. The library
// is not built with TSan, so TSan sees neither the static's guard nor the stores that build
// the logger: when a loop thread logged first and the main thread logged later, it reported
// the main thread's atomic load of the logger's level as racing with the logger's creation.
// The creation was in fact ordered by the guard; creating the registry here, before the new
// thread exists, makes the order visible to TSan too (thread creation orders everything done
// before it), and costs one call.
//
// Thread-safe.

#include <spdlog/spdlog.h>

namespace afterwork::detail {

inline void before_thread_start() noexcept { (void)spdlog::default_logger_raw(); }

}  // namespace afterwork::detail
