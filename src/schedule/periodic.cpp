// SPDX-License-Identifier: MIT
#include <afterwork/schedule/periodic.hpp>

#include <atomic>
#include <stdexcept>

#include <afterwork/schedule/scheduler.hpp>

namespace afterwork {

struct PeriodicTask::State {
    State(std::string task_name, std::chrono::milliseconds every, std::shared_ptr<Clock> clock)
        : name(std::move(task_name)), interval(every),
          scheduler(SchedulerOptions{.clock = std::move(clock), .store = nullptr, .name = name}) {}

    std::string name;
    std::chrono::milliseconds interval;
    Scheduler scheduler;
    std::atomic<bool> stopped{false};
};

PeriodicTask::PeriodicTask(const Executor& executor, std::string name,
                           std::chrono::milliseconds interval, RecurringFunction function,
                           PeriodicOptions options) {
    if (interval.count() <= 0) {
        throw std::invalid_argument("periodic task " + name + ": the interval must be positive");
    }
    if (options.initial_delay.count() < 0 || options.jitter.count() < 0) {
        throw std::invalid_argument("periodic task " + name +
                                    ": initial delay and jitter cannot be negative");
    }
    if (!function) throw std::invalid_argument("periodic task " + name + ": no function");
    auto clock = options.clock ? options.clock : system_clock();
    const TimePoint start = clock->now() + options.initial_delay;
    state_ = std::make_unique<State>(name, interval, std::move(clock));
    // Anchored at the start, so the cadence never drifts; the first run is the start itself.
    // A grace of one interval: a late start still runs unless the next one is due already.
    state_->scheduler.add(name, IntervalTrigger(interval, start), std::move(function),
                          ScheduleOptions{.id = name,
                                          .misfire_grace = interval,
                                          .coalesce = true,
                                          .max_instances = 1,
                                          .jitter = options.jitter,
                                          .paused = false,
                                          .first_run = start});
    state_->scheduler.start(executor);
}

PeriodicTask::PeriodicTask(PeriodicTask&&) noexcept = default;
PeriodicTask& PeriodicTask::operator=(PeriodicTask&&) noexcept = default;
PeriodicTask::~PeriodicTask() = default;  // the scheduler stops without waiting

RecurringStatus PeriodicTask::status() const {
    RecurringStatus status;
    status.name = state_->name;
    status.kind = RecurringKind::periodic;
    status.interval = state_->interval;
    const bool stopped = state_->stopped.load();
    auto info = state_->scheduler.find(state_->name);
    if (!info) {
        status.state = RecurringState::stopped;
        return status;
    }
    status.state = stopped            ? RecurringState::stopped
                   : info->running > 0 ? RecurringState::running
                                       : RecurringState::scheduled;
    status.runs = info->runs;
    status.failures = info->failures;
    // Starts that came during a run and starts found too late are both runs that did not
    // happen in their slot.
    status.skipped = info->skipped + info->missed;
    status.last_error = info->last_error;
    status.last_run = info->last_run;
    if (!stopped) status.next_run = info->next_run;
    return status;
}

std::string_view PeriodicTask::service_name() const noexcept {
    return state_ ? std::string_view(state_->name) : std::string_view();
}

void PeriodicTask::request_stop() noexcept {
    if (!state_) return;
    state_->stopped = true;
    state_->scheduler.request_stop();
}

Task<bool> PeriodicTask::stop(std::chrono::steady_clock::time_point deadline) {
    request_stop();
    if (!state_) co_return true;
    co_return co_await state_->scheduler.stop(deadline);
}

bool PeriodicTask::wait_stopped(std::chrono::steady_clock::duration timeout) {
    return !state_ || state_->scheduler.wait_stopped(timeout);
}

}  // namespace afterwork
