// SPDX-License-Identifier: MIT
#include <afterwork/runtime/recurring.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/outcome.hpp>
#include <afterwork/runtime/sleep.hpp>

namespace afterwork {

std::string_view to_string(RecurringState state) noexcept {
    switch (state) {
        case RecurringState::scheduled: return "scheduled";
        case RecurringState::running: return "running";
        case RecurringState::backing_off: return "backing_off";
        case RecurringState::failed: return "failed";
        case RecurringState::completed: return "completed";
        case RecurringState::stopped: return "stopped";
    }
    return "unknown";
}

std::string_view to_string(RecurringKind kind) noexcept {
    return kind == RecurringKind::periodic ? "periodic" : "supervised";
}

namespace detail {
// The status the loop publishes; read by `status()` from any thread.
struct SupervisorState {
    std::shared_ptr<Clock> clock;
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

using StatePtr = std::shared_ptr<detail::SupervisorState>;

Task<void> supervise_loop(StatePtr state, RecurringFunction factory, SupervisorOptions options) {
    Clock& clock = *state->clock;
    std::deque<SteadyTime> recent_crashes;
    int consecutive = 0;
    for (;;) {
        state->update([&](RecurringStatus& s) {
            s.state = RecurringState::running;
            ++s.runs;
            s.last_run = clock.now();
            s.next_run.reset();
        });
        const auto started = clock.steady_now();
        const RunOutcome run = co_await run_guarded(factory());
        if (run.succeeded()) {
            state->update([](RecurringStatus& s) { s.state = RecurringState::completed; });
            co_return;
        }
        // Stopped: the loop ends with the cancellation (until_stopped records it).
        if (run.cancelled()) std::rethrow_exception(run.error);
        const auto message = run.message();
        const auto now = clock.steady_now();
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
            state->update([](RecurringStatus& s) { s.state = RecurringState::failed; });
            co_return;
        }
        const double factor = std::pow(options.multiplier, consecutive - 1);
        const auto backoff = std::chrono::milliseconds(static_cast<long>(std::min<double>(
            static_cast<double>(options.max_backoff.count()),
            static_cast<double>(options.initial_backoff.count()) * factor)));
        spdlog::warn("supervised task {} crashed: {}; restarting in {} ms", state->status.name,
                     message, backoff.count());
        state->update([&](RecurringStatus& s) {
            s.state = RecurringState::backing_off;
            s.next_run = clock.now() + backoff;
        });
        co_await sleep_for(clock, backoff);
        state->update([](RecurringStatus& s) { ++s.restarts; });
    }
}

// The loop's final word: stopped unless it already ended as completed or failed.
Task<void> until_stopped(StatePtr state, Task<void> loop) {
    try {
        co_await std::move(loop);
    } catch (...) {
        auto error = std::current_exception();
        state->update([](RecurringStatus& s) {
            s.state = RecurringState::stopped;
            s.next_run.reset();
        });
        std::rethrow_exception(error);
    }
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

Supervisor::Supervisor(const Executor& executor, std::string name, RecurringFunction factory,
                       SupervisorOptions options)
    : state_(std::make_shared<detail::SupervisorState>()) {
    if (!factory) throw std::invalid_argument("supervisor " + name + ": no factory");
    if (options.initial_backoff.count() <= 0 || options.max_backoff < options.initial_backoff ||
        options.multiplier < 1.0 || options.max_restarts < 0 || options.within.count() <= 0 ||
        options.healthy_after.count() < 0) {
        throw std::invalid_argument(
            "supervisor " + name +
            ": backoffs must be positive (max >= initial), multiplier >= 1, limits >= 0");
    }
    state_->clock = options.clock ? options.clock : system_clock();
    state_->status.name = name;
    state_->status.kind = RecurringKind::supervised;
    state_->status.state = RecurringState::scheduled;
    auto loop = supervise_loop(state_, std::move(factory), std::move(options));
    loop_ = spawn(executor, until_stopped(state_, std::move(loop)),
                  SpawnOptions{.name = std::move(name)});
}

Supervisor::Supervisor(Supervisor&&) noexcept = default;
Supervisor& Supervisor::operator=(Supervisor&&) noexcept = default;
Supervisor::~Supervisor() { request_stop(); }

RecurringStatus Supervisor::status() const {
    std::lock_guard lock(state_->mutex);
    return state_->status;
}

std::string_view Supervisor::service_name() const noexcept {
    return state_ ? std::string_view(state_->status.name) : std::string_view();
}

void Supervisor::request_stop() noexcept {
    if (loop_) loop_.cancel(CancelReason::shutdown);
}

Task<bool> Supervisor::stop(std::chrono::steady_clock::time_point deadline) {
    request_stop();
    if (!loop_) co_return true;
    co_return co_await loop_.wait_until(deadline);
}

bool Supervisor::wait_stopped(std::chrono::steady_clock::duration timeout) {
    return !loop_ || loop_.wait_for(timeout);
}

}  // namespace afterwork
