// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `TaskGroup`: owns tasks spawned on any loop so they can be listed, counted, waited for with
/// a deadline and cancelled together — the app's background tasks, its own spawns, its
/// services' loops and its shutdown stand on it.
///
/// A member is the same task cell a `TaskHandle` holds (`spawn` returns one): nothing spawned
/// is fire-and-forget. Every task is listed until it ends, a failure is handed to the group's
/// error callback (by default logged), and a cancellation is not a failure. Structured use:
/// spawn the children, then `co_await group.join()` — it waits for all and rethrows the first
/// failure; with `cancel_on_failure`, the first failure also cancels the others (as a Python
/// TaskGroup does).
///
/// @par Thread safety
/// Thread-safe: every member function may be called from any thread.
///
/// @par Lifetime
/// Members keep what they share with the group alive, so destroying a group with tasks still
/// running is safe (it logs a warning); it neither waits for them nor cancels them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

namespace detail {
class TaskGroupState;
}

/// One member of a group, as listed.
struct TaskInfo {
    std::uint64_t id = 0;
    std::string name;
    TaskState state = TaskState::pending;
    CancelReason cancel_reason = CancelReason::none;
};

class TaskGroup {
public:
    /// Called on the task's loop when a task ends with an exception other than cancellation.
    using ErrorCallback = std::function<void(std::string_view task_name, std::exception_ptr)>;

    explicit TaskGroup(std::string name = "tasks", ErrorCallback on_error = {},
                       bool cancel_on_failure = false);
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    ~TaskGroup();

    /// Starts `task` on `executor` and tracks it until it ends; the handle may be dropped.
    /// Throws `std::logic_error` after `close()`.
    template <class T>
    TaskHandle<T> spawn(const Executor& executor, Task<T> task, std::string name = {}) {
        detail::CellRef<detail::TaskCell<T>> cell(
            new detail::TaskCell<T>(executor, std::move(name)));
        cell->join_group(*state_);
        cell->launch(task.release());
        return TaskHandle<T>(std::move(cell));
    }

    /// Calls `callback` (on the loop of the task that ended, under no lock) whenever the last
    /// task of the group ends — for owners that wait in their own way. Set it before spawning.
    void on_empty(std::function<void()> callback);

    /// Refuses later spawns; running tasks go on.
    void close() noexcept;
    bool closed() const noexcept;

    /// Asks every running task to stop: each one's current suspension point ends with
    /// `operation_aborted`, on the task's own loop.
    void cancel_all(CancelReason reason = CancelReason::user) noexcept;

    /// From a coroutine: waits until no task is left, then (with `rethrow_first_failure`)
    /// rethrows the first failure of the group's tasks, if any.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the tasks go on.
    Task<void> join(bool rethrow_first_failure = true);

    /// From a coroutine: waits until no task is left or `deadline` passes; true when empty.
    /// Failures are not rethrown.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the tasks go on.
    Task<bool> join_until(std::chrono::steady_clock::time_point deadline);

    /// Blocks a plain thread (never a loop thread of the group's tasks) until no task is left
    /// or `timeout` passes; true when empty.
    bool wait_for(std::chrono::steady_clock::duration timeout);

    /// The first failure (cancellations excluded) of any task so far; null if none.
    std::exception_ptr first_failure() const;

    std::size_t size() const noexcept;
    /// The running members, newest first.
    std::vector<TaskInfo> tasks() const;
    const std::string& name() const noexcept;

private:
    detail::TaskGroupState* state_;
};

}  // namespace afterwork
