// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `sleep_for(duration)`, `sleep_until(deadline)`: suspend the calling task without blocking
/// its loop; `yield()`: let the loop run what else is ready first.
///
/// A sleep allocates nothing: the timer node lives in the sleeping coroutine's frame and the
/// loop keeps one Asio timer for all of its sleepers.
///
/// @par Cancellation
/// A sleep honours the task's cancellation: it ends with `operation_aborted`. `yield()`
/// does too.
///
/// @par Thread safety
/// Safe from any task; it resumes on the task's executor.

#include <chrono>

#include <afterwork/detail/waiter.hpp>
#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

namespace detail {
struct Sleep final : Waiter {
    using Waiter::Waiter;
    void await_resume() { Waiter::await_resume(); }
};

struct Yield {
    TaskCore* task = nullptr;
    bool await_ready() const noexcept { return false; }
    template <TaskPromise P>
    void await_suspend(std::coroutine_handle<P> self) {
        task = self.promise().task;
        resume_on(*task, self);
    }
    void await_resume() const;
};
}  // namespace detail

/// `co_await sleep_until(deadline)` (steady clock).
[[nodiscard]] inline detail::Sleep sleep_until(std::chrono::steady_clock::time_point deadline) noexcept {
    return detail::Sleep(nullptr, nullptr, nullptr, true, deadline);
}

/// `co_await sleep_for(duration)`; a duration of zero or less still suspends until the
/// loop's timers are next looked at.
[[nodiscard]] inline detail::Sleep sleep_for(std::chrono::steady_clock::duration duration) noexcept {
    return sleep_until(std::chrono::steady_clock::now() + duration);
}

/// `co_await sleep_until(clock, deadline)`: `deadline` on the clock's monotonic time (a
/// manual clock's sleep ends when the test advances it past the deadline).
[[nodiscard]] inline detail::Sleep sleep_until(Clock& clock, SteadyTime deadline) noexcept {
    if (auto* timers = clock.timer_queue()) return detail::Sleep(*timers, deadline, true);
    return sleep_until(deadline);
}

/// `co_await sleep_for(clock, duration)`.
[[nodiscard]] inline detail::Sleep sleep_for(Clock& clock, SteadyTime::duration duration) noexcept {
    return sleep_until(clock, clock.steady_now() + duration);
}

/// `co_await yield()`: resumes after the handlers already queued on the loop.
[[nodiscard]] inline detail::Yield yield() noexcept { return {}; }

}  // namespace afterwork
