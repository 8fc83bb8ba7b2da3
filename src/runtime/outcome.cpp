// SPDX-License-Identifier: MIT
#include <afterwork/runtime/outcome.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace afterwork {

std::string_view to_string(Outcome outcome) noexcept {
    switch (outcome) {
        case Outcome::succeeded: return "succeeded";
        case Outcome::failed: return "failed";
        case Outcome::cancelled: return "cancelled";
    }
    return "unknown";
}

std::string RunOutcome::message() const {
    switch (outcome) {
        case Outcome::succeeded: return {};
        case Outcome::failed: return describe_exception(error);
        case Outcome::cancelled: return "cancelled (" + std::string(to_string(reason)) + ")";
    }
    return {};
}

namespace detail {

Task<bool> race_deadline(TaskCore& task, TimerQueue* timers, SteadyTime deadline) {
    bool on_time = true;
    std::exception_ptr cancelled;
    try {
        on_time = co_await task.until_done_before(timers, deadline, true) != Waiter::Outcome::timed_out;
    } catch (...) {
        cancelled = std::current_exception();  // the caller was cancelled
    }
    if (cancelled) {
        // So is the task it waits for: with the caller's reason, seen to its end first.
        TaskCore& caller = co_await CurrentTask{};
        task.cancel(caller.cancel_reason());
        co_await task.until_done(false);
        std::rethrow_exception(cancelled);
    }
    if (!on_time) {
        task.cancel(CancelReason::deadline);
        co_await task.until_done(false);
    }
    co_return on_time;
}

RunOutcome classify(std::exception_ptr error, const TaskCore& task) noexcept {
    RunOutcome result;
    if (is_cancellation(error)) {
        result.outcome = Outcome::cancelled;
        result.reason = task.cancel_reason();
    } else {
        result.outcome = Outcome::failed;
    }
    result.error = std::move(error);
    return result;
}

RunOutcome timed_out() noexcept {
    RunOutcome result;
    result.outcome = Outcome::cancelled;
    result.reason = CancelReason::deadline;
    try {
        throw boost::system::system_error(boost::asio::error::timed_out, "time limit");
    } catch (...) {
        result.error = std::current_exception();
    }
    return result;
}

}  // namespace detail

}  // namespace afterwork
