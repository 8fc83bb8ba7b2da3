// SPDX-License-Identifier: MIT
#pragma once

// ProgressChannel: the write-behind path of JobContext::set_progress. `set` only stores the
// latest value under a lock and, when no writer runs, spawns one on the worker's loop; the
// writer writes at most once per `interval` (through the blocking pool) until nothing new is
// pending. `close` stops the writer and hands back what it had not written, so the worker
// writes the last value itself, before the job's outcome. Thread-safe.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <afterwork/jobs/store.hpp>
#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork::detail {

struct ProgressValue {
    double fraction = 0;
    std::string message;
};

/// Where a worker's progress writes go; one per worker, shared by its jobs' channels.
struct ProgressSink {
    std::shared_ptr<Store> store;
    std::string worker_id;
    Executor executor;
    std::chrono::milliseconds interval;
    std::shared_ptr<Clock> clock;  ///< the queue's: what `interval` is measured on
};

class ProgressChannel : public std::enable_shared_from_this<ProgressChannel> {
public:
    ProgressChannel(std::shared_ptr<const ProgressSink> sink, JobId id)
        : sink_(std::move(sink)), id_(id) {}

    void set(double fraction, std::string message);
    /// Ends the writer (waits for a write in flight) and returns the value not yet written.
    Task<std::optional<ProgressValue>> close();
    /// `close` without waiting, for the common case of no write in flight: closes and returns
    /// the value not yet written (engaged, maybe empty); nullopt, changing nothing, when a
    /// writer runs (then `close` must be awaited).
    std::optional<std::optional<ProgressValue>> close_if_idle();
    /// Writes `value` now (blocking; on a pool thread).
    void write(const ProgressValue& value) const;

private:
    friend Task<void> progress_writer(std::shared_ptr<ProgressChannel> channel);

    std::shared_ptr<const ProgressSink> sink_;
    JobId id_;

    std::mutex mutex_;
    std::optional<ProgressValue> pending_;
    bool writing_ = false;
    bool closed_ = false;
    TaskHandle<void> writer_;
    SteadyTime last_write_{};
};

}  // namespace afterwork::detail
