// SPDX-License-Identifier: MIT
#pragma once

// The runtime's suspension machinery, visible in headers only because the nodes live in the
// waiting coroutine's frame (a wait allocates nothing). Not for users.
//
// - `Suspension`: what a suspended task waits at, asked by a cancellation to end the wait.
// - `TimerNode` / `TimerQueue`: a deadline in a heap; the system clock keeps one queue per
//   execution context (armed with one Asio timer), a manual clock keeps its own.
// - `Waiter` / `WaitQueue`: a coroutine waiting until an owner (an event, a task's end, a
//   group becoming empty) wakes it, optionally with a deadline. Whoever resolves a waiter
//   first — the owner's wake-up, the deadline or a cancellation — claims it; the others do
//   nothing. A waiter always resumes on its own task's executor.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include <afterwork/runtime/task.hpp>

namespace afterwork::detail {

// A function pointer rather than a virtual function: the awaiters that embed it are plain,
// non-polymorphic objects in coroutine frames.
class Suspension {
public:
    /// On the task's loop: ends the wait with operation_aborted (a no-op if it already ended).
    void cancel() noexcept { cancel_(*this); }

protected:
    using Cancel = void (*)(Suspension&) noexcept;
    explicit Suspension(Cancel cancel) noexcept : cancel_(cancel) {}
    ~Suspension() = default;
    Suspension(const Suspension&) = default;
    Suspension& operator=(const Suspension&) = default;

private:
    Cancel cancel_;
};

/// Marks `suspension` as where `task` waits (null: nowhere); on the task's loop.
void set_suspension(TaskCore& task, Suspension* suspension) noexcept;
/// True once the task was asked to stop (sticky).
bool cancel_requested(const TaskCore& task) noexcept;
/// Resumes `handle` on the task's executor (a post: never inline), from any thread.
void resume_on(TaskCore& task, std::coroutine_handle<> handle);
/// The exception a cancelled wait ends with.
[[noreturn]] void throw_cancelled(const char* what);

using SteadyTime = std::chrono::steady_clock::time_point;

struct TimerNode {
    static constexpr std::size_t kNotQueued = static_cast<std::size_t>(-1);
    SteadyTime deadline{};
    std::size_t index = kNotQueued;       // position in the heap; guarded by the queue's lock
    void (*fire)(TimerNode&) noexcept = nullptr;  // called under the queue's lock
};

/// A heap of timer nodes. Thread-safe. `fire` runs under the queue's lock, so a node that is
/// removed (by its owner, under the lock) is never fired afterwards.
class TimerQueue {
public:
    TimerQueue() = default;
    TimerQueue(const TimerQueue&) = delete;
    TimerQueue& operator=(const TimerQueue&) = delete;
    virtual ~TimerQueue() = default;

    /// The time this queue's deadlines are measured in.
    virtual SteadyTime now() const noexcept = 0;

    void add(TimerNode& node);
    /// Removes `node` if it is queued; true when it was.
    bool remove(TimerNode& node) noexcept;
    std::size_t size() const noexcept;

protected:
    /// Fires (and removes) every node due at `now`; returns the earliest deadline left.
    std::optional<SteadyTime> fire_due(SteadyTime now) noexcept;
    /// Called (under no lock) after `add` put a node first, so a real timer can be re-armed.
    virtual void earliest_changed(SteadyTime deadline) = 0;
    /// Called (under no lock) after `remove` took the last node: a real timer stops waiting,
    /// so an idle loop holds no timer work.
    virtual void became_empty() {}

private:
    void sift_up(std::size_t index) noexcept;
    void sift_down(std::size_t index) noexcept;
    void erase_at(std::size_t index) noexcept;

    mutable std::mutex mutex_;
    std::vector<TimerNode*> heap_;
};

/// The timer queue of the system clock for the execution context of `executor`.
TimerQueue& system_timers(const Executor& executor);

class Waiter;

/// An intrusive list of waiters, guarded by its owner's mutex (given at construction).
class WaitQueue {
public:
    explicit WaitQueue(std::mutex& lock) noexcept : lock_(&lock) {}
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;

    std::mutex& lock() const noexcept { return *lock_; }
    bool empty() const noexcept { return first_ == nullptr; }
    /// Under the lock: claims every waiter as woken and resumes each on its executor.
    void wake_all() noexcept;

private:
    friend class Waiter;
    void push(Waiter& waiter) noexcept;
    void erase(Waiter& waiter) noexcept;

    std::mutex* lock_;
    Waiter* first_ = nullptr;
    Waiter* last_ = nullptr;
};

/// One coroutine waiting on a `WaitQueue`. Used as an awaiter:
/// `co_await Waiter(queue, ready, owner, cancellable)` suspends unless `ready(owner)` holds
/// (checked under the queue's lock) and returns how the wait ended; a cancelled wait throws
/// operation_aborted instead.
class Waiter : public Suspension, private TimerNode {
public:
    enum class Outcome : std::uint8_t { pending, ready, woken, timed_out, cancelled };
    using Ready = bool (*)(const void* owner) noexcept;

    Waiter(WaitQueue& queue, Ready ready, const void* owner, bool cancellable) noexcept
        : Suspension(&Waiter::cancel_wait), queue_(&queue), ready_(ready), owner_(owner), cancellable_(cancellable) {}
    /// With a deadline on `timers`: the wait ends `timed_out` when it passes first.
    Waiter(WaitQueue& queue, Ready ready, const void* owner, bool cancellable,
           TimerQueue& timers, SteadyTime deadline) noexcept
        : Suspension(&Waiter::cancel_wait), queue_(&queue), ready_(ready), owner_(owner), timers_(&timers),
          cancellable_(cancellable) {
        this->deadline = deadline;
    }
    /// A sleep: no queue, only the deadline.
    Waiter(TimerQueue& timers, SteadyTime deadline, bool cancellable) noexcept
        : Suspension(&Waiter::cancel_wait), queue_(nullptr), ready_(nullptr), owner_(nullptr), timers_(&timers),
          cancellable_(cancellable) {
        this->deadline = deadline;
    }
    /// With a deadline of the system clock (the timers of the waiting task's context).
    Waiter(WaitQueue* queue, Ready ready, const void* owner, bool cancellable,
           SteadyTime deadline) noexcept
        : Suspension(&Waiter::cancel_wait), queue_(queue), ready_(ready), owner_(owner), cancellable_(cancellable),
          system_deadline_(true) {
        this->deadline = deadline;
    }
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    ~Waiter();

    bool await_ready() const noexcept { return false; }
    template <TaskPromise P>
    bool await_suspend(std::coroutine_handle<P> self) {
        return suspend(*self.promise().task, self);
    }
    /// `ready` (it held at once), `woken` or `timed_out`; throws when cancelled.
    Outcome await_resume();

private:
    friend class WaitQueue;
    bool suspend(TaskCore& task, std::coroutine_handle<> handle);
    bool claim(Outcome outcome) noexcept;
    static void cancel_wait(Suspension& self) noexcept;
    static void on_deadline(TimerNode& node) noexcept;

    WaitQueue* queue_;  // null for a sleep
    Ready ready_;
    const void* owner_;
    TimerQueue* timers_ = nullptr;
    TaskCore* task_ = nullptr;
    std::coroutine_handle<> handle_;
    Waiter* previous_ = nullptr;  // queue links: guarded by the queue's lock
    Waiter* next_ = nullptr;
    std::atomic<Outcome> outcome_{Outcome::pending};
    bool linked_ = false;  // guarded by the queue's lock
    bool resumed_ = false;  // await_resume ran: nobody else uses the node any more
    bool cancellable_;
    bool system_deadline_ = false;  // timers_ is the task context's, found when suspending
};

}  // namespace afterwork::detail
