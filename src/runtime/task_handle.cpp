// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_handle.hpp>

#include <atomic>
#include <stdexcept>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "runtime/wait_list.hpp"

namespace afterwork {

namespace asio = boost::asio;

namespace {
std::atomic<std::uint64_t> next_task_id{1};
std::atomic<std::uint64_t> unobserved{0};

}  // namespace

std::string_view to_string(TaskState state) noexcept {
    switch (state) {
        case TaskState::pending: return "pending";
        case TaskState::running: return "running";
        case TaskState::succeeded: return "succeeded";
        case TaskState::failed: return "failed";
        case TaskState::cancelled: return "cancelled";
    }
    return "unknown";
}

std::string_view to_string(CancelReason reason) noexcept {
    switch (reason) {
        case CancelReason::none: return "none";
        case CancelReason::user: return "user";
        case CancelReason::deadline: return "deadline";
        case CancelReason::shutdown: return "shutdown";
        case CancelReason::abandoned: return "abandoned";
    }
    return "unknown";
}

std::uint64_t unobserved_failures() noexcept { return unobserved.load(); }

namespace detail {

struct TaskCore::Waiters : WaitList {};

TaskCore::TaskCore(Executor executor, std::string name)
    : id_(next_task_id.fetch_add(1, std::memory_order_relaxed)),
      name_(name.empty() ? "task-" + std::to_string(id_) : std::move(name)),
      executor_(std::move(executor)),
      waiters_(std::make_unique<Waiters>()) {}

TaskCore::~TaskCore() {
    // Nobody can observe it any more: report a failure nobody looked at.
    if (state_ == TaskState::failed && !observed_) {
        unobserved.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("task {} ({}) failed and nobody awaited it: {}", name_, id_,
                      describe_exception(error_));
    }
}

TaskState TaskCore::state() const noexcept {
    std::lock_guard lock(mutex_);
    return state_;
}

std::optional<std::chrono::system_clock::time_point> TaskCore::finished_at() const noexcept {
    std::lock_guard lock(mutex_);
    return finished_at_;
}

CancelReason TaskCore::cancel_reason() const noexcept {
    std::lock_guard lock(mutex_);
    return reason_;
}

bool TaskCore::done() const noexcept {
    std::lock_guard lock(mutex_);
    return state_ == TaskState::succeeded || state_ == TaskState::failed ||
           state_ == TaskState::cancelled;
}

bool TaskCore::cancel(CancelReason reason) noexcept {
    {
        std::lock_guard lock(mutex_);
        if (state_ == TaskState::succeeded || state_ == TaskState::failed ||
            state_ == TaskState::cancelled) {
            return false;
        }
        if (reason_ == CancelReason::none) reason_ = reason;
    }
    try {
        // The signal belongs to the task's loop: emit it there, keeping the core alive.
        asio::post(executor_, [self = shared_from_this()] {
            self->signal_.emit(asio::cancellation_type::terminal);
        });
    } catch (...) {
        return false;  // the loop is gone
    }
    return true;
}

void TaskCore::start() noexcept {
    std::lock_guard lock(mutex_);
    if (state_ == TaskState::pending) state_ = TaskState::running;
}

void TaskCore::finish(std::exception_ptr error) {
    {
        std::lock_guard lock(mutex_);
        finished_at_ = std::chrono::system_clock::now();
        if (!error) {
            state_ = TaskState::succeeded;
        } else if (is_cancellation(error)) {
            state_ = TaskState::cancelled;
        } else {
            state_ = TaskState::failed;
            error_ = std::move(error);
        }
        waiters_->wake_all();
    }
    finished_.notify_all();
}

Task<void> TaskCore::until_done(bool cancellable) {
    if (done()) co_return;
    Executor executor = co_await asio::this_coro::executor;
    std::shared_ptr<WaitList::Waiter> waiter;
    {
        std::lock_guard lock(mutex_);
        if (state_ == TaskState::succeeded || state_ == TaskState::failed ||
            state_ == TaskState::cancelled) {
            co_return;
        }
        waiter = waiters_->add(executor);
    }
    co_await WaitList::sleep(std::move(waiter), cancellable);
    if (!done()) {
        throw boost::system::system_error(asio::error::operation_aborted,
                                          "wait for task " + name_ + " cancelled");
    }
}

bool TaskCore::wait_blocking(std::optional<std::chrono::steady_clock::duration> timeout) {
    if (Loop::current()) {
        throw std::logic_error("blocking wait for task " + name_ +
                               " on a loop thread: co_await handle.wait() instead");
    }
    std::unique_lock lock(mutex_);
    auto finished = [&] {
        return state_ == TaskState::succeeded || state_ == TaskState::failed ||
               state_ == TaskState::cancelled;
    };
    if (!timeout) {
        finished_.wait(lock, finished);
        return true;
    }
    return finished_.wait_for(lock, *timeout, finished);
}

void TaskCore::rethrow_if_unsuccessful() {
    std::unique_lock lock(mutex_);
    if (state_ == TaskState::failed) {
        observed_ = true;
        auto error = error_;
        lock.unlock();
        std::rethrow_exception(error);
    }
    if (state_ == TaskState::cancelled) {
        throw boost::system::system_error(asio::error::operation_aborted,
                                          "task " + name_ + " was cancelled");
    }
}

std::exception_ptr TaskCore::error() noexcept {
    std::lock_guard lock(mutex_);
    observed_ = true;
    return error_;
}

void launch(std::shared_ptr<TaskCore> core, Task<void> runner) {
    auto& signal = core->signal();
    Executor executor = core->executor();
    asio::co_spawn(executor, std::move(runner),
                   asio::bind_cancellation_slot(signal.slot(),
                                                [core = std::move(core)](std::exception_ptr e) {
                                                    core->finish(std::move(e));
                                                }));
}

}  // namespace detail
}  // namespace afterwork
