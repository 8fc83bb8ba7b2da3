// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Scheduler`: runs functions when their triggers fire — APScheduler's `AsyncIOScheduler` on
/// afterwork's loops. A schedule (a function, its trigger and options, under an id) is added,
/// replaced, removed, paused and resumed by id, and listed with its trigger, time zone, next
/// run, last run and last outcome. (APScheduler calls a schedule a "job"; here a job is only a
/// durable job of the jobs layer.)
///
/// @par Firing rules (per schedule)
/// - A run starts when its fire time comes (plus a random delay in [0, jitter] drawn for each
///   occurrence). A coroutine runs on the scheduler's loop; a plain function (wrap it with
///   `blocking()`) on the blocking pool. An exception is logged and counted, and the next
///   occurrence fires as planned (error isolation); cancellation at `stop()` is not a failure.
/// - Misfire grace: an occurrence found more than `misfire_grace` late (the process was busy,
///   suspended or down) is not run and is counted as `missed`. Default: the shorter of the
///   trigger's period and one minute (a date trigger: one minute) — not APScheduler's one
///   second, which misses runs on any busy machine.
/// - Coalescing (default on): when several occurrences are due at once, they run once, for the
///   latest one within the grace; off, each one within the grace runs.
/// - Maximum instances (default 1): an occurrence that comes while that many runs of the
///   schedule are still going is skipped and counted (`skipped`), as APScheduler does.
/// - A schedule whose trigger has no further occurrence (a date trigger that fired) is removed.
///
/// @par Time
/// Fire times come from the schedule's trigger (its time zone and daylight-saving rule are the
/// trigger's); "now" comes from the scheduler's clock, which a test can drive (`ManualClock`).
/// Finding the next due schedule and adding one are O(log n).
///
/// @par Restarts
/// With a `ScheduleStore`, each schedule's next and last occurrence are persisted; a schedule
/// added again under the same id with the same trigger resumes where it was. Schedulers that
/// share a store (processes on one SQLite file) fire each occurrence once among them: each
/// claims an occurrence in the store before running it (see schedule_store.hpp); a run lost to
/// another scheduler is not counted here.
///
/// @par Thread safety
/// Thread-safe: every member may be called from any thread, scheduled functions included (a
/// schedule's function may remove or pause its own schedule). With a store,
/// `add`/`replace`/`remove`/`pause`/`resume` write to it before they return, so call them from
/// startup code or a plain thread rather than a busy loop.
///
/// @par Lifetime
/// `stop()` (or the destructor) stops firing and cancels running instances (reason
/// `shutdown`); `wait_stopped` waits until they have ended.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/recurring.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/schedule/schedule_error.hpp>
#include <afterwork/schedule/schedule_store.hpp>
#include <afterwork/schedule/time_zone.hpp>
#include <afterwork/runtime/service.hpp>
#include <afterwork/schedule/trigger.hpp>

namespace afterwork {

/// Per-schedule options; `{.id = "digest", .max_instances = 2}`.
struct ScheduleOptions {
    std::string id;  ///< unique within the scheduler; defaults to the schedule's name
    /// How late an occurrence may start and still run; default min(period, 1 min).
    std::optional<std::chrono::milliseconds> misfire_grace;
    bool coalesce = true;
    int max_instances = 1;
    std::chrono::milliseconds jitter{0};  ///< each occurrence starts up to this much later
    bool paused = false;                  ///< added paused: no run until `resume`
    /// The first occurrence, instead of the trigger's first fire time after now
    /// (APScheduler's `next_run_time`); later ones follow the trigger from it. A stored
    /// schedule resuming where it was ignores it.
    std::optional<TimePoint> first_run;
};

/// What happened to a schedule's latest occurrence.
enum class ScheduleOutcome : std::uint8_t {
    none,
    running,
    succeeded,
    failed,
    cancelled,
    missed,
    skipped
};
std::string_view to_string(ScheduleOutcome outcome) noexcept;

/// A snapshot of one schedule, for listings (`GET /schedules`, the reference service's
/// `GET /jobs`).
struct ScheduleInfo {
    std::string id;
    std::string name;
    std::string trigger;      ///< the string form (`cron:0 9 * * *@Asia/Kolkata`)
    std::string description;  ///< "At 09:00 every day (Asia/Kolkata)"
    TimeZone zone;            ///< the trigger's zone (UTC for interval and date triggers)
    std::optional<TimePoint> next_run;  ///< the next start (jitter included); none when paused
    std::optional<TimePoint> last_run;  ///< the fire time of the last occurrence run
    ScheduleOutcome last_outcome = ScheduleOutcome::none;
    std::optional<std::string> last_error;
    bool paused = false;
    int running = 0;             ///< instances running now
    std::uint64_t runs = 0;      ///< instances started
    std::uint64_t failures = 0;  ///< instances that threw
    std::uint64_t missed = 0;    ///< occurrences past their misfire grace
    std::uint64_t skipped = 0;   ///< occurrences skipped at max instances
    std::chrono::milliseconds misfire_grace{0};
};

struct SchedulerOptions {
    std::shared_ptr<Clock> clock;           ///< default: `system_clock()`
    std::shared_ptr<ScheduleStore> store;   ///< default: none (schedules live in memory)
    std::string name = "scheduler";         ///< for logs
};

namespace detail {
struct SchedulerState;
}  // namespace detail

class Scheduler : public Service {
public:
    explicit Scheduler(SchedulerOptions options = {});
    /// Stops (without waiting).
    ~Scheduler() override;

    /// Adds a schedule. Fails with `duplicate_schedule` when the id is taken, `invalid_option`
    /// for an empty id or function, a negative grace or jitter or max_instances < 1; nothing
    /// changes then. A store that fails throws its own exception, and nothing changes either.
    /// May be called before `start`.
    [[nodiscard]] ScheduleResult<void> try_add(std::string name,
                                               Trigger trigger,
                                               RecurringFunction function,
                                               ScheduleOptions options = {});
    /// As `try_add`; throws `ScheduleError`.
    void add(std::string name,
             Trigger trigger,
             RecurringFunction function,
             ScheduleOptions options = {});
    /// Adds the schedule, or replaces the one with its id (its running instances go on; counts and
    /// last outcome carry over, the next run is computed afresh from the new trigger).
    void replace(std::string name,
                 Trigger trigger,
                 RecurringFunction function,
                 ScheduleOptions options = {});
    /// Removes a schedule (running instances go on); `unknown_schedule` when there is none.
    [[nodiscard]] ScheduleResult<void> try_remove(std::string_view id);
    void remove(std::string_view id);
    /// Pause: no occurrence fires (none is counted as missed) until `resume`, which plans the
    /// next occurrence after the current time. Both are no-ops when already in that state.
    [[nodiscard]] ScheduleResult<void> try_pause(std::string_view id);
    void pause(std::string_view id);
    [[nodiscard]] ScheduleResult<void> try_resume(std::string_view id);
    void resume(std::string_view id);

    /// The schedule with `id`, or nullopt.
    [[nodiscard]] std::optional<ScheduleInfo> find(std::string_view id) const;
    /// Every schedule, by next run (paused ones last), then id.
    [[nodiscard]] std::vector<ScheduleInfo> schedules() const;
    /// The number of schedules.
    std::size_t size() const;

    /// Starts firing on `executor` (one loop). Throws std::logic_error when started twice.
    void start(const Executor& executor);
    std::string_view service_name() const noexcept override;
    /// Stops firing and cancels running instances (reason `shutdown`). Idempotent.
    void request_stop() noexcept override;
    /// Requests the stop, then waits until the firing loop and every instance have ended
    /// (true) or `deadline` passes (false). True at once when never started.
    Task<bool> stop(std::chrono::steady_clock::time_point deadline) override;
    /// The blocking form of `stop`'s wait, for plain threads (after `request_stop`).
    bool wait_stopped(std::chrono::steady_clock::duration timeout);


private:
    [[nodiscard]] ScheduleResult<void> insert(std::string name,
                                              Trigger trigger,
                                              RecurringFunction function,
                                              ScheduleOptions options,
                                              bool replace_existing);
    std::shared_ptr<detail::SchedulerState> state_;
};

}  // namespace afterwork
