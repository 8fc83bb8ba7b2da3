// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Clock`: the one source of time for background work — wall time (what stores, triggers and
/// listings show) and monotonic time (what sleeps, waits, leases' renewals and backoffs are
/// measured in). The scheduler, job queues and workers, periodic and supervised tasks all take
/// one; by default `system_clock()`.
///
/// `ManualClock` is time that moves only when a test moves it: sleeps and waits on it end when
/// `advance` passes their deadline, so misfires, retries, leases, backoffs and daylight-saving
/// days are tested without waiting, and "nothing happens before the period" is checked by not
/// moving the clock rather than by sleeping. `sleepers()` tells a test that the work it drives
/// is waiting on the clock (so the next `advance` is seen by it).
///
/// Awaiting on a clock: `co_await sleep_for(clock, 5s)` (sleep.hpp) and
/// `co_await event.wait_for(clock, 5s)` (event.hpp).
///
/// @par Thread safety
/// Thread-safe: every member may be called from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <afterwork/detail/waiter.hpp>

namespace afterwork {

/// An instant of wall time.
using TimePoint = std::chrono::system_clock::time_point;
/// An instant of monotonic time.
using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
public:
    using Listener = std::function<void()>;

    Clock() = default;
    Clock(const Clock&) = delete;
    Clock& operator=(const Clock&) = delete;
    virtual ~Clock() = default;

    /// Wall time.
    virtual TimePoint now() const noexcept = 0;
    /// Monotonic time: the deadlines of sleeps and waits on this clock.
    virtual SteadyTime steady_now() const noexcept = 0;
    /// How long (in this clock's monotonic time) a loop may sleep before the wall time `due`
    /// could have come; zero when it has. The system clock caps it at a second, so a wall clock
    /// set forward (or a machine back from suspend) is noticed within a second.
    virtual SteadyTime::duration until(TimePoint due) const noexcept = 0;

    /// Where waits on this clock keep their deadlines; null: the system timers of the waiting
    /// task's loop.
    virtual detail::TimerQueue* timer_queue() noexcept { return nullptr; }

    /// Registers `listener`, called (on the thread that moved the clock) whenever the wall
    /// time jumps by command; returns a token for `unsubscribe`.
    std::uint64_t subscribe(Listener listener);
    void unsubscribe(std::uint64_t token) noexcept;

protected:
    /// Calls every listener.
    void notify_listeners();

private:
    std::mutex mutex_;
    std::uint64_t next_token_ = 1;
    std::vector<std::pair<std::uint64_t, Listener>> listeners_;
};

/// `std::chrono::system_clock` and `std::chrono::steady_clock`.
class SystemClock final : public Clock {
public:
    TimePoint now() const noexcept override { return std::chrono::system_clock::now(); }
    SteadyTime steady_now() const noexcept override { return std::chrono::steady_clock::now(); }
    SteadyTime::duration until(TimePoint due) const noexcept override;
};

/// The process-wide system clock, everyone's default.
std::shared_ptr<Clock> system_clock();

/// Time that moves only when told. Wall and monotonic time advance together; `set` moves the
/// wall time alone when it goes backwards (monotonic time never does).
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint start);
    ~ManualClock() override;

    TimePoint now() const noexcept override;
    SteadyTime steady_now() const noexcept override;
    SteadyTime::duration until(TimePoint due) const noexcept override;
    detail::TimerQueue* timer_queue() noexcept override;

    /// Moves both times forward by `delta`, ends the sleeps and waits that came due (each
    /// resumes on its own loop) and tells the listeners.
    void advance(std::chrono::system_clock::duration delta);
    /// Moves the wall time to `instant` (backwards too), as `advance` does when forward.
    void set(TimePoint instant);
    /// Sleeps and waits with a deadline on this clock now.
    std::size_t sleepers() const noexcept;

private:
    class Timers;
    void fire_due();

    mutable std::mutex mutex_;
    TimePoint wall_;
    SteadyTime steady_;
    std::unique_ptr<Timers> timers_;
};

}  // namespace afterwork
