// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_group.hpp>

#include <condition_variable>
#include <list>
#include <mutex>
#include <stdexcept>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace afterwork {

namespace asio = boost::asio;

namespace {
struct Member {
    Member(Executor ex, std::string n) : executor(std::move(ex)), name(std::move(n)) {}
    Executor executor;
    std::string name;
    asio::cancellation_signal signal;  // touched only on `executor`'s thread
};
}  // namespace

struct TaskGroup::State {
    std::string name;
    ErrorCallback on_error;
    mutable std::mutex mutex;
    std::condition_variable empty;
    std::list<std::shared_ptr<Member>> members;
    bool closed = false;

    void finished(std::list<std::shared_ptr<Member>>::iterator it, std::exception_ptr error) {
        const std::string task_name = (*it)->name;
        if (error && !is_cancellation(error)) {
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
        members.erase(it);
        if (members.empty()) empty.notify_all();
    }
};

TaskGroup::TaskGroup(std::string name, ErrorCallback on_error)
    : state_(std::make_shared<State>()) {
    state_->name = std::move(name);
    state_->on_error = std::move(on_error);
}

TaskGroup::~TaskGroup() {
    std::lock_guard lock(state_->mutex);
    if (!state_->members.empty()) {
        spdlog::warn("task group {} destroyed with {} tasks still running", state_->name,
                     state_->members.size());
    }
}

void TaskGroup::spawn(const Executor& executor, Task<void> task, std::string name) {
    std::list<std::shared_ptr<Member>>::iterator it;
    {
        std::lock_guard lock(state_->mutex);
        if (state_->closed) {
            throw std::logic_error("task group " + state_->name + " is closed");
        }
        state_->members.push_front(std::make_shared<Member>(executor, std::move(name)));
        it = state_->members.begin();
    }
    // The slot is bound before the coroutine can run, and both live on `executor`.
    auto slot = (*it)->signal.slot();
    asio::co_spawn(executor, std::move(task),
                   asio::bind_cancellation_slot(
                       slot, [state = state_, it](std::exception_ptr error) {
                           state->finished(it, std::move(error));
                       }));
}

void TaskGroup::close() noexcept {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
}

void TaskGroup::cancel_all() noexcept {
    std::lock_guard lock(state_->mutex);
    for (const auto& member : state_->members) {
        try {
            asio::post(member->executor, [member] {
                member->signal.emit(asio::cancellation_type::terminal);
            });
        } catch (...) {
            // The loop is gone: its task cannot run again either.
        }
    }
}

bool TaskGroup::wait_for(std::chrono::steady_clock::duration timeout) {
    std::unique_lock lock(state_->mutex);
    return state_->empty.wait_for(lock, timeout, [&] { return state_->members.empty(); });
}

std::size_t TaskGroup::size() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->members.size();
}

const std::string& TaskGroup::name() const noexcept { return state_->name; }

}  // namespace afterwork
