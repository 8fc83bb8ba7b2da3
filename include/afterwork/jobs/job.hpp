// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The values a job store keeps: `JobState`, `JobRecord` (one durable job as the store holds
/// it) and `NewJob` (what an enqueue asks for), with the limits every store enforces.
///
/// A job moves through these states:
///
///     scheduled ──(run_at reached)──▶ queued ──(claimed)──▶ running ──▶ succeeded
///         │                             ▲  ▲                  │  │ └──▶ cancelled
///         │                             │  └──(lease ended, ──┘  │
///         │                             │      or released)      ├──▶ failed ─(retry_at)─▶ queued
///         └──────(cancel)──▶ cancelled  │                        └──▶ dead
///                                       └──(retry by hand: dead, failed, cancelled)
///
/// `failed` means "this attempt failed and another is pending at `run_at`"; `dead` means the
/// attempts are used up (or the failure was not retryable). `succeeded`, `cancelled` and
/// `dead` are final until a person retries the job.
///
/// Instants are `TimePoint`s (system clock). Stores keep them to the microsecond: what goes
/// in is truncated to whole microseconds, so a value read back compares equal to
/// `truncate_to_store(value)`. (A microsecond count since 1970 stays exact in a double until
/// the year 2255, which is what a Redis sorted-set score is.)

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <afterwork/jobs/jobs_error.hpp>
#include <afterwork/schedule/trigger.hpp>

namespace afterwork {

/// A job's id: assigned by the store, positive, increasing in enqueue order, never reused.
using JobId = std::int64_t;

/// Where a job is in its life. Spelled as in JSON, metrics and logs.
enum class JobState {
    scheduled,  ///< waiting for its `run_at`
    queued,     ///< due; waiting for a worker
    running,    ///< claimed by a worker that holds its lease
    succeeded,  ///< finished; `result` holds what the handler returned
    failed,     ///< an attempt failed; the next one is due at `run_at`
    cancelled,  ///< cancelled before or while running
    dead,       ///< attempts used up or not retryable; kept for a person to look at or retry
};

/// The number of `JobState` values, for arrays indexed by state.
inline constexpr std::size_t kJobStateCount = 7;

/// Every state in declaration order.
inline constexpr std::array<JobState, kJobStateCount> kJobStates = {
    JobState::scheduled, JobState::queued,    JobState::running, JobState::succeeded,
    JobState::failed,    JobState::cancelled, JobState::dead};

/// "scheduled", "queued", ... as in the enum.
std::string_view to_string(JobState state) noexcept;

/// The state spelled `text`; `invalid_argument` naming the text and the valid spellings
/// otherwise.
[[nodiscard]] JobsResult<JobState> parse_job_state(std::string_view text);

/// True for the states a unique key is held in: scheduled, queued, running, failed.
constexpr bool is_active(JobState state) noexcept {
    return state == JobState::scheduled || state == JobState::queued ||
           state == JobState::running || state == JobState::failed;
}

/// True for succeeded, cancelled and dead: no worker will touch the job again by itself.
constexpr bool is_finished(JobState state) noexcept { return !is_active(state); }

/// Job priorities run from `kMinPriority` to `kMaxPriority`; higher runs first.
inline constexpr int kMinPriority = -100;
inline constexpr int kMaxPriority = 100;
/// Attempts run from 1 to `kMaxAttemptsLimit` (a guard against typos, not a policy).
inline constexpr int kMaxAttemptsLimit = 10'000;
/// Names, queues and worker ids are 1 to `kMaxNameLength` bytes.
inline constexpr std::size_t kMaxNameLength = 200;
/// Unique keys are 1 to `kMaxUniqueKeyLength` bytes.
inline constexpr std::size_t kMaxUniqueKeyLength = 1'000;

/// `t` truncated to the microsecond, as a store keeps it.
constexpr TimePoint truncate_to_store(TimePoint t) noexcept {
    return std::chrono::floor<std::chrono::microseconds>(t);
}

/// One failed attempt in a job's history.
struct AttemptError {
    int attempt = 0;      ///< the attempt number (1-based) that failed
    std::string message;  ///< what the handler threw, or why the store gave up on it
    TimePoint at{};       ///< when it was recorded

    friend bool operator==(const AttemptError&, const AttemptError&) = default;
};

/// A durable job as the store holds it. A plain value: reading one is a snapshot.
/// @par Thread safety
/// Distinct objects safe, shared unsafe.
struct JobRecord {
    JobId id = 0;
    std::string name;            ///< the job definition that runs it
    std::string queue = "default";
    int priority = 0;            ///< `kMinPriority`..`kMaxPriority`, higher first
    std::string args = "null";   ///< the arguments as JSON text, exactly as enqueued
    JobState state = JobState::queued;
    int attempt = 0;             ///< attempts started so far (the running one included)
    int max_attempts = 1;        ///< attempts allowed before the job is dead
    std::optional<std::string> unique_key;
    TimePoint created_at{};
    TimePoint run_at{};          ///< when it is (or was) due
    std::optional<TimePoint> started_at;   ///< start of the latest attempt
    std::optional<TimePoint> finished_at;  ///< when it became succeeded, cancelled or dead
    std::optional<std::string> lease_owner;  ///< the worker holding it while running
    std::optional<TimePoint> lease_until;    ///< when that lease ends unless renewed
    bool cancel_requested = false;  ///< a cancel reached it while running
    double progress = 0.0;          ///< 0..1, set by the handler
    std::string progress_message;
    std::optional<std::string> result;  ///< JSON text the handler returned
    std::vector<AttemptError> errors;   ///< every failed attempt, oldest first
    std::optional<TimePoint> expires_at;  ///< a finished job is purged after this

    friend bool operator==(const JobRecord&, const JobRecord&) = default;
};

/// What an enqueue asks for; the store assigns the id, state and timestamps.
/// @par Thread safety
/// Distinct objects safe, shared unsafe.
struct NewJob {
    std::string name;
    std::string args = "null";  ///< JSON text; must parse
    std::string queue = "default";
    int priority = 0;
    int max_attempts = 1;
    /// While a job with this key is scheduled, queued, running or failed (retry pending), an
    /// enqueue with the same key returns that job instead of adding one. Keys are global
    /// across names and queues: the queue layer prefixes the definition's name when the key
    /// should be per definition.
    std::optional<std::string> unique_key;
    /// When the job becomes due; nullopt or not after the enqueue's `now` means at once
    /// (state queued), later means state scheduled.
    std::optional<TimePoint> run_at;

    friend bool operator==(const NewJob&, const NewJob&) = default;
};

/// Checks `job` against the limits above (non-empty name and queue, priority and attempts in
/// range, args that parse as JSON, a non-empty unique key); the error names the field.
/// Every store calls it; the queue layer may call it earlier to fail fast.
[[nodiscard]] JobsResult<void> validate(const NewJob& job);

}  // namespace afterwork
