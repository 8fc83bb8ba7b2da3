// SPDX-License-Identifier: MIT
#include <afterwork/runtime/recurring.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/sleep.hpp>

namespace afterwork {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

namespace detail {
// The status both loops publish; read by `status()` from any thread.
struct RecurringState {
    mutable std::mutex mutex;
    RecurringStatus status;

    template <class Update>
    void update(Update&& change) {
        std::lock_guard lock(mutex);
        change(status);
    }
};
}  // namespace detail

namespace {

SystemClock::time_point wall_time(SteadyClock::time_point when) {
    return SystemClock::now() +
           std::chrono::duration_cast<SystemClock::duration>(when - SteadyClock::now());
}

// Runs one attempt; returns its failure, or rethrows a cancellation (the loop then ends).
Task<std::exception_ptr> run_once(const RecurringFunction& function) {
    std::exception_ptr error;
    try {
        co_await function();
    } catch (...) {
        error = std::current_exception();
    }
    if (is_cancellation(error)) std::rethrow_exception(error);
    co_return error;
}

Task<void> periodic_loop(std::shared_ptr<detail::RecurringState> state,
                         std::chrono::milliseconds interval, RecurringFunction function,
                         PeriodicOptions options) {
    std::mt19937_64 random{std::random_device{}()};
    const auto start = SteadyClock::now() + options.initial_delay;
    std::uint64_t slot = 0;
    for (;;) {
        auto due = start + slot * interval;
        if (options.jitter.count() > 0) {
            due += std::chrono::milliseconds(
                std::uniform_int_distribution<long>(0, options.jitter.count())(random));
        }
        state->update([&](RecurringStatus& s) {
            s.state = "scheduled";
            s.next_run = wall_time(due);
        });
        if (auto wait = due - SteadyClock::now(); wait > SteadyClock::duration::zero()) {
            co_await sleep_for(wait);
        }
        state->update([&](RecurringStatus& s) {
            s.state = "running";
            ++s.runs;
            s.last_run = SystemClock::now();
        });
        auto error = co_await run_once(function);
        if (error) {
            auto message = describe_exception(error);
            spdlog::error("periodic task {} failed: {}", state->status.name, message);
            state->update([&](RecurringStatus& s) {
                ++s.failures;
                s.last_error = message;
            });
        }
        // Fixed rate: the next slot in the future. Slots a long run overran are skipped,
        // never run back to back.
        const auto now = SteadyClock::now();
        std::uint64_t next = slot + 1;
        if (start + next * interval <= now) {
            const auto behind = static_cast<std::uint64_t>((now - start) / interval);
            const std::uint64_t skipped = behind + 1 - next;
            next = behind + 1;
            state->update([&](RecurringStatus& s) { s.skipped += skipped; });
            spdlog::warn("periodic task {} overran its interval: skipped {} run(s)",
                         state->status.name, skipped);
        }
        slot = next;
    }
}

Task<void> supervise_loop(std::shared_ptr<detail::RecurringState> state,
                          RecurringFunction factory, SupervisorOptions options) {
    std::deque<SteadyClock::time_point> recent_crashes;
    int consecutive = 0;
    for (;;) {
        state->update([&](RecurringStatus& s) {
            s.state = "running";
            ++s.runs;
            s.last_run = SystemClock::now();
            s.next_run.reset();
        });
        const auto started = SteadyClock::now();
        auto error = co_await run_once(factory);
        if (!error) {
            state->update([](RecurringStatus& s) { s.state = "completed"; });
            co_return;
        }
        const auto message = describe_exception(error);
        const auto now = SteadyClock::now();
        if (now - started >= options.healthy_after) consecutive = 0;
        ++consecutive;
        recent_crashes.push_back(now);
        while (!recent_crashes.empty() && now - recent_crashes.front() > options.within) {
            recent_crashes.pop_front();
        }
        state->update([&](RecurringStatus& s) {
            ++s.failures;
            s.last_error = message;
        });
        if (static_cast<int>(recent_crashes.size()) > options.max_restarts) {
            spdlog::error("supervised task {} crashed {} times within {} ms: giving up ({})",
                          state->status.name, recent_crashes.size(), options.within.count(),
                          message);
            state->update([](RecurringStatus& s) { s.state = "failed"; });
            co_return;
        }
        const double factor = std::pow(options.multiplier, consecutive - 1);
        const auto backoff = std::chrono::milliseconds(static_cast<long>(std::min<double>(
            static_cast<double>(options.max_backoff.count()),
            static_cast<double>(options.initial_backoff.count()) * factor)));
        spdlog::warn("supervised task {} crashed: {}; restarting in {} ms", state->status.name,
                     message, backoff.count());
        state->update([&](RecurringStatus& s) {
            s.state = "backing_off";
            s.next_run = wall_time(now + backoff);
        });
        co_await sleep_for(backoff);
        state->update([](RecurringStatus& s) { ++s.restarts; });
    }
}

// The loop's final word: stopped unless it already ended as completed or failed.
Task<void> until_stopped(std::shared_ptr<detail::RecurringState> state, Task<void> loop) {
    try {
        co_await std::move(loop);
    } catch (...) {
        auto error = std::current_exception();
        state->update([](RecurringStatus& s) {
            s.state = "stopped";
            s.next_run.reset();
        });
        std::rethrow_exception(error);
    }
}

std::shared_ptr<detail::RecurringState> make_state(std::string name, const char* kind,
                                                   std::chrono::milliseconds interval) {
    auto state = std::make_shared<detail::RecurringState>();
    state->status.name = std::move(name);
    state->status.kind = kind;
    state->status.state = "scheduled";
    state->status.interval = interval;
    return state;
}

Task<void> run_plain(std::shared_ptr<std::function<void()>> function) {
    auto call = [function] { (*function)(); };
    co_await to_thread(std::move(call));
}

}  // namespace

RecurringFunction blocking(std::function<void()> function) {
    auto shared = std::make_shared<std::function<void()>>(std::move(function));
    return [shared] { return run_plain(shared); };
}

RecurringTask::RecurringTask(const Executor& executor, detail::RecurringStart start)
    : state_(std::move(start.state)) {
    SpawnOptions options;
    options.name = state_->status.name;
    loop_ = spawn(executor, until_stopped(state_, std::move(start.loop)), std::move(options));
}

RecurringTask::RecurringTask(RecurringTask&&) noexcept = default;
RecurringTask& RecurringTask::operator=(RecurringTask&&) noexcept = default;
RecurringTask::~RecurringTask() { request_stop(); }

RecurringStatus RecurringTask::status() const {
    std::lock_guard lock(state_->mutex);
    return state_->status;
}

std::string_view RecurringTask::service_name() const noexcept {
    return state_ ? std::string_view(state_->status.name) : std::string_view();
}

void RecurringTask::request_stop() noexcept {
    if (loop_) loop_.cancel(CancelReason::shutdown);
}

Task<bool> RecurringTask::stop(std::chrono::steady_clock::time_point deadline) {
    request_stop();
    if (!loop_) co_return true;
    co_return co_await loop_.wait_until(deadline);
}

bool RecurringTask::wait_stopped(std::chrono::steady_clock::duration timeout) {
    return !loop_ || loop_.wait_for(timeout);
}

namespace {

detail::RecurringStart start_periodic(const std::string& name,
                                     std::chrono::milliseconds interval,
                                     RecurringFunction function, const PeriodicOptions& options) {
    if (interval.count() <= 0) {
        throw std::invalid_argument("periodic task " + name + ": the interval must be positive");
    }
    if (options.initial_delay.count() < 0 || options.jitter.count() < 0) {
        throw std::invalid_argument("periodic task " + name +
                                    ": initial delay and jitter cannot be negative");
    }
    if (!function) throw std::invalid_argument("periodic task " + name + ": no function");
    auto state = make_state(name, "periodic", interval);
    auto loop = periodic_loop(state, interval, std::move(function), options);
    return {std::move(state), std::move(loop)};
}

detail::RecurringStart start_supervised(const std::string& name, RecurringFunction factory,
                                       const SupervisorOptions& options) {
    if (!factory) throw std::invalid_argument("supervisor " + name + ": no factory");
    if (options.initial_backoff.count() <= 0 || options.max_backoff < options.initial_backoff ||
        options.multiplier < 1.0 || options.max_restarts < 0 || options.within.count() <= 0 ||
        options.healthy_after.count() < 0) {
        throw std::invalid_argument(
            "supervisor " + name +
            ": backoffs must be positive (max >= initial), multiplier >= 1, limits >= 0");
    }
    auto state = make_state(name, "supervised", std::chrono::milliseconds(0));
    auto loop = supervise_loop(state, std::move(factory), options);
    return {std::move(state), std::move(loop)};
}

}  // namespace

PeriodicTask::PeriodicTask(const Executor& executor, std::string name,
                           std::chrono::milliseconds interval, RecurringFunction function,
                           PeriodicOptions options)
    : RecurringTask(executor, start_periodic(name, interval, std::move(function), options)) {}

Supervisor::Supervisor(const Executor& executor, std::string name, RecurringFunction factory,
                       SupervisorOptions options)
    : RecurringTask(executor, start_supervised(name, std::move(factory), options)) {}

}  // namespace afterwork
