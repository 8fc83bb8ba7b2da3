// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `spawn(executor, task)` starts a coroutine and returns a `TaskHandle`: its id, name and
/// state, `cancel()`, and its result or exception, awaited from any coroutine or waited for
/// from a plain thread — `asyncio.create_task` and `run_coroutine_threadsafe` in one type.
///
/// States: `pending` (spawned, not started) → `running` → `succeeded` | `failed` |
/// `cancelled`. A task cancelled before it starts goes straight to `cancelled` without
/// running; cancelling a finished task does nothing and returns false.
///
/// A task's exception is never lost: if it failed and nobody observed the failure (`wait`,
/// `get`, `error`) by the time the last handle is gone, it is logged and counted
/// (`unobserved_failures()`), as asyncio's "Task exception was never retrieved".
///
/// @par Cancellation
/// `cancel()` emits a terminal cancellation on the task's own loop: its current or next
/// suspension point ends with `operation_aborted`, which the code can catch to clean up (and
/// should rethrow). Awaiting a cancelled task throws `operation_aborted` too. Cancelling a
/// coroutine that awaits `wait()` ends that wait, not the task it waits for.
///
/// @par Thread safety
/// Thread-safe: a handle may be copied to and used from any thread and any loop.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/asio/cancellation_signal.hpp>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

enum class TaskState : std::uint8_t { pending, running, succeeded, failed, cancelled };
/// Why a task was asked to stop.
enum class CancelReason : std::uint8_t { none, user, deadline, shutdown, abandoned };

std::string_view to_string(TaskState state) noexcept;
std::string_view to_string(CancelReason reason) noexcept;

struct SpawnOptions {
    std::string name;  ///< for logs and listings; defaults to "task-<id>"
};

/// How many tasks failed without anyone observing the failure (process-wide).
std::uint64_t unobserved_failures() noexcept;

namespace detail {

class WaitList;

/// What a task and its handles share. Thread-safe. State, cancel reason and the "failure
/// observed" flag live in one atomic word; the error, the finish time and the result slot of
/// `TaskCell<T>` are written once on the task's loop before the state becomes final (release)
/// and read after it was seen final (acquire). Nothing here blocks or allocates until someone
/// waits: coroutine waiters and blocking waiters share a process-wide table of striped locks.
class TaskCore : public std::enable_shared_from_this<TaskCore> {
public:
    TaskCore(const Executor& executor, std::string name);
    TaskCore(const TaskCore&) = delete;
    TaskCore& operator=(const TaskCore&) = delete;
    ~TaskCore();

    std::uint64_t id() const noexcept { return id_; }
    /// The name given at spawn, or "task-<id>" (formed on first use).
    const std::string& name() const noexcept;
    const Executor& executor() const noexcept { return executor_; }
    TaskState state() const noexcept;
    CancelReason cancel_reason() const noexcept;
    bool done() const noexcept;
    /// When the task ended; empty while it has not.
    std::optional<std::chrono::system_clock::time_point> finished_at() const noexcept;

    bool cancel(CancelReason reason) noexcept;
    /// The signal whose slot the runner binds; emitted on the task's loop only.
    boost::asio::cancellation_signal& signal() noexcept { return signal_; }

    void start() noexcept;                      // on the loop, when the coroutine first runs
    void finish(std::exception_ptr error);      // on the loop, once

    /// Suspends until done; resumes on the caller's executor. With `cancellable`, a
    /// cancellation of the caller ends the wait with operation_aborted.
    Task<void> until_done(bool cancellable);
    /// Blocks a plain thread until done or timeout; throws std::logic_error on a loop thread.
    bool wait_blocking(std::optional<std::chrono::steady_clock::duration> timeout);
    /// Rethrows the failure (or operation_aborted when cancelled); marks it observed.
    void rethrow_if_unsuccessful();
    std::exception_ptr error() noexcept;

private:
    /// Sets the "waited for" bit unless the task is done; false when done.
    bool mark_waited() noexcept;

    const std::uint64_t id_;
    mutable std::atomic<const std::string*> name_;  // null until given or first asked for
    Executor executor_;
    boost::asio::cancellation_signal signal_;
    std::atomic<std::uint32_t> word_{0};   // state | reason << 8 | flags (task_handle.cpp)
    std::chrono::system_clock::rep finished_at_{};  // valid once the state is final
    std::exception_ptr error_;                      // valid once the state is final
    WaitList* waiters_ = nullptr;  // coroutines waiting; guarded by this core's stripe lock
};

template <class T>
class TaskCell final : public TaskCore {
public:
    using TaskCore::TaskCore;
    std::optional<T> value;
};
template <>
class TaskCell<void> final : public TaskCore {
public:
    using TaskCore::TaskCore;
};

/// The body of a task with a result: stores it in the cell (alive while this runs: the
/// runner's completion handler owns it).
template <class T>
Task<void> run_task(TaskCell<T>* cell, Task<T> task) {
    cell->value.emplace(co_await std::move(task));
}

/// Starts `body` on the core's executor, bound to the core's cancellation slot: the core goes
/// `running` when the body first runs and records the outcome when it ends.
void launch(std::shared_ptr<TaskCore> core, Task<void> body);

}  // namespace detail

template <class T = void>
class TaskHandle {
public:
    TaskHandle() = default;
    explicit TaskHandle(std::shared_ptr<detail::TaskCell<T>> cell) noexcept
        : cell_(std::move(cell)) {}

    explicit operator bool() const noexcept { return cell_ != nullptr; }
    std::uint64_t id() const noexcept { return cell_->id(); }
    const std::string& name() const noexcept { return cell_->name(); }
    TaskState state() const noexcept { return cell_->state(); }
    bool done() const noexcept { return cell_->done(); }
    CancelReason cancel_reason() const noexcept { return cell_->cancel_reason(); }
    std::optional<std::chrono::system_clock::time_point> finished_at() const noexcept {
        return cell_->finished_at();
    }

    /// Asks the task to stop (reason `user`); false when it had already finished.
    bool cancel(CancelReason reason = CancelReason::user) const noexcept {
        return cell_->cancel(reason);
    }

    /// The task's result, awaited from any coroutine on any loop. Rethrows its exception;
    /// throws operation_aborted when it was cancelled. A non-copyable result is moved out to
    /// the first caller.
    Task<T> wait() const {
        if (!cell_->done()) co_await cell_->until_done(true);
        co_return take();
    }

    /// As `wait()`, but a cancellation of the awaiting coroutine does not end the wait: for
    /// clean-up that must see the task through.
    Task<T> wait_shielded() const {
        if (!cell_->done()) co_await cell_->until_done(false);
        co_return take();
    }

    /// The result, waited for from a plain thread (never a loop thread: std::logic_error).
    T get() const {
        cell_->wait_blocking(std::nullopt);
        return take();
    }

    /// Blocks a plain thread until the task is done or `timeout` passes; true when done.
    bool wait_for(std::chrono::steady_clock::duration timeout) const {
        return cell_->wait_blocking(timeout);
    }

    /// The failure, if it failed (marks it observed); null otherwise.
    std::exception_ptr error() const noexcept { return cell_->error(); }

    detail::TaskCore& core() const noexcept { return *cell_; }

private:
    T take() const {
        cell_->rethrow_if_unsuccessful();
        if constexpr (!std::is_void_v<T>) {
            if constexpr (std::is_copy_constructible_v<T>) {
                return *cell_->value;
            } else {
                return std::move(*cell_->value);
            }
        }
    }

    std::shared_ptr<detail::TaskCell<T>> cell_;
};

/// Starts `task` on `executor` and returns its handle. The task runs whether or not the
/// handle is kept.
template <class T>
TaskHandle<T> spawn(const Executor& executor, Task<T> task, SpawnOptions options = {}) {
    auto cell = std::make_shared<detail::TaskCell<T>>(executor, std::move(options.name));
    if constexpr (std::is_void_v<T>) {
        detail::launch(cell, std::move(task));
    } else {
        detail::launch(cell, detail::run_task<T>(cell.get(), std::move(task)));
    }
    return TaskHandle<T>(std::move(cell));
}

/// Submits `task` to another loop: `asyncio.run_coroutine_threadsafe` without its races. The
/// handle is awaitable from any coroutine and waitable from any plain thread.
template <class T>
TaskHandle<T> run_on(Loop& loop, Task<T> task, SpawnOptions options = {}) {
    return spawn(loop.executor(), std::move(task), std::move(options));
}

}  // namespace afterwork
