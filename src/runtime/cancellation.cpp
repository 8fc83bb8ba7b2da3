// SPDX-License-Identifier: MIT
#include <afterwork/runtime/cancellation.hpp>

namespace afterwork::detail {

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

}  // namespace afterwork::detail
