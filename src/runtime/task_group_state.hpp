// SPDX-License-Identifier: MIT
#pragma once

// What a TaskGroup and its member tasks share: the members (an intrusive list through their
// task cells), the first failure and the waiters. Reference counted: the group and every
// member hold a reference, so a member that ends after its group was destroyed still finds it.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <afterwork/detail/waiter.hpp>
#include <afterwork/runtime/task_group.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork::detail {

class TaskGroupState {
public:
    TaskGroupState(std::string name, TaskGroup::ErrorCallback on_error, bool cancel_on_failure)
        : name(std::move(name)), on_error(std::move(on_error)),
          cancel_on_failure(cancel_on_failure) {}

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// Links `task` (before launch); throws std::logic_error when closed.
    void link(TaskCore& task);
    /// On the task's loop, before its end is published: the error callback, the first
    /// failure, cancel-on-failure.
    void before_finish(TaskCore& task, const std::exception_ptr& error) noexcept;
    /// On the task's loop, after its end is published: unlinks it, wakes the waiters.
    void finished(TaskCore& task) noexcept;
    std::vector<TaskInfo> list() const;
    /// Under `mutex`.
    void cancel_all_locked(CancelReason reason) noexcept;
    static bool is_empty(const void* state) noexcept {
        return static_cast<const TaskGroupState*>(state)->count == 0;
    }

    const std::string name;
    const TaskGroup::ErrorCallback on_error;
    const bool cancel_on_failure;

    mutable std::mutex mutex;
    std::condition_variable emptied;  // blocking waiters
    WaitQueue joiners{mutex};         // coroutine waiters
    TaskCore* first = nullptr;        // members, guarded by mutex
    std::size_t count = 0;
    std::size_t blocking_waiters = 0;
    std::exception_ptr first_failure;
    std::function<void()> on_empty;
    bool closed = false;

private:
    ~TaskGroupState() = default;
    std::atomic<std::uint32_t> refs_{1};
};

}  // namespace afterwork::detail
