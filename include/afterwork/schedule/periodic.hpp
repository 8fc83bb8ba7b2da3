// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `PeriodicTask`: a function every interval, like the reference article's `periodic()` loop
/// done right. It is one schedule of a `Scheduler` (an `IntervalTrigger` anchored at the
/// start, one instance at a time, coalescing) with a `RecurringStatus` for listings such as
/// the reference service's `GET /tasks`: one interval mechanism, one set of firing rules.
///
/// Fixed rate: run k starts at start + k·interval (+ a random delay in [0, jitter]), so a
/// run's own duration is counted in the period. Runs never overlap: a start that comes while
/// a run is still going is skipped (counted in `skipped`) and the next run takes the next slot.
/// A start found more than an interval late (the loop was blocked, the machine suspended) is
/// skipped and counted too. An exception is logged and counted; the next run happens as planned.
///
/// A `Service`: `request_stop()` cancels the current run at its suspension point (reason
/// `shutdown`) and stops the schedule; `co_await stop(deadline)` also waits for the run's end;
/// `wait_stopped(timeout)` is the blocking form for plain threads.
///
/// @par Time
/// Slots are measured on `PeriodicOptions::clock` (a `ManualClock` in tests).
///
/// @par Thread safety
/// Thread-safe: `status`, `request_stop`, `stop` and `wait_stopped` may be called from any
/// thread.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/recurring.hpp>
#include <afterwork/runtime/service.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

struct PeriodicOptions {
    std::chrono::milliseconds initial_delay{0};  ///< before the first run
    std::chrono::milliseconds jitter{0};         ///< each start is delayed by [0, jitter]
    std::shared_ptr<Clock> clock;                ///< default `system_clock()`
};

class PeriodicTask : public Service {
public:
    /// Starts running `function` every `interval` on `executor`. Throws std::invalid_argument
    /// for an interval <= 0, a negative delay or jitter, or an empty function.
    PeriodicTask(const Executor& executor, std::string name, std::chrono::milliseconds interval,
                 RecurringFunction function, PeriodicOptions options = {});
    PeriodicTask(PeriodicTask&&) noexcept;
    PeriodicTask& operator=(PeriodicTask&&) noexcept;
    /// Stops (without waiting).
    ~PeriodicTask() override;

    [[nodiscard]] RecurringStatus status() const;
    std::string_view service_name() const noexcept override;
    /// Cancels the current run (reason `shutdown`) and stops the schedule.
    void request_stop() noexcept override;
    /// Requests the stop and waits until the current run has ended, until `deadline`; true
    /// when it has.
    Task<bool> stop(std::chrono::steady_clock::time_point deadline) override;
    /// Blocks a plain thread until the current run has ended; true when it has.
    bool wait_stopped(std::chrono::steady_clock::duration timeout);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace afterwork
