// SPDX-License-Identifier: MIT
// Timer queues: a binary heap of nodes that live in the waiting coroutines' frames. The system
// clock keeps one queue per execution context, behind one Asio timer armed for the earliest
// deadline, so a sleeping task costs its frame and nothing more.

#include <afterwork/detail/waiter.hpp>

#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "runtime/context_service.hpp"

namespace afterwork::detail {

namespace asio = boost::asio;

void TimerQueue::add(TimerNode& node) {
    bool first = false;
    {
        std::lock_guard lock(mutex_);
        node.index = heap_.size();
        heap_.push_back(&node);
        sift_up(node.index);
        first = heap_.front() == &node;
    }
    if (first) earliest_changed(node.deadline);
}

bool TimerQueue::remove(TimerNode& node) noexcept {
    bool emptied = false;
    {
        std::lock_guard lock(mutex_);
        if (node.index == TimerNode::kNotQueued) return false;
        erase_at(node.index);
        emptied = heap_.empty();
    }
    if (emptied) {
        try {
            became_empty();
        } catch (...) {
        }
    }
    return true;
}

std::size_t TimerQueue::size() const noexcept {
    std::lock_guard lock(mutex_);
    return heap_.size();
}

std::optional<SteadyTime> TimerQueue::fire_due(SteadyTime now) noexcept {
    std::lock_guard lock(mutex_);
    while (!heap_.empty() && heap_.front()->deadline <= now) {
        TimerNode* node = heap_.front();
        erase_at(0);
        node->fire(*node);
    }
    if (heap_.empty()) return std::nullopt;
    return heap_.front()->deadline;
}

void TimerQueue::sift_up(std::size_t index) noexcept {
    TimerNode* node = heap_[index];
    while (index > 0) {
        const std::size_t parent = (index - 1) / 2;
        if (heap_[parent]->deadline <= node->deadline) break;
        heap_[index] = heap_[parent];
        heap_[index]->index = index;
        index = parent;
    }
    heap_[index] = node;
    node->index = index;
}

void TimerQueue::sift_down(std::size_t index) noexcept {
    TimerNode* node = heap_[index];
    const std::size_t size = heap_.size();
    for (;;) {
        std::size_t child = 2 * index + 1;
        if (child >= size) break;
        if (child + 1 < size && heap_[child + 1]->deadline < heap_[child]->deadline) ++child;
        if (node->deadline <= heap_[child]->deadline) break;
        heap_[index] = heap_[child];
        heap_[index]->index = index;
        index = child;
    }
    heap_[index] = node;
    node->index = index;
}

void TimerQueue::erase_at(std::size_t index) noexcept {
    TimerNode* removed = heap_[index];
    removed->index = TimerNode::kNotQueued;
    TimerNode* last = heap_.back();
    heap_.pop_back();
    if (last == removed) return;
    heap_[index] = last;
    last->index = index;
    if (index > 0 && last->deadline < heap_[(index - 1) / 2]->deadline) {
        sift_up(index);
    } else {
        sift_down(index);
    }
    // Shrink a heap that emptied after a burst, so memory follows the number of sleepers.
    if (heap_.capacity() > 1024 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
}

namespace {

// The system clock's queue of one execution context: an Asio service, so it lives and dies
// with the context (its timer handler never outlives it).
class SystemTimers final : public asio::execution_context::service,
                           public TimerQueue,
                           public GenerationCounted<SystemTimers> {
public:
    static inline asio::execution_context::id id;

    explicit SystemTimers(asio::execution_context& context)
        : asio::execution_context::service(context) {}

    void bind(const Executor& executor) {
        std::lock_guard lock(timer_mutex_);
        if (timer_) return;
        // The context's own executor when it is an io_context: not a strand a task happened
        // to run on.
        if (auto* io = executor.target<asio::io_context::executor_type>()) {
            timer_.emplace(*io);
        } else if (auto* strand = executor.target<asio::strand<Executor>>()) {
            timer_.emplace(strand->get_inner_executor());
        } else {
            timer_.emplace(executor);
        }
    }

    SteadyTime now() const noexcept override { return std::chrono::steady_clock::now(); }

private:
    void shutdown() override {
        std::lock_guard lock(timer_mutex_);
        stopped_ = true;
        timer_.reset();
    }

    void became_empty() override {
        std::lock_guard lock(timer_mutex_);
        // Checked again under the timer's lock: a node added since must keep its wake-up.
        if (stopped_ || !timer_ || !armed_ || size() != 0) return;
        armed_ = false;
        timer_->cancel();
    }

    void earliest_changed(SteadyTime deadline) override {
        std::lock_guard lock(timer_mutex_);
        if (stopped_ || !timer_) return;
        if (armed_ && armed_for_ <= deadline) return;
        arm(deadline);
    }

    // timer_mutex_ held.
    void arm(SteadyTime deadline) {
        armed_ = true;
        armed_for_ = deadline;
        timer_->expires_at(deadline);  // cancels a wait already armed for later
        timer_->async_wait([this](boost::system::error_code error) {
            if (error == asio::error::operation_aborted) return;  // re-armed, or shut down
            on_expiry();
        });
    }

    void on_expiry() {
        {
            std::lock_guard lock(timer_mutex_);
            armed_ = false;
        }
        const auto next = fire_due(std::chrono::steady_clock::now());
        if (next) {
            std::lock_guard lock(timer_mutex_);
            if (!stopped_ && timer_ && (!armed_ || armed_for_ > *next)) arm(*next);
        }
    }

    std::mutex timer_mutex_;  // the Asio timer and what it is armed for
    std::optional<asio::steady_timer> timer_;
    SteadyTime armed_for_{};
    bool armed_ = false;
    bool stopped_ = false;
};

}  // namespace

TimerQueue& system_timers(const Executor& executor) {
    return context_service<SystemTimers>(
        executor, [](SystemTimers& timers, const Executor& first) { timers.bind(first); });
}

}  // namespace afterwork::detail
