// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Event`: a flag coroutines wait for — asyncio's `Event`, settable from any thread.
///
/// `set()` wakes every waiter and leaves the flag set until `clear()`; a wait on a set event
/// returns at once. The "sleep until due or woken" loops of the runtime (the scheduler's
/// firing loop, a worker's claim loop) stand on it: `clear()`, look for work, then
/// `co_await event.wait_until(next_due)`; a `set()` from another thread in between is not lost.
///
/// A wait allocates nothing: the waiting coroutine's frame holds its place in the queue.
///
/// @par Cancellation
/// `wait` and `wait_until` honour the waiting task's cancellation: they end with
/// `operation_aborted`.
///
/// @par Thread safety
/// Thread-safe: every member may be called from any thread; waiters resume on their own
/// executors.
///
/// @par Lifetime
/// The event must outlive its waiters.

#include <atomic>
#include <chrono>
#include <mutex>

#include <afterwork/detail/waiter.hpp>
#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

class Event {
public:
    Event() = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    /// Sets the flag and wakes every waiter.
    void set() noexcept;
    /// Clears the flag; later waits suspend until the next `set()`.
    void clear() noexcept;
    bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }

    /// `co_await event.wait()`: until the flag is set.
    struct Wait final : detail::Waiter {
        using Waiter::Waiter;
        void await_resume() { Waiter::await_resume(); }
    };
    [[nodiscard]] Wait wait() noexcept { return Wait(queue_, &Event::ready, this, true); }

    /// `co_await event.wait_until(deadline)`: true when the flag was set, false when
    /// `deadline` (of the steady clock) passed first.
    struct WaitUntil final : detail::Waiter {
        using Waiter::Waiter;
        bool await_resume() { return Waiter::await_resume() != Outcome::timed_out; }
    };
    [[nodiscard]] WaitUntil wait_until(std::chrono::steady_clock::time_point deadline) noexcept {
        return WaitUntil(&queue_, &Event::ready, this, true, deadline);
    }
    [[nodiscard]] WaitUntil wait_for(std::chrono::steady_clock::duration timeout) noexcept {
        return wait_until(std::chrono::steady_clock::now() + timeout);
    }
    /// As `wait_until`, with `deadline` on `clock`'s monotonic time.
    [[nodiscard]] WaitUntil wait_until(Clock& clock, SteadyTime deadline) noexcept {
        if (auto* timers = clock.timer_queue()) {
            return WaitUntil(queue_, &Event::ready, this, true, *timers, deadline);
        }
        return wait_until(deadline);
    }
    [[nodiscard]] WaitUntil wait_for(Clock& clock, SteadyTime::duration timeout) noexcept {
        return wait_until(clock, clock.steady_now() + timeout);
    }

private:
    static bool ready(const void* event) noexcept {
        return static_cast<const Event*>(event)->set_.load(std::memory_order_acquire);
    }

    std::atomic<bool> set_{false};
    mutable std::mutex mutex_;
    detail::WaitQueue queue_{mutex_};
};

}  // namespace afterwork
