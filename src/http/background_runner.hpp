// SPDX-License-Identifier: MIT
#pragma once

// BackgroundRunner: runs the BackgroundTasks of answered requests — coroutines on the
// request's loop, plain functions on its own blocking pool — and owns the app's tracked tasks
// (`App::spawn`); keeps the counters of `App::background_stats`.
//
// A Service, second in the app's shutdown (after the server, whose last requests still hand it
// tasks): `request_stop` closes its gate, so later tasks are refused (and counted abandoned)
// and `App::spawn` throws; `stop(deadline)` waits until no task is queued or running, then
// cancels what still runs (reason shutdown), drops what never started (abandoned) and gives
// the cancellations a short bounded wait.
//
// Thread safety: thread-safe, except `start` and `release`, which the app calls from its own
// thread at its start and end, while no task runs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <afterwork/http/app.hpp>
#include <afterwork/http/background_tasks.hpp>
#include <afterwork/runtime/blocking_pool.hpp>
#include <afterwork/runtime/service.hpp>
#include <afterwork/runtime/task_group.hpp>

#include "http/wake_list.hpp"

namespace afterwork::detail {

struct Route;

struct BackgroundCounters {
    std::atomic<std::uint64_t> scheduled{0};
    std::atomic<std::uint64_t> succeeded{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> abandoned{0};
    std::atomic<std::uint64_t> pending{0};  // seq_cst: waiters test it (see WakeList)
};

class BackgroundRunner final : public Service {
public:
    using Clock = std::chrono::steady_clock;

    /// `jobs` gives the app's job queue to `BackgroundTasks::enqueue`.
    explicit BackgroundRunner(std::function<Queue&()> jobs);

    /// Creates the pool (`threads` threads) and sets the gate's limit of pending tasks.
    void start(std::size_t threads, std::size_t queue_limit);
    /// Destroys the pool and the group of coroutine tasks, after the loops stopped.
    void release() noexcept;

    /// What a request's BackgroundTasks checks its tasks against.
    const BackgroundGate* gate() const noexcept { return &gate_; }
    /// The tasks of `App::spawn`.
    TaskGroup& spawned() noexcept { return spawned_; }
    BackgroundStats stats() const noexcept;

    /// Runs `entries` (the tasks of one answered request) in order: plain functions only go to
    /// the pool in one item, anything else runs as a coroutine on `executor`. After the gate
    /// closed, or when the pool's queue is full, they are abandoned (counted and logged).
    void schedule(BackgroundTasks::Entries entries, const Executor& executor,
                  std::string request_id, const Route* route);
    /// Counts tasks a failed handler added, which never run.
    void count_dropped(std::uint64_t count) noexcept {
        counters_.dropped.fetch_add(count, std::memory_order_relaxed);
    }

    /// From a task: waits until no background task is queued or running (App::spawn ones do
    /// not count), or `deadline`; true then. Any number of waiters.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted.
    Task<bool> wait_tasks_done(Clock::time_point deadline);
    bool tasks_done() const noexcept { return counters_.pending.load() == 0; }
    /// No background task and no App::spawn task left.
    bool idle() const noexcept { return tasks_done() && spawned_.size() == 0; }

    std::string_view service_name() const noexcept override { return "background tasks"; }
    /// Closes the gate: no new task is accepted. Tasks already accepted go on. Returns at once.
    void request_stop() noexcept override;
    /// Requests the stop, waits until idle or `deadline` (or `hurry`), then cancels the tasks
    /// still running (reason shutdown: they see operation_aborted and clean up), drops the
    /// plain ones not started (abandoned), and waits up to 5 s more; true when idle.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the stop goes on.
    Task<bool> stop(Clock::time_point deadline) override;
    /// A second signal: a stop in progress, or a later one, stops waiting for the tasks and
    /// cancels them at once (they still get their short wait to clean up).
    void hurry() noexcept;

    // For the batches that run the tasks (background_runner.cpp).
    BackgroundCounters& counters() noexcept { return counters_; }
    BlockingPool& pool() noexcept { return *pool_; }
    /// Marks `count` tasks as ended.
    void finish(std::uint64_t count) noexcept {
        if (counters_.pending.fetch_sub(count) == count) idle_waiters_.notify();
    }

private:
    BackgroundCounters counters_;
    BackgroundGate gate_;
    std::unique_ptr<BlockingPool> pool_;   // set by start, read-only until release
    std::unique_ptr<TaskGroup> group_;     // the coroutine tasks; same
    TaskGroup spawned_{"app"};             // App::spawn
    std::atomic<bool> closed_{false};
    std::atomic<bool> hurry_{false};
    WakeList idle_waiters_;  // notified when pending reaches 0, `spawned_` empties, and by hurry
};

}  // namespace afterwork::detail
