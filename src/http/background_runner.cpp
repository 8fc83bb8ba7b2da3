// SPDX-License-Identifier: MIT
// The background-task runner: takes the BackgroundTasks of an answered request, runs them on
// the loop or the background pool, and keeps the counters (scheduled, succeeded, failed,
// dropped, abandoned, pending). Apart from dispatch because it runs after the response and
// changes with how tasks run, not with how requests are answered.
#include "http/app_core.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <afterwork/runtime/offload.hpp>

namespace afterwork::detail {

namespace {

// The tasks of one answered request. Whatever it has not run when it is destroyed — dropped
// from the pool's queue or cancelled at shutdown — is counted and logged as abandoned, so no
// accepted work disappears silently.
struct BackgroundBatch {
    AppCore* app;
    BackgroundTasks::Entries entries;
    std::string request_id;
    const Route* route;  // lives as long as the app; named only in logs
    std::size_t next = 0;

    BackgroundBatch(AppCore* a, BackgroundTasks::Entries e, std::string id,
                    const Route* r)
        : app(a), entries(std::move(e)), request_id(std::move(id)), route(r) {}
    BackgroundBatch(BackgroundBatch&& other) noexcept
        : app(std::exchange(other.app, nullptr)),
          entries(std::move(other.entries)),
          request_id(std::move(other.request_id)),
          route(other.route),
          next(other.next) {}
    BackgroundBatch& operator=(BackgroundBatch&&) = delete;

    ~BackgroundBatch() {
        if (!app || next >= entries.size()) return;
        std::uint64_t left = entries.size() - next;
        app->background.abandoned.fetch_add(left, std::memory_order_relaxed);
        spdlog::warn("abandoned {} background task(s) of {} (request id {}): not run or cancelled",
                     left, route_name(), request_id);
        app->finish_background(left);
    }

    std::string route_name() const { return route->method + " " + route->pattern; }

    // Records the end of entries[next] and moves on.
    void complete(const std::exception_ptr& error) {
        if (error) {
            app->background.failed.fetch_add(1, std::memory_order_relaxed);
            spdlog::error("background task {} of {} failed (request id {}): {}", next + 1,
                          route_name(),
                          request_id, describe_exception(error));
        } else {
            app->background.succeeded.fetch_add(1, std::memory_order_relaxed);
        }
        ++next;
        app->finish_background(1);
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

Task<void> run_background(BackgroundBatch batch) {
    while (batch.next < batch.entries.size()) {
        auto& entry = batch.entries[batch.next];
        std::exception_ptr error;
        try {
            if (entry.coroutine) {
                co_await entry.coroutine();
            } else {
                // Not cancellable: the call uses the entry, which this frame owns.
                co_await detail::offload<false>(*batch.app->background_pool,
                                                [&entry] { entry.blocking(); });
            }
        } catch (...) {
            error = std::current_exception();
        }
        // Cancelled at shutdown: the batch's destructor reports this task and the rest.
        if (is_cancellation(error)) co_return;
        batch.complete(error);
    }
}

}  // namespace

void AppCore::after_response(BackgroundTasks& tasks, bool handler_failed,
                             const RequestData& data) {
    if (tasks.empty()) return;
    const auto added = tasks.size();
    auto entries = tasks.release(handler_failed);
    if (entries.size() < added) {
        background.dropped.fetch_add(added - entries.size(), std::memory_order_relaxed);
    }
    if (entries.empty()) return;
    // Only a matched route's handler can add tasks.
    schedule_background(std::move(entries), data.executor, data.request_id, data.match.route);
}

void AppCore::schedule_background(BackgroundTasks::Entries entries,
                                  const Executor& executor, std::string request_id,
                                  const Route* route) {
    if (entries.empty()) return;
    const auto count = entries.size();
    background.scheduled.fetch_add(count, std::memory_order_relaxed);
    background.pending.fetch_add(count, std::memory_order_relaxed);
    bool all_blocking = std::all_of(entries.begin(), entries.end(),
                                    [](const auto& entry) { return !entry.coroutine; });
    BackgroundBatch batch(this, std::move(entries), std::move(request_id), route);
    if (all_blocking) {
        // Plain functions only: one trip to the pool runs them all in order, with no hop back
        // to the loop between them.
        BlockingPool::Work work = [batch = std::move(batch)]() mutable {
            while (batch.next < batch.entries.size()) batch.run_blocking();
        };
        if (!background_pool->try_submit(work)) {
            spdlog::error("background pool refused {} task(s): its queue is full or closed",
                          count);
        }
        return;  // a refused `work` is destroyed here and its batch reports the abandon
    }
    try {
        background_group->spawn(executor, run_background(std::move(batch)), "background");
    } catch (const std::exception& e) {
        spdlog::error("cannot start background tasks: {}", e.what());
    }
}

}  // namespace afterwork::detail
