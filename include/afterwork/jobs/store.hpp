// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Store`: where durable jobs live. One interface, several implementations — `MemoryStore`
/// (tests, the fastest), `SqliteStore` (the embedded default) and a Redis store (many machines)
/// — held to the same behaviour by one conformance suite (tests/conformance).
///
/// Each operation is one atomic step on the shared data, as one SQL transaction or one Redis
/// Lua script would be: it either happens completely or not at all, and a failed call changes
/// nothing. Nothing here reads a clock: every operation that depends on time takes `now`, so
/// the queue layer decides what time it is and tests drive time by hand.
///
/// Operations are synchronous and may block on I/O; the queue layer calls them through
/// `to_thread`, never on an event loop.
///
/// @par Errors
/// Every operation returns `JobsResult<T>`; none throws for a condition of the store or of the
/// call (only `std::bad_alloc` escapes). Caller errors (`not_found`, `invalid_state`,
/// `lease_lost`, `duplicate`, `invalid_argument`) and storage errors (`busy`, `corrupt`,
/// `read_only`, `full`, `io_error`, ...) come back the same way, so the REST API and the
/// command line turn each into a clear answer without a try block.
///
/// @par Leases
/// `claim` hands a job to one worker with a lease until `now + lease`. The owner renews it with
/// `heartbeat` and ends it with `complete`, `fail`, `mark_cancelled` or `release`. A lease
/// ends for real when someone sees it expired — `requeue_expired` puts the job back (the
/// attempt stays counted: at-least-once) — and from then on the old owner's calls fail with
/// `lease_lost` and change nothing. Until then a late owner may still renew or finish it, which
/// loses nothing since no one else has the job.
///
/// @par Thread safety
/// Thread-safe: every implementation allows any member to be called from any thread at the
/// same time, and several `Store` objects (processes) may share one database.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/jobs_error.hpp>

namespace afterwork {

/// The outcome of one `NewJob` of an enqueue.
struct EnqueueOutcome {
    JobId id = 0;
    /// False when a unique key matched an active job and `id` is that job's.
    bool created = false;

    friend bool operator==(const EnqueueOutcome&, const EnqueueOutcome&) = default;
};

/// At most `max_starts` jobs named `name` start in any window of `period`, counted by the store
/// across every worker and process that shares it (a global limit, not a per-worker one).
/// Every worker must pass the same limit for a name (it comes from the job's definition): the
/// store forgets starts older than the `period` it is given.
struct RateLimit {
    std::string name;
    std::int64_t max_starts = 0;  ///< 0 holds the name back entirely
    std::chrono::microseconds period{0};
};

/// What a worker asks `claim` for.
struct ClaimRequest {
    std::string worker_id;            ///< who will hold the leases; 1..kMaxNameLength bytes
    std::vector<std::string> queues;  ///< the queues served; empty means every queue
    std::size_t limit = 1;            ///< at most this many jobs
    TimePoint now{};
    std::chrono::microseconds lease{std::chrono::seconds(30)};  ///< lease_until = now + lease
    std::vector<RateLimit> rate_limits;  ///< per job name; names not listed are unlimited
};

/// One successful attempt for `Store::complete_many`.
struct Completion {
    JobId id = 0;
    std::optional<std::string> result_json;  ///< JSON text; nullopt keeps no result
    std::optional<TimePoint> expires_at;     ///< purge after; nullopt keeps it until removed
};

/// What `Store::complete_and_claim` did.
struct CompletedAndClaimed {
    std::vector<JobsResult<void>> completed;     ///< one per completion, as `complete_many`
    JobsResult<std::vector<JobRecord>> claimed;  ///< as `claim`
};

/// What `heartbeat` learnt about one job.
struct LeaseStatus {
    JobId id = 0;
    bool held = false;              ///< the worker still owns it; false: stop and drop it
    bool cancel_requested = false;  ///< someone cancelled it: tell the handler

    friend bool operator==(const LeaseStatus&, const LeaseStatus&) = default;
};

/// The jobs `requeue_expired` found with an ended lease, by what became of them.
struct ExpiredLeases {
    std::vector<JobId> requeued;  ///< attempts left: queued again
    std::vector<JobId> dead;      ///< that was the last attempt
    std::vector<JobId> cancelled;  ///< a cancel had been requested: not run again
};

/// Which jobs `list` returns; unset fields match everything.
struct JobFilter {
    std::optional<JobState> state;
    std::optional<std::string> queue;
    std::optional<std::string> name;
};

/// The largest `PageRequest::limit`.
inline constexpr std::size_t kMaxPageSize = 1'000;

/// A page of `list`, newest first. Paging is by id (keyset), so pages stay stable while jobs
/// are added: pass the previous page's `next_before_id` as `before_id`.
struct PageRequest {
    std::size_t limit = 50;           ///< 1..kMaxPageSize
    std::optional<JobId> before_id;  ///< only jobs with a smaller id
};

struct JobPage {
    std::vector<JobRecord> jobs;            ///< newest (highest id) first
    std::optional<JobId> next_before_id;  ///< set when more jobs match
};

/// The number of jobs in each state of one queue.
struct QueueCounts {
    std::string queue;
    std::array<std::int64_t, kJobStateCount> by_state{};

    std::int64_t operator[](JobState s) const noexcept {
        return by_state[static_cast<std::size_t>(s)];
    }
    std::int64_t total() const noexcept;

    friend bool operator==(const QueueCounts&, const QueueCounts&) = default;
};

/// The store interface. See the file comment for atomicity, errors, leases and threads.
/// @par Thread safety
/// Thread-safe.
class Store {
public:
    virtual ~Store() = default;

    /// "memory", "sqlite:/var/lib/app/afterwork.db", ... for logs and the command line.
    virtual std::string describe() const = 0;

    /// Whether a call may block on I/O (a file, a network). The queue layer runs blocking
    /// stores' calls on the blocking pool and calls the others inline on its loop, which
    /// saves two thread hand-offs per call for a store in memory.
    virtual bool blocks() const noexcept { return true; }

    // ---- producers -----------------------------------------------------------------------

    /// Adds `jobs` in one atomic batch and returns one outcome per job, in order. Every job is
    /// checked with `validate` first: one invalid job fails the whole batch with
    /// `invalid_argument` naming its index and field, and nothing is added. A job whose unique
    /// key matches an active job (scheduled, queued, running or failed) — or an earlier job of
    /// the same batch — is not added: its outcome carries the existing id and
    /// `created = false`. A `run_at` after `now` makes the job scheduled, otherwise queued
    /// (`run_at` = `now` when unset). `created_at` is `now`.
    [[nodiscard]] virtual JobsResult<std::vector<EnqueueOutcome>> enqueue(
        std::span<const NewJob> jobs, TimePoint now) = 0;

    /// `enqueue` of one job.
    [[nodiscard]] JobsResult<EnqueueOutcome> enqueue(const NewJob& job, TimePoint now);

    // ---- workers -------------------------------------------------------------------------

    /// Hands up to `request.limit` due jobs to `request.worker_id`.
    ///
    /// First every scheduled or failed job whose `run_at` is not after `now` becomes queued
    /// (at least in the queues asked for). Then queued jobs of those queues are taken by
    /// priority (highest first), then `run_at`, then id; each becomes running with `attempt`
    /// one higher, `started_at` = `now`, the lease set, and `cancel_requested` and progress
    /// cleared (progress belongs to an attempt). A rate
    /// limit skips jobs of its name once `max_starts` starts fall in the window
    /// (`now - period`, `now`], and records each start it allows. Returns the claimed jobs as
    /// they now are, in that order; none is handed to two workers however many claim at once.
    /// `invalid_argument` for an empty worker id, a lease or period of zero or less, or a
    /// negative `max_starts`.
    [[nodiscard]] virtual JobsResult<std::vector<JobRecord>> claim(const ClaimRequest& request) = 0;

    /// Renews the leases `worker_id` holds on `ids` to `lease_until` and reports, per id in
    /// order, whether it still holds the lease (false for ids that do not exist, are not
    /// running or belong to another worker; those are left alone) and whether a cancel was
    /// requested.
    [[nodiscard]] virtual JobsResult<std::vector<LeaseStatus>> heartbeat(std::string_view worker_id,
                                                                         std::span<const JobId> ids,
                                                                         TimePoint lease_until) = 0;

    /// Records the handler's progress: `fraction` in 0..1 (else `invalid_argument`) and a
    /// message. `lease_lost` unless `worker_id` holds the job's lease; `not_found` for an
    /// unknown id.
    [[nodiscard]] virtual JobsResult<void> set_progress(JobId id,
                                                        std::string_view worker_id,
                                                        double fraction,
                                                        std::string_view message) = 0;

    /// The attempt succeeded: state succeeded, `result` (JSON text, checked; nullopt keeps
    /// none), `finished_at` = `now`, the lease cleared, purged after `expires_at` (nullopt:
    /// kept until removed). `lease_lost` unless `worker_id` holds the lease; `not_found` for an
    /// unknown id (e.g. removed while it ran). `complete_many` of one job.
    [[nodiscard]] JobsResult<void> complete(JobId id,
                                            std::string_view worker_id,
                                            std::optional<std::string_view> result_json,
                                            TimePoint now,
                                            std::optional<TimePoint> expires_at);

    /// `complete` for several jobs of one worker in one atomic step, all finished at `now`.
    /// A busy worker gathers its finished jobs for a moment and completes them together: on
    /// SQLite a transaction per job costs a log write per job, and batching is what makes tens
    /// of thousands of jobs a second possible. Returns one result per completion, in order: a
    /// job that is unknown (`not_found`), not held (`lease_lost`) or has a malformed result
    /// (`invalid_argument`) is left as it was and the others still complete. A storage error
    /// fails the whole call and completes none.
    [[nodiscard]] virtual JobsResult<std::vector<JobsResult<void>>> complete_many(
        std::string_view worker_id, std::span<const Completion> completions, TimePoint now) = 0;

    /// `complete_many` (all finished at `request.now`) and then `claim`, as a busy worker does
    /// both at once: a store that can, does them in one atomic step, so a worker's steady
    /// state costs one transaction per batch instead of two. An error of the call means
    /// nothing was completed or claimed; a claim that fails after the completions were
    /// written is reported in `claimed`. The default calls the two in turn.
    [[nodiscard]] virtual JobsResult<CompletedAndClaimed> complete_and_claim(
        std::string_view worker_id,
        std::span<const Completion> completions,
        const ClaimRequest& request);

    /// The attempt failed with `message`, which is appended to `errors`. With `retry_at` and
    /// attempts left (`attempt < max_attempts`) the job becomes failed, due again at
    /// `retry_at`; otherwise dead, with `finished_at` = `now` and purged after `expires_at`.
    /// A job whose cancel was requested is not retried but becomes cancelled. The lease is
    /// cleared. Returns the new state. `lease_lost` / `not_found` as `complete`.
    [[nodiscard]] virtual JobsResult<JobState> fail(JobId id,
                                                    std::string_view worker_id,
                                                    std::string_view message,
                                                    TimePoint now,
                                                    std::optional<TimePoint> retry_at,
                                                    std::optional<TimePoint> expires_at) = 0;

    /// The handler saw the cancel and stopped: state cancelled, `finished_at` = `now`, purged
    /// after `expires_at`. `lease_lost` / `not_found` as `complete`.
    [[nodiscard]] virtual JobsResult<void> mark_cancelled(JobId id,
                                                          std::string_view worker_id,
                                                          TimePoint now,
                                                          std::optional<TimePoint> expires_at) = 0;

    /// Gives back the jobs of `ids` that `worker_id` holds (graceful shutdown): each becomes
    /// queued again, and its attempt is not counted (`attempt` goes back one) because it did
    /// not fail — a deploy must not use up a job's attempts. A released job whose cancel was
    /// requested becomes cancelled instead (`finished_at` = `now`, no expiry). Ids the worker
    /// does not hold are skipped. Returns how many were released.
    [[nodiscard]] virtual JobsResult<std::size_t> release(std::string_view worker_id,
                                                          std::span<const JobId> ids,
                                                          TimePoint now) = 0;

    /// Ends every lease whose `lease_until` is not after `now` (a worker that died or hung):
    /// the attempt stays counted and "lease of <worker> expired" is appended to `errors`; the
    /// job becomes queued again, or dead when that was its last attempt, or cancelled when a
    /// cancel was requested (both with `finished_at` = `now`, purged after `dead_expires_at`).
    /// The queue layer runs it every few seconds on every worker; running it twice is
    /// harmless.
    [[nodiscard]] virtual JobsResult<ExpiredLeases> requeue_expired(
        TimePoint now, std::optional<TimePoint> dead_expires_at) = 0;

    /// The earliest `run_at` of a scheduled or failed job (nullopt when there is none), so an
    /// idle worker knows how long it may sleep.
    [[nodiscard]] virtual JobsResult<std::optional<TimePoint>> next_due_at() const = 0;

    // ---- people (REST API, command line) --------------------------------------------------

    /// Cancels a job and returns its state afterwards. Scheduled, queued and failed jobs
    /// become cancelled at once (`finished_at` = `now`, purged after `expires_at`). A running
    /// job gets `cancel_requested` and stays running: its worker learns it on the next
    /// heartbeat and calls `mark_cancelled` (so the result is `running`). Cancelling a
    /// cancelled job changes nothing and returns `cancelled`; a succeeded or dead job is
    /// `invalid_state`. `not_found` for an unknown id.
    [[nodiscard]] virtual JobsResult<JobState> cancel(JobId id,
                                                      TimePoint now,
                                                      std::optional<TimePoint> expires_at) = 0;

    /// Runs a dead, failed or cancelled job again: it becomes queued, due at `now`, with
    /// `attempt` back to 0 (a fresh set of attempts), `errors` kept as history, and the
    /// result, progress, finish time, expiry and cancel flag cleared. Running, queued,
    /// scheduled and succeeded jobs are `invalid_state` (enqueue a new job to run a succeeded
    /// one again); `duplicate` when its unique key is held by another active job.
    [[nodiscard]] virtual JobsResult<void> retry(JobId id, TimePoint now) = 0;

    /// Deletes a job. A running job is `invalid_state` unless `force` (its worker then gets
    /// `not_found` when it finishes). `not_found` for an unknown id.
    [[nodiscard]] virtual JobsResult<void> remove(JobId id, bool force) = 0;

    /// Deletes up to `limit` finished jobs whose `expires_at` is not after `now` and returns
    /// how many; call again while it returns `limit`. The bound keeps one call short.
    [[nodiscard]] virtual JobsResult<std::size_t> purge(TimePoint now, std::size_t limit) = 0;

    /// Deletes up to `limit` finished jobs whose `finished_at` is before `finished_before`,
    /// whatever their `expires_at`, oldest finish first, and returns how many; call again
    /// while it returns `limit`. The clean-up by age (BullMQ's `clean`, `afterwork jobs purge
    /// --older-than`): the jobs that finished over a week ago go with
    /// `purge_finished(now - 7 days, {}, n)`. `states` narrows it to some of succeeded,
    /// cancelled and dead (repeats change nothing); empty means all three. Scheduled, queued,
    /// running and failed jobs are never deleted. `invalid_argument` for a state that is not
    /// finished or a `limit` of 0.
    [[nodiscard]] virtual JobsResult<std::size_t> purge_finished(TimePoint finished_before,
                                                                 std::span<const JobState> states,
                                                                 std::size_t limit) = 0;

    /// One job, or `not_found`.
    [[nodiscard]] virtual JobsResult<JobRecord> get(JobId id) const = 0;

    /// Jobs matching `filter`, newest first, one page at a time. `invalid_argument` for a
    /// limit of 0 or over `kMaxPageSize`.
    [[nodiscard]] virtual JobsResult<JobPage> list(const JobFilter& filter,
                                                   const PageRequest& page) const = 0;

    /// Jobs per state for every queue that has any, ordered by queue name.
    [[nodiscard]] virtual JobsResult<std::vector<QueueCounts>> counts() const = 0;

protected:
    Store() = default;
    Store(const Store&) = default;
    Store& operator=(const Store&) = default;
};

}  // namespace afterwork
