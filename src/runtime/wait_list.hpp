// SPDX-License-Identifier: MIT
#pragma once

// WaitList: coroutines waiting for something a thread-safe object announces (a task's end, a
// task group becoming empty). Each waiter sleeps on a timer of its own loop; `wake_all`
// cancels those timers from handlers posted to the waiters' loops, so a waiter resumes where
// it waits. Not synchronised itself: the owner calls `add` and `wake_all` under its mutex.

#include <memory>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include <afterwork/runtime/task.hpp>

namespace afterwork::detail {

class WaitList {
public:
    struct Waiter {
        explicit Waiter(const Executor& executor)
            : timer(executor, boost::asio::steady_timer::time_point::max()) {}
        boost::asio::steady_timer timer;
        boost::system::error_code ignored;  // the wait's outcome: the caller re-checks instead
    };

    /// Registers a waiter on `executor`; the caller awaits `sleep(*waiter, ...)` next, on that
    /// executor, before it suspends anywhere else.
    std::shared_ptr<Waiter> add(const Executor& executor);
    /// Wakes every waiter registered so far.
    void wake_all();
    /// Sleeps until woken. With `cancellable`, a cancellation of the caller ends the sleep
    /// too; the caller tells the two apart by re-checking its condition. Not a coroutine of
    /// its own (no frame): the caller keeps `waiter` alive until the returned task is done.
    static Task<void> sleep(Waiter& waiter, bool cancellable);

private:
    std::vector<std::weak_ptr<Waiter>> waiters_;
};

}  // namespace afterwork::detail
