// SPDX-License-Identifier: MIT
#include <afterwork/runtime/blocking_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "runtime/thread_start.hpp"

namespace afterwork {

struct BlockingPool::State {
    explicit State(BlockingPoolOptions opts) : options(std::move(opts)) {}

    BlockingPoolOptions options;
    mutable std::mutex mutex;
    std::condition_variable work_ready;
    std::condition_variable idle;
    std::deque<Work> queue;
    std::atomic<std::size_t> queue_size{0};  // mirrors queue.size() for the spinner
    std::vector<std::thread> threads;
    std::size_t sleeping = 0;      // threads blocked on work_ready
    std::size_t spinning = 0;      // 0 or 1: a thread polling for work before it sleeps
    std::size_t running = 0;       // threads inside a work item
    std::size_t idle_waiters = 0;  // wait_idle callers
    bool closed = false;
    std::atomic<bool> stopping{false};

    // How long an idle thread polls for the next item before it sleeps. Under a steady stream
    // of short items (a log line per request) one thread keeps up without any futex wake-up;
    // the cost when idle is one short spin per burst.
    static constexpr auto kSpin = std::chrono::microseconds(50);

    void spin_for_work() {
        const auto until = std::chrono::steady_clock::now() + kSpin;
        for (unsigned i = 1;; ++i) {
            if (queue_size.load(std::memory_order_acquire) > 0 ||
                stopping.load(std::memory_order_relaxed)) {
                return;
            }
            if (i % 16 == 0) {
                if (std::chrono::steady_clock::now() >= until) return;
                // Let a thread this one woke run first when they share a CPU (the loop that
                // waits for this pool's result, on a busy or single-CPU machine).
                std::this_thread::yield();
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }

    void worker() {
        std::unique_lock lock(mutex);
        bool spun = false;
        for (;;) {
            if (!queue.empty()) {
                Work work = std::move(queue.front());
                queue.pop_front();
                queue_size.store(queue.size(), std::memory_order_relaxed);
                // Work is left and nobody looks for it: hand it to a sleeper.
                if (!queue.empty() && spinning == 0 && sleeping > 0) work_ready.notify_one();
                ++running;
                lock.unlock();
                try {
                    work();
                } catch (const std::exception& e) {
                    spdlog::error("{} pool: work item threw: {}", options.name, e.what());
                } catch (...) {
                    spdlog::error("{} pool: work item threw a non-standard exception",
                                  options.name);
                }
                work = nullptr;  // destroy captured state outside the lock
                lock.lock();
                --running;
                if (running == 0 && queue.empty() && idle_waiters > 0) idle.notify_all();
                spun = false;
                continue;
            }
            if (stopping.load(std::memory_order_relaxed)) return;
            if (!spun && spinning == 0) {
                spinning = 1;
                lock.unlock();
                spin_for_work();
                lock.lock();
                spinning = 0;
                spun = true;
                continue;
            }
            ++sleeping;
            work_ready.wait(lock);
            --sleeping;
            spun = false;
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
        state_->stopping.store(true);
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
        state_->queue_size.store(state_->queue.size(), std::memory_order_release);
        // A spinning thread will take it; else wake a sleeper; else grow while below the cap.
        if (state_->spinning == 0) {
            if (state_->sleeping > 0) {
                notify = true;
            } else if (state_->threads.size() < state_->options.max_threads) {
                detail::before_thread_start();
                state_->threads.emplace_back([state = state_.get()] { state->worker(); });
            }
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
    ++state_->idle_waiters;
    bool idle = state_->idle.wait_for(
        lock, timeout, [&] { return state_->queue.empty() && state_->running == 0; });
    --state_->idle_waiters;
    return idle;
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
        state_->queue_size.store(0);
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
