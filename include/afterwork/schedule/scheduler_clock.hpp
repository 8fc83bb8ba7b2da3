// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The clock a `Scheduler` reads: `SchedulerClock` (the interface), `SystemSchedulerClock`
/// (wall-clock time, the default) and `ManualClock` (time that only moves when a test moves
/// it, so misfires, coalescing and daylight-saving days are tested without waiting).
///
/// The scheduler asks the clock two things: what time it is, and how long it may sleep before
/// an instant could have come. The system clock answers with real time (capped, so a wall
/// clock set forward or a machine resumed from suspend is noticed within a second); a manual
/// clock answers "until I tell you", and wakes its schedulers when it is moved.
///
/// @par Thread safety
/// Thread-safe: `now`, `sleep_hint`, `subscribe` and `ManualClock::set`/`advance` may be called
/// from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <afterwork/schedule/trigger.hpp>

namespace afterwork {

class SchedulerClock {
public:
    using Listener = std::function<void()>;

    SchedulerClock() = default;
    SchedulerClock(const SchedulerClock&) = delete;
    SchedulerClock& operator=(const SchedulerClock&) = delete;
    virtual ~SchedulerClock() = default;

    virtual TimePoint now() const = 0;
    /// How long (in real time) a scheduler may sleep before `due` could have come; nullopt:
    /// until a listener is called.
    virtual std::optional<std::chrono::steady_clock::duration> sleep_hint(TimePoint due) const = 0;

    /// Registers `listener`, called (on the thread that moved the clock) whenever the time
    /// jumps; returns a token for `unsubscribe`.
    std::uint64_t subscribe(Listener listener);
    void unsubscribe(std::uint64_t token) noexcept;

protected:
    /// Calls every listener; for clocks that move by command.
    void notify_listeners();

private:
    std::mutex mutex_;
    std::uint64_t next_token_ = 1;
    std::vector<std::pair<std::uint64_t, Listener>> listeners_;
};

/// `std::chrono::system_clock`; the scheduler re-reads it at least once a second.
class SystemSchedulerClock final : public SchedulerClock {
public:
    TimePoint now() const override { return std::chrono::system_clock::now(); }
    std::optional<std::chrono::steady_clock::duration> sleep_hint(TimePoint due) const override;
};

/// Time that moves only when told; starts at `start`.
class ManualClock final : public SchedulerClock {
public:
    explicit ManualClock(TimePoint start) : now_(start) {}

    TimePoint now() const override;
    std::optional<std::chrono::steady_clock::duration> sleep_hint(TimePoint) const override {
        return std::nullopt;
    }

    /// Moves the time to `instant` (backwards too) and wakes the schedulers.
    void set(TimePoint instant);
    /// Moves the time forward by `delta` and wakes the schedulers.
    void advance(std::chrono::system_clock::duration delta);

private:
    mutable std::mutex mutex_;
    TimePoint now_;
};

/// The process-wide system clock, the scheduler's default.
std::shared_ptr<SchedulerClock> system_scheduler_clock();

}  // namespace afterwork
