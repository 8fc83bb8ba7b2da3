// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `to_thread(pool, f, args...)`: run a blocking call on a `BlockingPool` and resume the
/// awaiting coroutine on its own executor with the result or the exception.
///
/// @par Cancellation
/// The blocking call cannot be interrupted: the awaiting coroutine resumes when it returns.
///
/// @par Thread safety
/// Safe from any coroutine on any loop; `f` and the arguments are moved to the pool thread and
/// destroyed there, the result is moved back.

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <afterwork/detail/unique_function.hpp>
#include <afterwork/runtime/blocking_pool.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

namespace detail {
/// Runs `work` on `pool` and resumes on the current executor when it has returned. `work` must
/// not throw. Throws `PoolOverloaded` when the pool refuses the work.
Task<void> await_blocking(BlockingPool& pool, UniqueFunction<void()> work);
}  // namespace detail

template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>
Task<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>> to_thread(BlockingPool& pool,
                                                                                F f,
                                                                                Args... args) {
    using Result = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>;
    std::exception_ptr error;
    if constexpr (std::is_void_v<Result>) {
        co_await detail::await_blocking(pool, [&]() noexcept {
            try {
                std::invoke(f, args...);
            } catch (...) {
                error = std::current_exception();
            }
        });
        if (error) std::rethrow_exception(error);
    } else {
        std::optional<Result> result;
        co_await detail::await_blocking(pool, [&]() noexcept {
            try {
                result.emplace(std::invoke(f, args...));
            } catch (...) {
                error = std::current_exception();
            }
        });
        if (error) std::rethrow_exception(error);
        co_return std::move(*result);
    }
}

}  // namespace afterwork
