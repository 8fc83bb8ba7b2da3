// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Moving blocking and CPU-heavy calls off the event loop.
///
/// - `to_thread(f, args...)` runs `f(args...)` on the default blocking pool (files, SQLite,
///   sync clients); `to_thread(pool, f, args...)` on a pool of your own.
/// - `on_cpu(f, args...)` runs it on the CPU pool, one thread per core, for computation.
///
/// Both resume the awaiting coroutine on its own executor with the result or the exception,
/// and both fail with `PoolOverloaded` (an HTTP handler's 503) when the pool's queue is full
/// instead of queueing without bound. `f` and the arguments are moved to the pool thread and
/// destroyed there; the result is moved back.
///
/// @par Cancellation
/// A running call cannot be interrupted. Cancelling the awaiting coroutine ends its wait at
/// once with `operation_aborted`, as `asyncio.to_thread` does; the call still runs to its end
/// on the pool and its result is dropped. Capture nothing it could outlive.
///
/// @par Thread safety
/// Safe from any coroutine on any loop. The default pools are created on first use and live
/// until the process exits.

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <afterwork/detail/unique_function.hpp>
#include <afterwork/runtime/blocking_pool.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

/// The pool `to_thread(f, ...)` uses: min(32, cores + 4) threads, 10,000 queued calls.
BlockingPool& default_blocking_pool();
/// The pool `on_cpu` uses: one thread per core, 10,000 queued calls.
BlockingPool& cpu_pool();

namespace detail {

/// Runs `work` on `pool` and resumes on the current executor when it has returned, or (when
/// `cancellable`) at once with operation_aborted when the caller is cancelled. `work` must not
/// throw. Throws `PoolOverloaded` when the pool refuses the work.
Task<void> await_blocking(BlockingPool& pool, UniqueFunction<void()> work, bool cancellable);

template <class R>
struct Outcome {
    std::optional<R> value;
    std::exception_ptr error;
};
template <>
struct Outcome<void> {
    std::exception_ptr error;
};

template <class F, class... Args>
using OffloadResult = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>;

}  // namespace detail

namespace detail {

/// `to_thread` with a choice: an uncancellable wait is for callers whose frame the call
/// uses (the framework's own sync handlers and background tasks).
template <bool Cancellable, class F, class... Args>
Task<OffloadResult<F, Args...>> offload(BlockingPool& pool, F f, Args... args) {
    using Result = OffloadResult<F, Args...>;
    // Shared with the pool job, which may outlive this frame when the wait is cancelled.
    auto outcome = std::make_shared<Outcome<Result>>();
    // A named job, not a lambda temporary inside the co_await expression: g++ 12 mishandles
    // such temporaries in template coroutines (the awaiting frame then misses the outcome).
    UniqueFunction<void()> job = [outcome, function = std::move(f),
                                  arguments = std::make_tuple(std::move(args)...)]() mutable noexcept {
        try {
            if constexpr (std::is_void_v<Result>) {
                std::apply(function, arguments);
            } else {
                outcome->value.emplace(std::apply(function, arguments));
            }
        } catch (...) {
            outcome->error = std::current_exception();
        }
    };
    co_await await_blocking(pool, std::move(job), Cancellable);
    if (outcome->error) std::rethrow_exception(outcome->error);
    if constexpr (!std::is_void_v<Result>) co_return std::move(*outcome->value);
}

}  // namespace detail

template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>
Task<detail::OffloadResult<F, Args...>> to_thread(BlockingPool& pool, F f, Args... args) {
    return detail::offload<true>(pool, std::move(f), std::move(args)...);
}

template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>
Task<detail::OffloadResult<F, Args...>> to_thread(F f, Args... args) {
    return to_thread(default_blocking_pool(), std::move(f), std::move(args)...);
}

template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>
Task<detail::OffloadResult<F, Args...>> on_cpu(F f, Args... args) {
    return to_thread(cpu_pool(), std::move(f), std::move(args)...);
}

}  // namespace afterwork
