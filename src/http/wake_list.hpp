// SPDX-License-Identifier: MIT
#pragma once

// WakeList: wakes the tasks waiting for a condition on counters that other threads change —
// the server's "no connection left", the background runner's "no task left", a second signal's
// "stop waiting". Each waiter brings its own Event (in its frame), registers it, then tests the
// condition; whoever changes a counter in a way that may make a condition true calls
// `notify()`, which sets every registered Event. With one shared Event that each waiter clears
// before testing, a waiter could clear the wake-up meant for another; here no waiter touches
// another's Event, so any number may wait at once. `notify()` costs one atomic load while
// nobody waits.
//
// Thread-safe: every member may be called from any thread. Waits run in tasks (never parking a
// thread): they end with the condition, the deadline, or the waiting task's cancellation.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork::detail {

class WakeList {
public:
    WakeList() = default;
    WakeList(const WakeList&) = delete;
    WakeList& operator=(const WakeList&) = delete;

    /// Wakes every current waiter; call it after the change (a seq_cst write, or one under a
    /// lock the waiter's test also takes). A waiter that registered after this load of `count_`
    /// sees the change in its test: both sides are seq_cst.
    void notify() noexcept {
        if (count_.load() == 0) return;
        std::lock_guard lock(mutex_);
        for (Event* event : events_) event->set();
    }

    /// From a task: waits until `done()` holds or `deadline` passes; returns the last `done()`.
    /// `done` is called on the waiting task's loop, possibly several times.
    /// @par Cancellation
    /// Cancelling the waiting task ends the wait with operation_aborted.
    template <class Done>
    Task<bool> wait_until(std::chrono::steady_clock::time_point deadline, Done done) {
        Event woken;
        Registration registration(*this, woken);
        for (;;) {
            woken.clear();  // only this waiter clears its own event
            if (done()) co_return true;
            if (!co_await woken.wait_until(deadline)) co_return done();
        }
    }

private:
    // Registered for the waiter's whole wait; the removal takes the mutex `notify` holds while
    // it sets the events, so an event is never set after its frame is gone.
    struct Registration {
        WakeList& list;
        Event& event;
        Registration(WakeList& l, Event& e) : list(l), event(e) {
            std::lock_guard lock(list.mutex_);
            list.events_.push_back(&event);
            list.count_.fetch_add(1);
        }
        ~Registration() {
            std::lock_guard lock(list.mutex_);
            list.events_.erase(std::find(list.events_.begin(), list.events_.end(), &event));
            list.count_.fetch_sub(1);
        }
        Registration(const Registration&) = delete;
        Registration& operator=(const Registration&) = delete;
    };

    std::atomic<std::size_t> count_{0};
    std::mutex mutex_;
    std::vector<Event*> events_;
};

}  // namespace afterwork::detail
