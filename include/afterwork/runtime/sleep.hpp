// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `sleep_for(duration)`: suspend the calling coroutine without blocking its loop.
///
/// @par Cancellation
/// Honours terminal (and, where the caller enabled them, partial and total) cancellation: the
/// sleep then ends with `operation_aborted`.
///
/// @par Thread safety
/// Safe from any coroutine; it resumes on the caller's executor.

#include <chrono>

#include <afterwork/runtime/task.hpp>

namespace afterwork {

Task<void> sleep_for(std::chrono::steady_clock::duration duration);

}  // namespace afterwork
