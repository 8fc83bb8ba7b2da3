// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `BlockingPool`: a bounded pool of threads for blocking calls (files, SQLite, sync user code),
/// so they never stall an event loop.
///
/// Threads start on demand up to `max_threads` and stay; work waits in a FIFO queue of at most
/// `queue_limit` items. A full queue refuses work with `PoolOverloaded` (an HTTP service maps it
/// to 503) instead of growing without bound. The app keeps separate pools for sync handlers and
/// for sync background tasks, so heavy background work cannot starve request handling.
///
/// @par Thread safety
/// Thread-safe: every member may be called from any thread.
///
/// @par Lifetime
/// Destruction stops intake, finishes the queued work and joins the threads; call
/// `drop_pending()` first to abandon the queue instead.

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

#include <afterwork/detail/unique_function.hpp>

namespace afterwork {

/// Thrown when a pool's queue is full or the pool has stopped.
class PoolOverloaded : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct BlockingPoolOptions {
    std::string name = "blocking";
    std::size_t max_threads = 16;
    std::size_t queue_limit = 100'000;
};

class BlockingPool {
public:
    using Work = detail::UniqueFunction<void()>;

    explicit BlockingPool(BlockingPoolOptions options = {});
    BlockingPool(const BlockingPool&) = delete;
    BlockingPool& operator=(const BlockingPool&) = delete;
    ~BlockingPool();

    /// Queues `work` (moving from it) and returns true; returns false and leaves `work` as it
    /// was when the queue is full or the pool is closed. An exception escaping `work` is logged
    /// and swallowed: callers that care catch inside.
    [[nodiscard]] bool try_submit(Work& work);

    /// Queues `work` or throws `PoolOverloaded`.
    void submit(Work work);

    /// Blocks the calling thread until queue and threads are idle or `timeout` passes; true when
    /// idle. Never call it from a thread of this pool.
    bool wait_idle(std::chrono::steady_clock::duration timeout);

    /// Stops intake: later submissions fail. Queued work still runs.
    void close() noexcept;

    /// Removes the work that has not started and returns how much was dropped.
    std::size_t drop_pending() noexcept;

    std::size_t queued() const noexcept;
    std::size_t running() const noexcept;
    const BlockingPoolOptions& options() const noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace afterwork
