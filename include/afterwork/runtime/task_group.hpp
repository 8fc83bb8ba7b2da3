// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `TaskGroup`: owns coroutines spawned on any loop so they can be counted, waited for with a
/// deadline and cancelled together — the app's background tasks and its shutdown stand on it.
///
/// Nothing spawned is fire-and-forget: every task is listed until it ends, a failure is handed
/// to the group's error callback (by default logged), and a cancellation is not a failure.
/// Structured use: spawn the children, then `co_await group.join()` — it waits for all and
/// rethrows the first failure; with `cancel_on_failure`, the first failure also cancels the
/// others (as a Python TaskGroup does).
///
/// @par Thread safety
/// Thread-safe: spawn, wait, cancel and size may be called from any thread.
///
/// @par Lifetime
/// The group must outlive its tasks: wait for them (or cancel and wait) before destroying it.

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <afterwork/runtime/task.hpp>

namespace afterwork {

class TaskGroup {
public:
    /// Called on the task's loop when a task ends with an exception other than cancellation.
    using ErrorCallback = std::function<void(std::string_view task_name, std::exception_ptr)>;

    explicit TaskGroup(std::string name = "tasks", ErrorCallback on_error = {},
                       bool cancel_on_failure = false);
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    ~TaskGroup();

    /// Starts `task` on `executor` and tracks it until it ends. Throws `std::logic_error` after
    /// `close()`.
    void spawn(const Executor& executor, Task<void> task, std::string name = {});

    /// Refuses later spawns; running tasks go on.
    void close() noexcept;

    /// Asks every running task to stop: a terminal cancellation is emitted on each task's own
    /// loop, so its current suspension point ends with `operation_aborted`.
    void cancel_all() noexcept;

    /// Blocks a plain thread (never a loop thread of the group's tasks) until no task is left or
    /// `timeout` passes; true when empty.
    bool wait_for(std::chrono::steady_clock::duration timeout);

    /// From a coroutine: waits until no task is left, then (with `rethrow_first_failure`)
    /// rethrows the first failure of the group's tasks, if any.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the tasks go on.
    Task<void> join(bool rethrow_first_failure = true);

    /// The first failure (cancellations excluded) of any task so far; null if none.
    std::exception_ptr first_failure() const;

    std::size_t size() const noexcept;
    const std::string& name() const noexcept;

    struct State;  // internal, public only so its implementation file can name it

private:
    std::shared_ptr<State> state_;
};

}  // namespace afterwork
