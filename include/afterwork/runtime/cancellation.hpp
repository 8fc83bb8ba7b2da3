// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Time limits and protection from cancellation for coroutines.
///
/// - `with_timeout(task, duration)` awaits `task` for at most `duration`. On time, it returns
///   the result; otherwise the task is cancelled (its suspension point sees
///   `operation_aborted`, so it can clean up) and `with_timeout` throws `system_error` with
///   `timed_out` — not a cancellation: the caller was not cancelled, its callee was late.
/// - `shielded(task)` runs `task` as its own task and waits for it even if the caller is
///   cancelled meanwhile: clean-up that must finish (release a lease, flush a file). The
///   caller's cancellation takes effect at its next suspension point after the shield.
///
/// @par Cancellation
/// Cancelling the caller of `with_timeout` cancels `task` as well.
///
/// @par Thread safety
/// Use from a coroutine; the task runs on the caller's executor.

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/this_coro.hpp>

#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

namespace detail {
Task<void> race_timer(Task<void> task, std::chrono::steady_clock::duration limit);

template <class T>
Task<void> store_result(Task<T> task, std::optional<T>& slot) {
    slot.emplace(co_await std::move(task));
}
}  // namespace detail

template <class T>
Task<T> with_timeout(Task<T> task, std::chrono::steady_clock::duration limit) {
    if constexpr (std::is_void_v<T>) {
        co_await detail::race_timer(std::move(task), limit);
    } else {
        std::optional<T> result;
        co_await detail::race_timer(detail::store_result(std::move(task), result), limit);
        co_return std::move(*result);
    }
}

template <class T>
Task<T> shielded(Task<T> task) {
    // Named locals rather than temporaries in co_await expressions (g++ 12 coroutine bugs).
    Executor executor = co_await boost::asio::this_coro::executor;
    SpawnOptions options;
    options.name = "shielded";
    TaskHandle<T> handle = spawn(executor, std::move(task), std::move(options));
    co_return co_await handle.wait_shielded();
}

}  // namespace afterwork
