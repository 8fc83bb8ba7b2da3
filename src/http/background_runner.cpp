// SPDX-License-Identifier: MIT
// The background-task runner: takes the BackgroundTasks of an answered request, runs them on
// the loop or the background pool, keeps the counters (scheduled, succeeded, failed, dropped,
// abandoned, pending) and drains or cancels them at shutdown. Apart from dispatch because it
// runs after the response and changes with how tasks run, not with how requests are answered.
#include "http/background_runner.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/outcome.hpp>

#include "http/app_core.hpp"

namespace afterwork::detail {

namespace {

// The tasks of one answered request. Whatever it has not run when it is destroyed — dropped
// from the pool's queue or cancelled at shutdown — is counted and logged as abandoned, so no
// accepted work disappears silently.
struct BackgroundBatch {
    BackgroundRunner* runner;
    BackgroundTasks::Entries entries;
    std::string request_id;
    const Route* route;  // lives as long as the app; named only in logs
    std::size_t next = 0;

    BackgroundBatch(BackgroundRunner* owner, BackgroundTasks::Entries e, std::string id,
                    const Route* r)
        : runner(owner), entries(std::move(e)), request_id(std::move(id)), route(r) {}
    BackgroundBatch(BackgroundBatch&& other) noexcept
        : runner(std::exchange(other.runner, nullptr)),
          entries(std::move(other.entries)),
          request_id(std::move(other.request_id)),
          route(other.route),
          next(other.next) {}
    BackgroundBatch& operator=(BackgroundBatch&&) = delete;

    ~BackgroundBatch() {
        if (!runner || next >= entries.size()) return;
        std::uint64_t left = entries.size() - next;
        runner->counters().abandoned.fetch_add(left, std::memory_order_relaxed);
        spdlog::warn("abandoned {} background task(s) of {} (request id {}): not run or cancelled",
                     left, route_name(), request_id);
        runner->finish(left);
    }

    std::string route_name() const { return route->method + " " + route->pattern; }

    // Records the end of entries[next] and moves on.
    void complete(const std::exception_ptr& error) {
        if (error) {
            runner->counters().failed.fetch_add(1, std::memory_order_relaxed);
            spdlog::error("background task {} of {} failed (request id {}): {}", next + 1,
                          route_name(),
                          request_id, describe_exception(error));
        } else {
            runner->counters().succeeded.fetch_add(1, std::memory_order_relaxed);
        }
        ++next;
        runner->finish(1);
    }

    void run_blocking() {
        std::exception_ptr error;
        try {
            entries[next].blocking();
        } catch (...) {
            error = std::current_exception();
        }
        complete(error);
    }
};

Task<void> run_entry(BlockingPool& pool, BackgroundTasks::Entry& entry) {
    if (entry.coroutine) {
        co_await entry.coroutine();
    } else {
        // Not cancellable: the call uses the entry, which the batch's frame owns.
        co_await detail::offload<false>(pool, [&entry] { entry.blocking(); });
    }
}

Task<void> run_background(BackgroundBatch batch) {
    while (batch.next < batch.entries.size()) {
        auto& entry = batch.entries[batch.next];
        const RunOutcome run = co_await run_guarded(run_entry(batch.runner->pool(), entry));
        // Cancelled at shutdown: the batch's destructor reports this task and the rest.
        if (run.cancelled()) co_return;
        batch.complete(run.error);
    }
}

}  // namespace

BackgroundRunner::BackgroundRunner(std::function<Queue&()> jobs) {
    gate_.pending = &counters_.pending;
    gate_.jobs = std::move(jobs);
    spawned_.on_empty([this] { idle_waiters_.notify(); });
}

void BackgroundRunner::start(std::size_t threads, std::size_t queue_limit) {
    // The gate refuses new tasks at the limit, so the pool's queue (one item per request)
    // never fills before it.
    gate_.limit = queue_limit;
    pool_ = std::make_unique<BlockingPool>(
        BlockingPoolOptions{"background", threads, queue_limit + 1});
    group_ = std::make_unique<TaskGroup>("background");
}

void BackgroundRunner::release() noexcept {
    pool_.reset();
    group_.reset();
}

BackgroundStats BackgroundRunner::stats() const noexcept {
    return {counters_.scheduled.load(), counters_.succeeded.load(), counters_.failed.load(),
            counters_.dropped.load(),   counters_.abandoned.load(), counters_.pending.load()};
}

void BackgroundRunner::schedule(BackgroundTasks::Entries entries, const Executor& executor,
                                std::string request_id, const Route* route) {
    if (entries.empty()) return;
    const auto count = entries.size();
    counters_.scheduled.fetch_add(count, std::memory_order_relaxed);
    counters_.pending.fetch_add(count);
    BackgroundBatch batch(this, std::move(entries), std::move(request_id), route);
    if (closed_.load()) {
        spdlog::error("background tasks refused: the app is shutting down");
        return;  // the batch reports the abandon
    }
    const bool all_blocking = std::all_of(batch.entries.begin(), batch.entries.end(),
                                          [](const auto& entry) { return !entry.coroutine; });
    if (all_blocking) {
        // Plain functions only: one trip to the pool runs them all in order, with no hop back
        // to the loop between them.
        BlockingPool::Work work = [batch = std::move(batch)]() mutable {
            while (batch.next < batch.entries.size()) batch.run_blocking();
        };
        if (!pool_->try_submit(work)) {
            spdlog::error("background pool refused {} task(s): its queue is full or closed",
                          count);
        }
        return;  // a refused `work` is destroyed here and its batch reports the abandon
    }
    try {
        group_->spawn(executor, run_background(std::move(batch)), "background");
    } catch (const std::exception& e) {
        spdlog::error("cannot start background tasks: {}", e.what());
    }
}

Task<bool> BackgroundRunner::wait_tasks_done(Clock::time_point deadline) {
    const auto done = [this] { return tasks_done(); };
    co_return co_await idle_waiters_.wait_until(deadline, done);
}

void BackgroundRunner::request_stop() noexcept {
    closed_ = true;
    if (group_) group_->close();
    spawned_.close();
}

void BackgroundRunner::hurry() noexcept {
    hurry_ = true;
    idle_waiters_.notify();
}

Task<bool> BackgroundRunner::stop(Clock::time_point deadline) {
    request_stop();
    const auto idle_or_hurried = [this] { return idle() || hurry_.load(); };
    if (co_await idle_waiters_.wait_until(deadline, idle_or_hurried) && idle()) co_return true;
    spdlog::warn(
        "{} background task(s) and {} tracked task(s) still running after the drain "
        "timeout: cancelling",
        counters_.pending.load(), spawned_.size());
    if (group_) group_->cancel_all(CancelReason::shutdown);
    spawned_.cancel_all(CancelReason::shutdown);
    // Destroying the dropped items abandons their batches (counted and logged).
    if (pool_) pool_->drop_pending();
    // The cancelled tasks clean up: they get this wait even after a second signal.
    const auto is_idle = [this] { return idle(); };
    co_return co_await idle_waiters_.wait_until(Clock::now() + std::chrono::seconds(5), is_idle);
}

void AppCore::after_response(BackgroundTasks& tasks, bool handler_failed,
                             const RequestData& data) {
    if (tasks.empty()) return;
    const auto added = tasks.size();
    auto entries = tasks.release(handler_failed);
    if (entries.size() < added) background.count_dropped(added - entries.size());
    if (entries.empty()) return;
    // Only a matched route's handler can add tasks.
    background.schedule(std::move(entries), data.executor, data.request_id, data.match.route);
}

}  // namespace afterwork::detail
