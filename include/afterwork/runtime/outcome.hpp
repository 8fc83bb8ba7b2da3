// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The boundary between afterwork and user code: `run_guarded(task)` runs a background task, a
/// periodic or scheduled run, a supervised coroutine or a durable job's attempt to its end and
/// says how it ended — `succeeded`, `failed` (with the exception) or `cancelled` (with the
/// reason: shutdown, a time limit, a user's cancel, a lost lease, ...). Every part that runs
/// user code decides what to count, log, retry or restart from this one answer, so they all
/// sort out cancellation the same way.
///
/// How an exception is read: a cancellation of the running task (`operation_aborted` at a
/// suspension point) is `cancelled` with the task's cancel reason; the boundary's own time
/// limit passing first is `cancelled` with reason `deadline` (the run is cancelled and awaited
/// to its end first, as `with_timeout` does); anything else — a `timed_out` error of the
/// user's own code included — is `failed`.
///
/// @par Thread safety
/// `run_guarded` is awaited from a task; `RunOutcome` is a plain value.

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

/// How a run of user code ended.
enum class Outcome : std::uint8_t { succeeded, failed, cancelled };
std::string_view to_string(Outcome outcome) noexcept;

struct RunOutcome {
    Outcome outcome = Outcome::succeeded;
    std::exception_ptr error;                  ///< what it threw (failed and cancelled)
    CancelReason reason = CancelReason::none;  ///< cancelled: why; none when nobody here asked

    bool succeeded() const noexcept { return outcome == Outcome::succeeded; }
    bool failed() const noexcept { return outcome == Outcome::failed; }
    bool cancelled() const noexcept { return outcome == Outcome::cancelled; }
    /// failed: the exception's message; cancelled: "cancelled (<reason>)"; succeeded: empty.
    std::string message() const;
};

struct GuardOptions {
    /// At most this long; then the run is cancelled (reason `deadline`) and awaited.
    std::optional<std::chrono::steady_clock::duration> time_limit;
    Clock* clock = nullptr;  ///< what the limit is measured on; default `system_clock()`
};

namespace detail {
/// Waits for `task` until `deadline` (on `timers`; null: the steady clock's); on time or not,
/// returns only once it has ended. True when it ended before the deadline. A cancellation of
/// the caller is passed on to the task.
Task<bool> race_deadline(TaskCore& task, TimerQueue* timers, SteadyTime deadline);
/// Sorts out how a run that threw `error` in `task` ended.
RunOutcome classify(std::exception_ptr error, const TaskCore& task) noexcept;
/// The outcome of a run that its time limit ended.
RunOutcome timed_out() noexcept;

template <class T, class Keep>
Task<RunOutcome> guard(Task<T> task, Keep keep, GuardOptions options) {
    std::exception_ptr error;
    if (!options.time_limit) {
        try {
            if constexpr (std::is_void_v<T>) {
                co_await std::move(task);
            } else {
                auto value = co_await std::move(task);
                keep(std::move(value));
            }
        } catch (...) {
            error = std::current_exception();
        }
    } else {
        // Plain statements: written with a co_await inside an if condition and a co_return
        // inside the try block, this double-freed under g++ 12.
        Clock& clock = options.clock ? *options.clock : *system_clock();
        const auto deadline = clock.steady_now() + *options.time_limit;
        const Executor executor = co_await current_executor();
        // A task of its own, so the limit cancels the run and not the caller.
        TaskHandle<T> run = spawn(executor, std::move(task), SpawnOptions{.name = "time-limited run"});
        bool on_time = true;
        try {
            on_time = co_await race_deadline(run.core(), clock.timer_queue(), deadline);
            if (on_time) {
                if constexpr (std::is_void_v<T>) {
                    co_await run.wait_shielded();
                } else {
                    auto value = co_await run.wait_shielded();
                    keep(std::move(value));
                }
            }
        } catch (...) {
            error = std::current_exception();
        }
        if (!on_time) {
            static_cast<void>(run.error());  // its end after the limit is not a failure
            co_return timed_out();
        }
    }
    if (!error) co_return RunOutcome{};
    const TaskCore& self = co_await CurrentTask{};
    co_return classify(std::move(error), self);
}
}  // namespace detail

/// Runs `task` in the calling task and says how it ended; never throws. Completes when `task`
/// has ended; cancelling the caller cancels `task` (it ends `cancelled`).
[[nodiscard]] inline Task<RunOutcome> run_guarded(Task<void> task, GuardOptions options = {}) {
    return detail::guard(std::move(task), nullptr, options);
}

/// As `run_guarded(task)`, assigning the task's result to `result` when it succeeds (a
/// `std::optional<T>`, or anything a `T` can be assigned to; it must outlive the returned task).
template <class T, class Result>
    requires std::is_assignable_v<Result&, T&&>
[[nodiscard]] Task<RunOutcome> run_guarded(Task<T> task, Result& result, GuardOptions options = {}) {
    return detail::guard(std::move(task), [&result](T value) { result = std::move(value); },
                         options);
}

}  // namespace afterwork
