// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_group.hpp>

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "runtime/task_group_state.hpp"

namespace afterwork {

namespace detail {

void TaskCore::join_group(TaskGroupState& group) { group.link(*this); }

void TaskGroupState::link(TaskCore& task) {
    std::lock_guard lock(mutex);
    if (closed) throw std::logic_error("task group " + name + " is closed");
    task.group_ = this;
    task.group_previous_ = nullptr;
    task.group_next_ = first;
    if (first) first->group_previous_ = &task;
    first = &task;
    ++count;
    add_ref();  // the member's
}

void TaskGroupState::before_finish(TaskCore& task, const std::exception_ptr& error) noexcept {
    if (!error) return;
    bool is_first = false;
    {
        std::lock_guard lock(mutex);
        if (!first_failure) {
            first_failure = error;
            is_first = true;
        }
        if (is_first && cancel_on_failure) {
            // The siblings, not the failing task itself: it ends failed, not cancelled.
            for (TaskCore* member = first; member; member = member->group_next_) {
                if (member != &task) member->cancel(CancelReason::user);
            }
        }
    }
    task.mark_observed();
    if (on_error) {
        try {
            on_error(task.name(), error);
        } catch (...) {
            spdlog::error("task group {}: error callback threw", name);
        }
    } else {
        spdlog::error("task {} in group {} failed: {}", task.name(), name,
                      describe_exception(error));
    }
}

void TaskGroupState::finished(TaskCore& task) noexcept {
    std::function<void()> emptied_callback;
    {
        std::lock_guard lock(mutex);
        if (task.group_previous_) {
            task.group_previous_->group_next_ = task.group_next_;
        } else {
            first = task.group_next_;
        }
        if (task.group_next_) task.group_next_->group_previous_ = task.group_previous_;
        task.group_previous_ = task.group_next_ = nullptr;
        if (--count == 0) {
            joiners.wake_all();
            if (blocking_waiters > 0) emptied.notify_all();
            emptied_callback = on_empty;
        }
    }
    if (emptied_callback) {
        try {
            emptied_callback();
        } catch (...) {
            spdlog::error("task group {}: its on-empty callback threw", name);
        }
    }
    release();  // the member's
}

std::vector<TaskInfo> TaskGroupState::list() const {
    std::lock_guard lock(mutex);
    std::vector<TaskInfo> tasks;
    tasks.reserve(count);
    for (TaskCore* task = first; task; task = task->group_next_) {
        tasks.push_back({task->id(), task->name(), task->state(), task->cancel_reason()});
    }
    return tasks;
}

void TaskGroupState::cancel_all_locked(CancelReason reason) noexcept {
    // Linked members are alive: they unlink themselves under this lock before they can go.
    for (TaskCore* task = first; task; task = task->group_next_) task->cancel(reason);
}

}  // namespace detail

TaskGroup::TaskGroup(std::string name, ErrorCallback on_error, bool cancel_on_failure)
    : state_(new detail::TaskGroupState(std::move(name), std::move(on_error), cancel_on_failure)) {}

TaskGroup::~TaskGroup() {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->count > 0) {
            spdlog::warn("task group {} destroyed with {} tasks still running", state_->name,
                         state_->count);
        }
    }
    state_->release();
}

void TaskGroup::on_empty(std::function<void()> callback) {
    std::lock_guard lock(state_->mutex);
    state_->on_empty = std::move(callback);
}

void TaskGroup::close() noexcept {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
}

bool TaskGroup::closed() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->closed;
}

void TaskGroup::cancel_all(CancelReason reason) noexcept {
    std::lock_guard lock(state_->mutex);
    state_->cancel_all_locked(reason);
}

Task<void> TaskGroup::join(bool rethrow_first_failure) {
    // Woken when the group empties; it may have refilled since, so check again.
    for (;;) {
        auto outcome = co_await detail::Waiter(state_->joiners, &detail::TaskGroupState::is_empty,
                                               state_, true);
        if (outcome == detail::Waiter::Outcome::ready) break;
    }
    if (rethrow_first_failure) {
        if (auto failure = first_failure()) std::rethrow_exception(failure);
    }
}

Task<bool> TaskGroup::join_until(std::chrono::steady_clock::time_point deadline) {
    auto& timers = detail::system_timers(co_await current_executor());
    for (;;) {
        auto outcome = co_await detail::Waiter(state_->joiners, &detail::TaskGroupState::is_empty,
                                               state_, true, timers, deadline);
        if (outcome == detail::Waiter::Outcome::ready) co_return true;
        if (outcome == detail::Waiter::Outcome::timed_out) co_return size() == 0;
    }
}

bool TaskGroup::wait_for(std::chrono::steady_clock::duration timeout) {
    std::unique_lock lock(state_->mutex);
    ++state_->blocking_waiters;
    const bool empty =
        state_->emptied.wait_for(lock, timeout, [&] { return state_->count == 0; });
    --state_->blocking_waiters;
    return empty;
}

std::exception_ptr TaskGroup::first_failure() const {
    std::lock_guard lock(state_->mutex);
    return state_->first_failure;
}

std::size_t TaskGroup::size() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->count;
}

std::vector<TaskInfo> TaskGroup::tasks() const { return state_->list(); }

const std::string& TaskGroup::name() const noexcept { return state_->name; }

}  // namespace afterwork
