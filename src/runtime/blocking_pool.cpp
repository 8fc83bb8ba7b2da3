// SPDX-License-Identifier: MIT
#include <afterwork/runtime/blocking_pool.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

namespace afterwork {

struct BlockingPool::State {
    explicit State(BlockingPoolOptions opts) : options(std::move(opts)) {}

    BlockingPoolOptions options;
    mutable std::mutex mutex;
    std::condition_variable work_ready;
    std::condition_variable idle;
    std::deque<Work> queue;
    std::vector<std::thread> threads;
    std::size_t waiting_threads = 0;  // threads blocked on work_ready
    std::size_t running = 0;          // threads inside a work item
    bool closed = false;
    bool stopping = false;

    void worker() {
        std::unique_lock lock(mutex);
        for (;;) {
            while (queue.empty() && !stopping) {
                ++waiting_threads;
                work_ready.wait(lock);
                --waiting_threads;
            }
            if (queue.empty()) return;  // stopping and drained
            Work work = std::move(queue.front());
            queue.pop_front();
            ++running;
            lock.unlock();
            try {
                work();
            } catch (const std::exception& e) {
                spdlog::error("{} pool: work item threw: {}", options.name, e.what());
            } catch (...) {
                spdlog::error("{} pool: work item threw a non-standard exception", options.name);
            }
            work = nullptr;  // destroy captured state outside the lock
            lock.lock();
            --running;
            if (running == 0 && queue.empty()) idle.notify_all();
        }
    }
};

BlockingPool::BlockingPool(BlockingPoolOptions options)
    : state_(std::make_unique<State>(std::move(options))) {
    if (state_->options.max_threads == 0) state_->options.max_threads = 1;
}

BlockingPool::~BlockingPool() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(state_->mutex);
        state_->closed = true;
        state_->stopping = true;
        threads = std::move(state_->threads);
    }
    state_->work_ready.notify_all();
    for (auto& thread : threads) thread.join();
}

bool BlockingPool::try_submit(Work& work) {
    bool notify = false;
    {
        std::lock_guard lock(state_->mutex);
        if (state_->closed || state_->queue.size() >= state_->options.queue_limit) return false;
        state_->queue.push_back(std::move(work));
        // Wake a sleeper only if one exists; otherwise grow while below the cap. A busy pool
        // takes the next item without any futex traffic.
        if (state_->waiting_threads > 0) {
            notify = true;
        } else if (state_->threads.size() < state_->options.max_threads) {
            state_->threads.emplace_back([state = state_.get()] { state->worker(); });
        }
    }
    if (notify) state_->work_ready.notify_one();
    return true;
}

void BlockingPool::submit(Work work) {
    if (!try_submit(work)) {
        throw PoolOverloaded(state_->options.name +
                             " pool is at its queue limit or stopped; try again later");
    }
}

bool BlockingPool::wait_idle(std::chrono::steady_clock::duration timeout) {
    std::unique_lock lock(state_->mutex);
    return state_->idle.wait_for(lock, timeout,
                                 [&] { return state_->queue.empty() && state_->running == 0; });
}

void BlockingPool::close() noexcept {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
}

std::size_t BlockingPool::drop_pending() noexcept {
    std::deque<Work> dropped;
    {
        std::lock_guard lock(state_->mutex);
        dropped.swap(state_->queue);
        if (state_->running == 0) state_->idle.notify_all();
    }
    return dropped.size();
}

std::size_t BlockingPool::queued() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->queue.size();
}

std::size_t BlockingPool::running() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->running;
}

const BlockingPoolOptions& BlockingPool::options() const noexcept { return state_->options; }

}  // namespace afterwork
