// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `spawn(executor, task)` starts a coroutine and returns a `TaskHandle`: its id, name and
/// state, `cancel()`, and its result or exception, awaited from any coroutine or waited for
/// from a plain thread — `asyncio.create_task` and `run_coroutine_threadsafe` in one type.
///
/// Every task of the runtime — spawned alone, in a `TaskGroup`, a background task, a periodic
/// or scheduled run, a job attempt — is one task cell (`detail::TaskCore`): one allocation
/// next to the coroutine frame, holding the state, the cancellation and the result.
///
/// States: `pending` (spawned, not started) → `running` → `succeeded` | `failed` |
/// `cancelled`. A task cancelled before it starts still starts, and its first suspension point
/// ends with `operation_aborted` (so a wrapper that records outcomes or a `catch` that cleans
/// up still runs); cancelling a finished task does nothing and returns false.
///
/// A task's exception is never lost: if it failed and nobody observed the failure (`wait`,
/// `get`, `error`, its group's error callback) by the time the last handle is gone, it is
/// logged and counted (`unobserved_failures()`), as asyncio's "Task exception was never
/// retrieved".
///
/// @par Cancellation
/// `cancel()` reaches the task on its own loop: its current or next suspension point ends
/// with `operation_aborted`, which the code can catch to clean up (and should rethrow).
/// Awaiting a cancelled task throws `operation_aborted` too. Cancelling a coroutine that
/// awaits `wait()` ends that wait, not the task it waits for.
///
/// @par Thread safety
/// Thread-safe: a handle may be copied to and used from any thread and any loop.
///
/// @par Lifetime
/// A task runs to its end whether or not a handle is kept. When its loop is destroyed first,
/// a task still suspended there is destroyed with it (state `cancelled`, reason `abandoned`).

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <afterwork/detail/waiter.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

/// Where a task is in its life.
enum class TaskState : std::uint8_t { pending, running, succeeded, failed, cancelled };
/// Why a task was asked to stop (or, for a finished run, why it ended cancelled).
enum class CancelReason : std::uint8_t {
    none,
    user,        ///< someone called cancel()
    deadline,    ///< a time limit passed (with_timeout, a job's timeout)
    shutdown,    ///< the service or app that owns it is stopping
    abandoned,   ///< its loop went away before it finished
    lease_lost,  ///< a durable job's lease passed to another worker
};

std::string_view to_string(TaskState state) noexcept;
std::string_view to_string(CancelReason reason) noexcept;

struct SpawnOptions {
    std::string name;  ///< for logs and listings; defaults to "task-<id>"
};

/// How many tasks failed without anyone observing the failure (process-wide).
std::uint64_t unobserved_failures() noexcept;

namespace detail {

class TaskGroupState;
class TaskRegistry;

/// The task cell: what a task, its handles and its group share. Thread-safe. State, cancel
/// reason and the "failure observed" flag live in one atomic word; the error, the finish time
/// and the result of `TaskCell<T>` are written once on the task's loop before the state
/// becomes final (release) and read after it was seen final (acquire). Reference counted
/// (handles, the running coroutine, posted hand-offs).
class TaskCore {
public:
    TaskCore(const Executor& executor, std::string name);
    TaskCore(const TaskCore&) = delete;
    TaskCore& operator=(const TaskCore&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    std::uint64_t id() const noexcept { return id_; }
    /// The name given at spawn, or "task-<id>" (formed on first use).
    const std::string& name() const noexcept;
    const Executor& executor() const noexcept { return executor_; }
    TaskState state() const noexcept;
    CancelReason cancel_reason() const noexcept;
    bool done() const noexcept;
    bool cancel_requested() const noexcept;
    /// When the task ended; empty while it has not.
    std::optional<std::chrono::system_clock::time_point> finished_at() const noexcept;

    /// Records `reason` (the first one wins) and ends the task's wait on its loop; false when
    /// the task had already finished.
    bool cancel(CancelReason reason) noexcept;

    /// Starts `root` (a frame of this task's type) on the task's executor.
    void launch(std::coroutine_handle<> root);
    /// Joins `group` before launch; throws std::logic_error when the group is closed.
    void join_group(TaskGroupState& group);

    /// An awaiter that suspends until the task is done; resumes on the caller's executor.
    /// With `cancellable`, a cancellation of the caller ends the wait with operation_aborted.
    Waiter until_done(bool cancellable) noexcept;
    /// As `until_done`, ending `timed_out` at `deadline` if still running: on `timers`, or the
    /// steady clock's when null.
    Waiter until_done_before(TimerQueue* timers, SteadyTime deadline, bool cancellable) noexcept;
    /// Blocks a plain thread until done or timeout; throws std::logic_error on a loop thread.
    bool wait_blocking(std::optional<std::chrono::steady_clock::duration> timeout);
    /// Rethrows the failure (or operation_aborted when cancelled); marks it observed.
    void rethrow_if_unsuccessful();
    std::exception_ptr error() noexcept;
    /// Marks a failure as seen (a group's error callback got it).
    void mark_observed() noexcept;

    /// For awaiters: the queue of coroutines waiting for the end, and its ready check (done,
    /// or marks the task as waited for; under the queue's lock).
    WaitQueue& waiters() noexcept { return waiters_; }
    static bool is_done(const void* core) noexcept;

protected:
    virtual ~TaskCore();
    /// Moves the root coroutine's result into the cell (it succeeded).
    virtual void collect(std::coroutine_handle<> root) noexcept = 0;

private:
    friend void root_finished(TaskCore&, std::coroutine_handle<>) noexcept;
    friend void set_suspension(TaskCore&, Suspension*) noexcept;
    friend class TaskGroupState;
    friend class TaskRegistry;
    struct Start;
    struct Deliver;

    void run_root() noexcept;                       // on the loop, when the task first runs
    void finish(std::exception_ptr error) noexcept;  // on the loop, once
    void abandon() noexcept;                         // the loop is being destroyed

    std::atomic<std::uint32_t> refs_{1};
    std::atomic<std::uint32_t> word_{0};  // state | reason << 8 | flags (task_handle.cpp)
    const std::uint64_t id_;
    mutable std::atomic<const std::string*> name_;  // null until given or first asked for
    Executor executor_;
    std::coroutine_handle<> root_;        // the frame, until the task ends (loop only)
    Suspension* suspension_ = nullptr;    // where the task waits now (loop only)
    std::exception_ptr error_;            // valid once the state is final
    std::chrono::system_clock::rep finished_at_{};  // valid once the state is final
    WaitQueue waiters_;                   // guarded by this core's stripe lock
    TaskRegistry* registry_ = nullptr;    // the loop's list of live tasks
    TaskCore* registry_previous_ = nullptr;
    TaskCore* registry_next_ = nullptr;
    TaskGroupState* group_ = nullptr;     // set before launch, never changed
    TaskCore* group_previous_ = nullptr;  // guarded by the group's mutex
    TaskCore* group_next_ = nullptr;
};

template <class T>
class TaskCell final : public TaskCore {
public:
    using TaskCore::TaskCore;
    std::optional<T> value;

private:
    void collect(std::coroutine_handle<> root) noexcept override {
        auto& promise = std::coroutine_handle<Promise<T>>::from_address(root.address()).promise();
        value = std::move(promise.value);
    }
};
template <>
class TaskCell<void> final : public TaskCore {
public:
    using TaskCore::TaskCore;

private:
    void collect(std::coroutine_handle<>) noexcept override {}
};

/// An owning reference to a task cell.
template <class Cell>
class CellRef {
public:
    CellRef() noexcept = default;
    explicit CellRef(Cell* cell) noexcept : cell_(cell) {}  // adopts a reference
    CellRef(const CellRef& other) noexcept : cell_(other.cell_) {
        if (cell_) cell_->add_ref();
    }
    CellRef(CellRef&& other) noexcept : cell_(std::exchange(other.cell_, nullptr)) {}
    CellRef& operator=(CellRef other) noexcept {
        std::swap(cell_, other.cell_);
        return *this;
    }
    ~CellRef() {
        if (cell_) cell_->release();
    }
    Cell* get() const noexcept { return cell_; }
    Cell* operator->() const noexcept { return cell_; }
    Cell& operator*() const noexcept { return *cell_; }
    explicit operator bool() const noexcept { return cell_ != nullptr; }

private:
    Cell* cell_ = nullptr;
};

}  // namespace detail

template <class T = void>
class TaskHandle {
public:
    TaskHandle() = default;
    explicit TaskHandle(detail::CellRef<detail::TaskCell<T>> cell) noexcept
        : cell_(std::move(cell)) {}

    explicit operator bool() const noexcept { return static_cast<bool>(cell_); }
    std::uint64_t id() const noexcept { return cell_->id(); }
    const std::string& name() const noexcept { return cell_->name(); }
    TaskState state() const noexcept { return cell_->state(); }
    bool done() const noexcept { return cell_->done(); }
    CancelReason cancel_reason() const noexcept { return cell_->cancel_reason(); }
    std::optional<std::chrono::system_clock::time_point> finished_at() const noexcept {
        return cell_->finished_at();
    }

    /// Asks the task to stop (reason `user` unless told); false when it had already finished.
    bool cancel(CancelReason reason = CancelReason::user) const noexcept {
        return cell_->cancel(reason);
    }

    /// `co_await handle.wait()`: the task's result, awaited from any coroutine on any loop.
    /// Rethrows its exception; throws operation_aborted when it was cancelled. A non-copyable
    /// result is moved out to the first caller. The awaiter allocates nothing.
    /// @par Cancellation
    /// Cancelling the caller ends this wait with operation_aborted; the task goes on.
    [[nodiscard]] auto wait() const noexcept { return Wait(cell_, true); }

    /// As `wait()`, but a cancellation of the awaiting coroutine does not end the wait: for
    /// clean-up that must see the task through.
    [[nodiscard]] auto wait_shielded() const noexcept { return Wait(cell_, false); }

    /// `co_await handle.wait_until(deadline)`: true once the task has ended (however it ended:
    /// its result stays in the handle), false when `deadline` (steady clock) passed first.
    /// @par Cancellation
    /// Cancelling the caller ends this wait with operation_aborted; the task goes on.
    [[nodiscard]] auto wait_until(std::chrono::steady_clock::time_point deadline) const noexcept {
        return WaitUntil(cell_, deadline);
    }

    /// The result, waited for from a plain thread (never a loop thread: std::logic_error).
    T get() const {
        cell_->wait_blocking(std::nullopt);
        return take(*cell_);
    }

    /// Blocks a plain thread until the task is done or `timeout` passes; true when done.
    bool wait_for(std::chrono::steady_clock::duration timeout) const {
        return cell_->wait_blocking(timeout);
    }

    /// The failure, if it failed (marks it observed); null otherwise.
    std::exception_ptr error() const noexcept { return cell_->error(); }

    detail::TaskCore& core() const noexcept { return *cell_; }

private:
    // Keeps the cell alive while waiting (the handle awaited may be a temporary). A base
    // declared before the Waiter, so the reference goes only after the Waiter has left the
    // cell's queue.
    struct CellHolder {
        detail::CellRef<detail::TaskCell<T>> cell_;
    };

    class Wait final : private CellHolder, public detail::Waiter {
    public:
        Wait(const detail::CellRef<detail::TaskCell<T>>& cell, bool cancellable) noexcept
            : CellHolder{cell},
              Waiter(cell->waiters(), &detail::TaskCore::is_done, cell.get(), cancellable) {}
        T await_resume() {
            Waiter::await_resume();
            return take(*this->cell_);
        }
    };

    class WaitUntil final : private CellHolder, public detail::Waiter {
    public:
        WaitUntil(const detail::CellRef<detail::TaskCell<T>>& cell,
                  std::chrono::steady_clock::time_point deadline) noexcept
            : CellHolder{cell},
              Waiter(&cell->waiters(), &detail::TaskCore::is_done, cell.get(), true, deadline) {}
        bool await_resume() { return Waiter::await_resume() != Outcome::timed_out; }
    };

    static T take(detail::TaskCell<T>& cell) {
        cell.rethrow_if_unsuccessful();
        if constexpr (!std::is_void_v<T>) {
            if constexpr (std::is_copy_constructible_v<T>) {
                return *cell.value;
            } else {
                return std::move(*cell.value);
            }
        }
    }

    detail::CellRef<detail::TaskCell<T>> cell_;
};

/// Starts `task` on `executor` and returns its handle. The task runs whether or not the
/// handle is kept, but a dropped handle is a task nobody can cancel or list: keep it, or spawn
/// into a `TaskGroup`.
template <class T>
[[nodiscard]] TaskHandle<T> spawn(const Executor& executor, Task<T> task, SpawnOptions options = {}) {
    detail::CellRef<detail::TaskCell<T>> cell(
        new detail::TaskCell<T>(executor, std::move(options.name)));
    cell->launch(task.release());
    return TaskHandle<T>(std::move(cell));
}

/// Submits `task` to another loop: `asyncio.run_coroutine_threadsafe` without its races. The
/// handle is awaitable from any coroutine and waitable from any plain thread.
template <class T>
[[nodiscard]] TaskHandle<T> run_on(Loop& loop, Task<T> task, SpawnOptions options = {}) {
    return spawn(loop.executor(), std::move(task), std::move(options));
}

}  // namespace afterwork
