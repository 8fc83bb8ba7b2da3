// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_group.hpp>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <spdlog/spdlog.h>

#include "runtime/wait_list.hpp"
#include "runtime/foreign_post.hpp"

namespace afterwork {

namespace asio = boost::asio;

namespace {
// One running task: a node of the group's intrusive list (guarded by the group's mutex), owned
// by the task's completion handler, so a spawn costs one allocation. A handler destroyed
// without running (its loop was destroyed first) unlinks the member in its destructor.
struct Member : std::enable_shared_from_this<Member> {
    Member(std::shared_ptr<TaskGroup::State> g, Executor ex, std::string n)
        : group(std::move(g)), executor(std::move(ex)), name(std::move(n)) {}
    ~Member();
    std::shared_ptr<TaskGroup::State> group;
    Executor executor;
    std::string name;
    asio::cancellation_signal signal;  // touched only on `executor`'s thread
    Member* previous = nullptr;        // list fields: guarded by the group's mutex
    Member* next = nullptr;
    bool linked = false;
};
}  // namespace

struct TaskGroup::State {
    std::string name;
    ErrorCallback on_error;
    bool cancel_on_failure = false;
    std::exception_ptr first_failure;  // guarded by mutex
    detail::WaitList joiners;          // guarded by mutex
    mutable std::mutex mutex;
    std::condition_variable empty;
    Member* first = nullptr;
    std::size_t count = 0;
    std::size_t waiters = 0;
    bool closed = false;

    void link(Member* member) {
        member->linked = true;
        member->next = first;
        if (first) first->previous = member;
        first = member;
        ++count;
    }

    void unlink(Member* member) {
        member->linked = false;
        if (member->previous) member->previous->next = member->next;
        if (member->next) member->next->previous = member->previous;
        if (first == member) first = member->next;
        --count;
    }

    void cancel_all_locked();

    void finished(Member* member, std::exception_ptr error) {
        const std::string& task_name = member->name;
        if (error && !is_cancellation(error)) {
            bool first = false;
            {
                std::lock_guard lock(mutex);
                if (!first_failure) {
                    first_failure = error;
                    first = true;
                }
            }
            if (first && cancel_on_failure) {
                std::lock_guard lock(mutex);
                cancel_all_locked();
            }
            if (on_error) {
                try {
                    on_error(task_name, error);
                } catch (...) {
                    spdlog::error("task group {}: error callback threw", name);
                }
            } else {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    spdlog::error("task {} in group {} failed: {}", task_name, name, e.what());
                } catch (...) {
                    spdlog::error("task {} in group {} failed", task_name, name);
                }
            }
        }
        std::lock_guard lock(mutex);
        unlink(member);
        if (count == 0) {
            if (waiters > 0) empty.notify_all();
            joiners.wake_all();
        }
    }
};

namespace {
Member::~Member() {
    // Every write of `linked` happened before the last reference went (under the group's
    // mutex, by owners of a reference), so it can be read without the lock; usually the
    // completion handler has unlinked the member and there is nothing to do.
    if (!linked) return;
    std::lock_guard lock(group->mutex);
    if (linked) group->unlink(this);
}

// co_spawn's completion handler. It names its cancellation slot itself rather than through
// bind_cancellation_slot, whose binder hides that the handler has no associated executor:
// co_spawn then keeps a smaller proxy (no executor copy) and emits on the spot, as the
// emission already runs on the task's loop.
struct MemberCompletion {
    using cancellation_slot_type = asio::cancellation_slot;
    cancellation_slot_type get_cancellation_slot() const noexcept { return member->signal.slot(); }
    void operator()(std::exception_ptr error) {
        member->group->finished(member.get(), std::move(error));
    }
    std::shared_ptr<Member> member;
};
}  // namespace

TaskGroup::TaskGroup(std::string name, ErrorCallback on_error, bool cancel_on_failure)
    : state_(std::make_shared<State>()) {
    state_->name = std::move(name);
    state_->on_error = std::move(on_error);
    state_->cancel_on_failure = cancel_on_failure;
}

TaskGroup::~TaskGroup() {
    std::lock_guard lock(state_->mutex);
    if (state_->count > 0) {
        spdlog::warn("task group {} destroyed with {} tasks still running", state_->name,
                     state_->count);
    }
}

void TaskGroup::spawn(const Executor& executor, Task<void> task, std::string name) {
    auto member = std::make_shared<Member>(state_, executor, std::move(name));
    {
        std::lock_guard lock(state_->mutex);
        if (state_->closed) {
            throw std::logic_error("task group " + state_->name + " is closed");
        }
        state_->link(member.get());
    }
    // The slot is bound before the coroutine can run, and both live on `executor`. The member
    // keeps the group's state alive until the handler has run.
    asio::co_spawn(executor, std::move(task), MemberCompletion{std::move(member)});
}

void TaskGroup::close() noexcept {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
}

void TaskGroup::State::cancel_all_locked() {
    for (Member* member = first; member; member = member->next) {
        try {
            // Linked members are alive: their completion handler unlinks them under the
            // lock first. The posted copy keeps the member alive until the signal is emitted.
            detail::post_to_loop(member->executor, [alive = member->shared_from_this()] {
                alive->signal.emit(asio::cancellation_type::terminal);
            });
        } catch (...) {
            // The loop is gone: its task cannot run again either.
        }
    }
}

void TaskGroup::cancel_all() noexcept {
    std::lock_guard lock(state_->mutex);
    state_->cancel_all_locked();
}

Task<void> TaskGroup::join(bool rethrow_first_failure) {
    Executor executor = co_await asio::this_coro::executor;
    for (;;) {
        std::shared_ptr<detail::WaitList::Waiter> waiter;
        {
            std::lock_guard lock(state_->mutex);
            if (state_->count == 0) break;
            waiter = state_->joiners.add(executor);
        }
        co_await detail::WaitList::sleep(*waiter, true);
        // Woken because the group emptied (and maybe refilled since), or cancelled.
        auto cancellation = co_await asio::this_coro::cancellation_state;
        if (cancellation.cancelled() != asio::cancellation_type::none) {
            throw boost::system::system_error(asio::error::operation_aborted,
                                              "join of task group " + state_->name);
        }
    }
    if (rethrow_first_failure) {
        if (auto failure = first_failure()) std::rethrow_exception(failure);
    }
}

std::exception_ptr TaskGroup::first_failure() const {
    std::lock_guard lock(state_->mutex);
    return state_->first_failure;
}

bool TaskGroup::wait_for(std::chrono::steady_clock::duration timeout) {
    std::unique_lock lock(state_->mutex);
    ++state_->waiters;
    bool empty = state_->empty.wait_for(lock, timeout, [&] { return state_->count == 0; });
    --state_->waiters;
    return empty;
}

std::size_t TaskGroup::size() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->count;
}

const std::string& TaskGroup::name() const noexcept { return state_->name; }

}  // namespace afterwork
