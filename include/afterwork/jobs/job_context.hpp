// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `JobContext`: what a job handler is told about the attempt it runs — id, name, attempt
/// number, arguments — and how it talks back: progress, and whether it was asked to stop.
///
/// Durable jobs are at-least-once: an attempt may be a rerun of one whose worker died, so a
/// handler with side effects should check `attempt()` or make them idempotent.
///
/// @par Thread safety
/// Thread-safe: `set_progress` and `cancel_requested` may be called from the handler's loop,
/// a pool thread or any other thread; the rest is immutable.
///
/// @par Lifetime
/// Owned by the worker for the attempt (shared with a plain function still running on the
/// pool after its attempt was cancelled). Do not keep a reference past the handler's return.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include <afterwork/jobs/job.hpp>

namespace afterwork {

namespace detail {
class ProgressChannel;
struct ProgressSink;
}

class JobContext {
public:
    /// For workers (and tests of handlers): the attempt `record` describes, with its parsed
    /// arguments. `progress` is where progress goes; null keeps it nowhere.
    JobContext(const JobRecord& record, boost::json::value args,
               std::shared_ptr<const detail::ProgressSink> progress = nullptr);
    JobContext(const JobContext&) = delete;
    JobContext& operator=(const JobContext&) = delete;
    ~JobContext();

    JobId id() const noexcept { return id_; }
    const std::string& name() const noexcept { return name_; }
    const std::string& queue() const noexcept { return queue_; }
    /// This attempt's number, from 1; greater than 1 on a retry or after a worker died.
    int attempt() const noexcept { return attempt_; }
    int max_attempts() const noexcept { return max_attempts_; }
    const boost::json::value& args() const noexcept { return args_; }

    /// Records progress: `fraction` in 0..1 and a message, visible in the store (REST API,
    /// command line) shortly after. Writes are coalesced: calling it in a tight loop costs a
    /// lock, and the store sees at most a few writes a second per job, the latest value
    /// always among them (the last one lands before the job's outcome).
    /// @throws std::invalid_argument for a fraction outside 0..1 (or NaN).
    void set_progress(double fraction, std::string message = {});

    /// True once the job was cancelled, timed out, lost its lease or the worker is shutting
    /// down: a plain function should poll it and return early. Coroutines see
    /// operation_aborted at their next suspension point as well.
    bool cancel_requested() const noexcept {
        return cancel_requested_.load(std::memory_order_acquire);
    }

    /// For workers: sets the flag `cancel_requested` reads.
    void request_cancel() noexcept { cancel_requested_.store(true, std::memory_order_release); }

    /// For workers, when the attempt has ended: later `set_progress` calls are dropped, and
    /// the channel progress went through is returned (null when none was set), so its last
    /// value can be written before the outcome.
    std::shared_ptr<detail::ProgressChannel> end_progress();

private:
    JobId id_;
    std::string name_;
    std::string queue_;
    int attempt_;
    int max_attempts_;
    boost::json::value args_;
    std::shared_ptr<const detail::ProgressSink> sink_;
    std::atomic<bool> cancel_requested_{false};
    // Made on the first `set_progress`: most jobs never report progress.
    std::mutex progress_mutex_;  // the two below
    std::shared_ptr<detail::ProgressChannel> channel_;
    bool progress_ended_ = false;
};

}  // namespace afterwork
