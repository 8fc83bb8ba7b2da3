// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Time limits and protection from cancellation for coroutines.
///
/// - `with_timeout(task, duration)` runs `task` for at most `duration`. The first of the two to
///   end decides: the task's own outcome when it ends first (its result, or its exception —
///   a task that throws after 1 ms under a 2 s limit reports its own error after 1 ms);
///   otherwise the task is cancelled (reason `deadline`; its suspension point sees
///   `operation_aborted`, so it can clean up), awaited to its end, and `with_timeout` throws
///   `system_error` with `timed_out` — not a cancellation: the caller was not cancelled, its
///   callee was late.
/// - `shielded(task)` runs `task` as its own task and waits for it even if the caller is
///   cancelled meanwhile: clean-up that must finish (release a lease, flush a file). The
///   caller's cancellation takes effect at its next suspension point after the shield.
///
/// Both run `task` as a task of its own on the caller's executor, so it has its own
/// cancellation.
///
/// @par Cancellation
/// Cancelling the caller of `with_timeout` cancels `task` as well (with the caller's reason),
/// waits for it to end, then throws `operation_aborted`.
///
/// @par Thread safety
/// Use from a coroutine; the task runs on the caller's executor.

#include <chrono>
#include <type_traits>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

namespace detail {
/// Waits for `task` until `deadline` (on `timers`; null: the steady clock's); on time or not,
/// returns only once it has ended. True when it ended before the deadline. A cancellation of
/// the caller is passed on to the task.
Task<bool> race_deadline(TaskCore& task, TimerQueue* timers, SteadyTime deadline);
}  // namespace detail

/// As `with_timeout(task, limit)`, with the limit measured on `clock` (which must outlive the
/// returned task).
template <class T>
Task<T> with_timeout(Task<T> task, std::chrono::steady_clock::duration limit, Clock& clock) {
    const auto deadline = clock.steady_now() + limit;
    Executor executor = co_await current_executor();
    SpawnOptions options;
    options.name = "with_timeout";
    TaskHandle<T> handle = spawn(executor, std::move(task), std::move(options));
    const bool on_time =
        co_await detail::race_deadline(handle.core(), clock.timer_queue(), deadline);
    if (!on_time) {
        static_cast<void>(handle.error());  // its end after the limit is not a failure to report
        throw boost::system::system_error(boost::asio::error::timed_out, "with_timeout");
    }
    co_return co_await handle.wait_shielded();
}

template <class T>
Task<T> with_timeout(Task<T> task, std::chrono::steady_clock::duration limit) {
    return with_timeout(std::move(task), limit, *system_clock());
}

template <class T>
Task<T> shielded(Task<T> task) {
    Executor executor = co_await current_executor();
    SpawnOptions options;
    options.name = "shielded";
    TaskHandle<T> handle = spawn(executor, std::move(task), std::move(options));
    co_return co_await handle.wait_shielded();
}

}  // namespace afterwork
