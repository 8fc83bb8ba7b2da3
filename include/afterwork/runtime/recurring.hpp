// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Long-lived work that keeps going: `PeriodicTask` (a function every interval, like the
/// article's `periodic()` loop done right) and `Supervisor` (a long-running coroutine
/// restarted with backoff when it crashes). Both report a `RecurringStatus` for listings such
/// as the reference service's `GET /tasks`, and both stop cleanly with `stop()`.
///
/// PeriodicTask: fixed rate — run k starts at start + k·interval (+ jitter), so a run's own
/// duration is counted in the period. Runs never overlap: a run longer than the interval
/// makes the next due start(s) be skipped (counted in `skipped`) and the next run takes the
/// next future slot. An exception is logged and counted; the next run happens as planned.
///
/// Supervisor: runs `factory()`; when the coroutine throws it is restarted after a backoff
/// that grows from `initial_backoff` by `multiplier` up to `max_backoff` (reset after a run
/// that lasted `healthy_after`). More than `max_restarts` restarts within `within` marks it
/// `failed` and it is not restarted again. A coroutine that returns normally is `completed`
/// and not restarted.
///
/// Both are `Service`s: `request_stop()` cancels the current run at its suspension point
/// (reason `shutdown`) and ends the loop; `co_await stop(deadline)` also waits for the loop's
/// end; `wait_stopped(timeout)` is the blocking form for plain threads.
///
/// @par Cancellation
/// A plain function already running on a pool finishes first; its coroutine side ends at once.
///
/// @par Thread safety
/// Thread-safe: `status`, `request_stop`, `stop` and `wait_stopped` may be called from any
/// thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <afterwork/runtime/service.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

/// A snapshot of a periodic or supervised task.
struct RecurringStatus {
    std::string name;
    std::string kind;   ///< "periodic" or "supervised"
    std::string state;  ///< scheduled, running, backing_off, failed, completed, stopped
    std::uint64_t runs = 0;      ///< runs started (supervised: starts, the first included)
    std::uint64_t failures = 0;  ///< runs that threw
    std::uint64_t skipped = 0;   ///< periodic: due starts skipped because a run overran
    std::uint64_t restarts = 0;  ///< supervised: restarts after a crash
    std::optional<std::string> last_error;
    std::optional<std::chrono::system_clock::time_point> last_run;  ///< start of the last run
    std::optional<std::chrono::system_clock::time_point> next_run;  ///< next start or restart
    std::chrono::milliseconds interval{0};                          ///< periodic only
};

struct PeriodicOptions {
    std::chrono::milliseconds initial_delay{0};  ///< before the first run
    std::chrono::milliseconds jitter{0};         ///< each start is delayed by [0, jitter]
};

struct SupervisorOptions {
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{30'000};
    double multiplier = 2.0;
    int max_restarts = 5;                         ///< within `within`, then `failed`
    std::chrono::milliseconds within{60'000};
    std::chrono::milliseconds healthy_after{10'000};  ///< a run this long resets the backoff
};

/// What a periodic task or a supervisor runs: a coroutine factory (called once per run).
using RecurringFunction = std::function<Task<void>()>;

namespace detail {
struct RecurringState;
/// A recurring task about to start: its status and its loop.
struct RecurringStart {
    std::shared_ptr<RecurringState> state;
    Task<void> loop;
};
}  // namespace detail

/// What a periodic and a supervised task share: a status and a clean stop. Stops (without
/// waiting) when destroyed.
class RecurringTask : public Service {
public:
    RecurringTask(RecurringTask&&) noexcept;
    RecurringTask& operator=(RecurringTask&&) noexcept;
    ~RecurringTask() override;

    RecurringStatus status() const;
    std::string_view service_name() const noexcept override;
    /// Cancels the current run (reason `shutdown`) and ends the loop.
    void request_stop() noexcept override;
    /// Requests the stop and waits for the loop's end until `deadline`; true when it ended.
    Task<bool> stop(std::chrono::steady_clock::time_point deadline) override;
    /// Blocks a plain thread until the loop has ended; true when it has.
    bool wait_stopped(std::chrono::steady_clock::duration timeout);

protected:
    RecurringTask(const Executor& executor, detail::RecurringStart start);

private:
    std::shared_ptr<detail::RecurringState> state_;
    TaskHandle<void> loop_;
};

class PeriodicTask : public RecurringTask {
public:
    /// Starts running `function` every `interval` on `executor`. Throws std::invalid_argument
    /// for an interval <= 0, a negative delay or jitter, or an empty function.
    PeriodicTask(const Executor& executor, std::string name, std::chrono::milliseconds interval,
                 RecurringFunction function, PeriodicOptions options = {});
};

class Supervisor : public RecurringTask {
public:
    /// Starts `factory()` on `executor` under supervision. Throws std::invalid_argument for
    /// an empty factory, non-positive backoffs, a multiplier below 1 or negative limits.
    Supervisor(const Executor& executor, std::string name, RecurringFunction factory,
               SupervisorOptions options = {});
};

/// Wraps a plain function as a RecurringFunction that runs it on the default blocking pool.
RecurringFunction blocking(std::function<void()> function);

}  // namespace afterwork
