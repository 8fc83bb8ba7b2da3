// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Long-lived work that keeps going: `Supervisor` (a long-running coroutine restarted with
/// backoff when it crashes, like a supervisor process for one task), the `RecurringStatus`
/// listings such as the reference service's `GET /tasks` show, and `blocking()` to run a plain
/// function as a recurring function. (Work every interval is `PeriodicTask`, in
/// schedule/periodic.hpp: a schedule of the scheduler.)
///
/// Supervisor: runs `factory()`; when the coroutine throws it is restarted after a backoff
/// that grows from `initial_backoff` by `multiplier` up to `max_backoff` (reset after a run
/// that lasted `healthy_after`). More than `max_restarts` restarts within `within` marks it
/// `failed` and it is not restarted again. A coroutine that returns normally is `completed`
/// and not restarted. Backoffs and windows are measured on `SupervisorOptions::clock`.
///
/// A `Service`: `request_stop()` cancels the current run at its suspension point (reason
/// `shutdown`) and ends the loop; `co_await stop(deadline)` also waits for the loop's end;
/// `wait_stopped(timeout)` is the blocking form for plain threads.
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

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/service.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

/// Where a periodic or supervised task is.
enum class RecurringState : std::uint8_t {
    scheduled,    ///< waiting for its next run
    running,      ///< a run is going on
    backing_off,  ///< supervised: crashed, waiting to restart
    failed,       ///< supervised: crashed too often, not restarted
    completed,    ///< supervised: returned normally, not restarted
    stopped       ///< stopped by `request_stop` (the app's shutdown)
};
std::string_view to_string(RecurringState state) noexcept;

/// Which kind of recurring task.
enum class RecurringKind : std::uint8_t { periodic, supervised };
std::string_view to_string(RecurringKind kind) noexcept;

/// A snapshot of a periodic or supervised task.
struct RecurringStatus {
    std::string name;
    RecurringKind kind = RecurringKind::periodic;
    RecurringState state = RecurringState::scheduled;
    std::uint64_t runs = 0;      ///< runs started (supervised: starts, the first included)
    std::uint64_t failures = 0;  ///< runs that threw
    std::uint64_t skipped = 0;   ///< periodic: due starts skipped because a run overran
    std::uint64_t restarts = 0;  ///< supervised: restarts after a crash
    std::optional<std::string> last_error;
    std::optional<std::chrono::system_clock::time_point> last_run;  ///< start of the last run
    std::optional<std::chrono::system_clock::time_point> next_run;  ///< next start or restart
    std::chrono::milliseconds interval{0};                          ///< periodic only
};

struct SupervisorOptions {
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{30'000};
    double multiplier = 2.0;
    int max_restarts = 5;                         ///< within `within`, then `failed`
    std::chrono::milliseconds within{60'000};
    std::chrono::milliseconds healthy_after{10'000};  ///< a run this long resets the backoff
    std::shared_ptr<Clock> clock;  ///< what backoffs are measured on; default `system_clock()`
};

/// What a periodic task or a supervisor runs: a coroutine factory (called once per run).
using RecurringFunction = std::function<Task<void>()>;

namespace detail {
struct SupervisorState;
}  // namespace detail

class Supervisor : public Service {
public:
    /// Starts `factory()` on `executor` under supervision. Throws std::invalid_argument for
    /// an empty factory, non-positive backoffs, a multiplier below 1 or negative limits.
    Supervisor(const Executor& executor, std::string name, RecurringFunction factory,
               SupervisorOptions options = {});
    Supervisor(Supervisor&&) noexcept;
    Supervisor& operator=(Supervisor&&) noexcept;
    /// Stops (without waiting).
    ~Supervisor() override;

    [[nodiscard]] RecurringStatus status() const;
    std::string_view service_name() const noexcept override;
    /// Cancels the current run (reason `shutdown`) and ends the loop.
    void request_stop() noexcept override;
    /// Requests the stop and waits for the loop's end until `deadline`; true when it ended.
    Task<bool> stop(std::chrono::steady_clock::time_point deadline) override;
    /// Blocks a plain thread until the loop has ended; true when it has.
    bool wait_stopped(std::chrono::steady_clock::duration timeout);

private:
    std::shared_ptr<detail::SupervisorState> state_;
    TaskHandle<void> loop_;
};

/// Wraps a plain function as a RecurringFunction that runs it on the default blocking pool.
RecurringFunction blocking(std::function<void()> function);

}  // namespace afterwork
