// SPDX-License-Identifier: MIT
#include <afterwork/runtime/offload.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <afterwork/detail/waiter.hpp>

namespace afterwork {

// The default pools are never destroyed: a call still blocked at exit must not hold the
// process in a destructor that joins its thread; exit ends it with the process.
BlockingPool& default_blocking_pool() {
    static auto* pool = new BlockingPool(BlockingPoolOptions{
        "blocking", std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4), 10'000});
    return *pool;
}

BlockingPool& cpu_pool() {
    static auto* pool = new BlockingPool(BlockingPoolOptions{
        "cpu", std::max<std::size_t>(1, std::thread::hardware_concurrency()), 10'000});
    return *pool;
}

namespace detail {

namespace {

// What the pool job and the waiting coroutine share: the job may outlive the wait (a
// cancelled caller does not wait for it). Whoever claims it first — the job's end or the
// caller's cancellation — resumes the caller; the other does nothing.
struct PoolHandOff {
    std::atomic<bool> claimed{false};
    std::atomic<bool> posted{false};  // the job claimed it and is done posting the resumption
    TaskCore* task = nullptr;
    std::coroutine_handle<> handle;
    bool claim() noexcept { return !claimed.exchange(true, std::memory_order_acq_rel); }
};

class PoolWait final : public Suspension {
public:
    PoolWait(BlockingPool& pool, UniqueFunction<void()>& work, bool cancellable)
        : Suspension(&PoolWait::cancel_wait), pool_(pool), work_(work), cancellable_(cancellable) {}
    PoolWait(const PoolWait&) = delete;
    PoolWait& operator=(const PoolWait&) = delete;
    ~PoolWait() {
        // A frame destroyed while waiting (its loop went away): the job must not resume it.
        if (!hand_off_ || resumed_ || hand_off_->claim()) return;
        // The job claimed it first and may still be reading the task to post the resumption
        // into the context now being destroyed: once the task is marked abandoned its cell
        // may be freed, and the post must be counted before the context's wait for posts in
        // flight. Wait until the job is done (it only posts).
        for (int spins = 0; !hand_off_->posted.load(std::memory_order_acquire); ++spins) {
            if (spins > 64) std::this_thread::yield();
        }
    }

    bool await_ready() const noexcept { return false; }

    template <TaskPromise P>
    bool await_suspend(std::coroutine_handle<P> self) {
        task_ = self.promise().task;
        if (cancellable_ && cancel_requested(*task_)) {
            cancelled_ = true;
            return false;
        }
        hand_off_ = std::make_shared<PoolHandOff>();
        hand_off_->task = task_;
        hand_off_->handle = self;
        BlockingPool::Work item = [hand_off = hand_off_, work = std::move(work_)]() mutable {
            work();
            // The call and its arguments go before the caller resumes, not when the pool is
            // done with the item: they may hold the last reference to something the caller
            // tears down once resumed (a worker's state, whose strand belongs to a loop that
            // is then destroyed).
            work = nullptr;
            if (hand_off->claim()) {
                struct Posted {  // also when the post throws
                    std::atomic<bool>& flag;
                    ~Posted() { flag.store(true, std::memory_order_release); }
                } posted{hand_off->posted};
                resume_on(*hand_off->task, hand_off->handle);
            }
        };
        if (!pool_.try_submit(item)) {
            refused_ = true;
            hand_off_->claim();
            return false;
        }
        if (cancellable_) set_suspension(*task_, this);
        return true;
    }

    void await_resume() {
        resumed_ = true;
        if (cancelled_) throw_cancelled("wait for a blocking call cancelled");
        if (refused_) {
            throw PoolOverloaded(pool_.options().name + " pool is at its queue limit or stopped");
        }
        if (cancellable_) set_suspension(*task_, nullptr);
    }

private:
    static void cancel_wait(Suspension& self) noexcept {
        auto& wait = static_cast<PoolWait&>(self);
        if (!wait.hand_off_->claim()) return;  // the call ended: its resumption is on its way
        wait.cancelled_ = true;
        set_suspension(*wait.task_, nullptr);
        wait.hand_off_->handle.resume();
    }

    BlockingPool& pool_;
    UniqueFunction<void()>& work_;
    TaskCore* task_ = nullptr;
    std::shared_ptr<PoolHandOff> hand_off_;
    bool cancellable_;
    bool cancelled_ = false;
    bool refused_ = false;
    bool resumed_ = false;  // await_resume ran: the job no longer touches the frame or task
};

}  // namespace

Task<void> await_blocking(BlockingPool& pool, UniqueFunction<void()> work, bool cancellable) {
    co_await PoolWait(pool, work, cancellable);
}

}  // namespace detail
}  // namespace afterwork
