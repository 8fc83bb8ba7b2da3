// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Worker`: runs the jobs of a `Queue`'s definitions on an event loop, at most `concurrency`
/// at a time, from the queues it serves.
///
/// - **Claims under a lease** (default 30 s) and renews it with a heartbeat that runs on the
///   worker's loop apart from the handlers, so a CPU-heavy job on the CPU pool is never taken
///   for a stalled one. A heartbeat that finds the lease lost (the worker hung past it and
///   another took the job) cancels the local run and drops its result; one that finds a
///   cancel request cancels the run, which ends `cancelled`.
/// - **Idle without spinning**: an enqueue through the same `Queue` wakes the worker at once;
///   jobs enqueued by other processes are found by a poll (`poll_interval`), and a scheduled
///   or retrying job is claimed when it falls due (`Store::next_due_at`).
/// - **Failures**: a handler that throws is retried after an exponential backoff with full
///   jitter, or ends dead after its last attempt; a timeout cancels the handler and counts as
///   a failed attempt ("timed out after N ms"). Cancellation is not a failure.
/// - **Jobs it has no definition for.** The store cannot claim by name, so such a job is
///   claimed with the rest; the worker then fails that attempt with "no definition of job
///   `<name>` in worker `<id>`" and a retry after `unknown_retry_delay`, so a worker that knows
///   it can take it meanwhile, and it is dead once its attempts are used up. Serve a queue only
///   from workers that define every job sent to it.
/// - **Housekeeping**: every worker requeues expired leases (`requeue_interval`) and purges
///   finished jobs past their time to live (`purge_interval`).
/// - **Graceful stop**: `stop(grace)` stops claiming, lets running jobs finish for up to
///   `grace`, then cancels them and releases the unfinished ones to the store (their attempt
///   is not counted) so another worker takes them.
/// - **Flat memory**: nothing about a job is kept once its outcome is written.
///
/// Successful outcomes are written in batches (`Store::complete_many`): while one write is in
/// flight, the jobs that finish meanwhile gather for the next, which costs no latency when idle
/// and saves a transaction per job when busy.
///
/// @par Thread safety
/// Thread-safe: every member may be called from any thread, except that `stop` blocks and must
/// not be called on the worker's own loop thread.
///
/// @par Lifetime
/// Destruction stops the worker without grace (running jobs are cancelled and released). The
/// executor's loop must run until `stop` returns.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <afterwork/jobs/queue.hpp>
#include <afterwork/runtime/service.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

/// `Worker` settings. An aggregate: `{.concurrency = 4, .queues = {"mail"}}`.
struct WorkerOptions {
    /// Who holds the leases; default `<host>-<pid>-<n>`.
    std::string id;
    /// The queues served; empty serves every queue.
    std::vector<std::string> queues;
    /// Handlers running at once.
    std::size_t concurrency = 10;
    std::chrono::milliseconds lease{std::chrono::seconds(30)};
    /// How often leases are renewed; default a third of the lease.
    std::chrono::milliseconds heartbeat_interval{0};
    /// How often an idle worker looks for jobs other processes enqueued.
    std::chrono::milliseconds poll_interval{500};
    std::chrono::milliseconds requeue_interval{std::chrono::seconds(5)};
    std::chrono::milliseconds purge_interval{std::chrono::seconds(60)};
    /// The least time between two progress writes of one job.
    std::chrono::milliseconds progress_interval{250};
    /// When a job this worker has no definition for is due again.
    std::chrono::milliseconds unknown_retry_delay{std::chrono::seconds(30)};
    /// How long a job that died by lease expiry is kept (`requeue_expired`).
    std::chrono::seconds dead_ttl{std::chrono::hours(24 * 7)};
};

/// What a worker did so far.
struct WorkerStats {
    std::uint64_t claimed = 0;
    std::uint64_t succeeded = 0;
    std::uint64_t retried = 0;    ///< failed attempts with another one pending
    std::uint64_t dead = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t released = 0;
    std::uint64_t lease_lost = 0;  ///< runs dropped because another worker had the job
    std::uint64_t requeued_expired = 0;  ///< other workers' expired leases this one requeued
    std::size_t running = 0;       ///< handlers running now
};

namespace detail {
struct WorkerState;
}  // namespace detail

class Worker : public Service {
public:
    /// A worker for the definitions of `queue`, running on `executor` (its loop must run).
    /// @throws std::invalid_argument for a zero concurrency, lease or interval.
    Worker(Queue& queue, Executor executor, WorkerOptions options = {});
    /// A worker whose handlers take turns over `executors` (e.g. one per loop, to use every
    /// core); claims, heartbeats and outcome writes run on the first.
    /// @throws std::invalid_argument for no executor, or as above.
    Worker(Queue& queue, std::vector<Executor> executors, WorkerOptions options = {});
    ~Worker() override;

    /// Starts claiming. @throws std::logic_error when started twice or after `stop`.
    void start();
    std::string_view service_name() const noexcept override;
    /// Stops claiming; running jobs go on. Returns at once.
    void request_stop() noexcept override;
    /// From a task: stops claiming, lets running jobs finish until `deadline`, then cancels the
    /// rest (their outcomes release them to the store) and waits for those writes and for the
    /// housekeeping to end, each bounded (10 s) — so it may return a little after `deadline`.
    /// True when everything ended in time.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the stop goes on.
    Task<bool> stop(std::chrono::steady_clock::time_point deadline) override;
    /// The same from a plain thread (never the worker's loop), with `grace` for running jobs.
    bool stop(std::chrono::steady_clock::duration grace = std::chrono::seconds(10));

    const std::string& id() const noexcept;
    WorkerStats stats() const;


private:
    std::shared_ptr<detail::WorkerState> state_;
};

}  // namespace afterwork
