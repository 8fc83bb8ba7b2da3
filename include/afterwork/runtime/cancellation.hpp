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
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/outcome.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

/// As `with_timeout(task, limit)`, with the limit measured on `clock` (which must outlive the
/// returned task). The race is `run_guarded`'s time limit; this form turns its outcome back
/// into the task's result or exception.
template <class T>
Task<T> with_timeout(Task<T> task, std::chrono::steady_clock::duration limit, Clock& clock) {
    const GuardOptions options{.time_limit = limit, .clock = &clock};
    if constexpr (std::is_void_v<T>) {
        const RunOutcome run = co_await run_guarded(std::move(task), options);
        if (!run.succeeded()) std::rethrow_exception(run.error);
    } else {
        std::optional<T> result;
        const RunOutcome run = co_await run_guarded(std::move(task), result, options);
        if (!run.succeeded()) std::rethrow_exception(run.error);
        co_return std::move(*result);
    }
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
