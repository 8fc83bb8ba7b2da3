// SPDX-License-Identifier: MIT
#pragma once

// The state machine of a job, as functions on a JobRecord. Every store loads the record,
// applies one of these and writes back what changed, so the memory, SQLite and Redis stores
// decide every transition — and every error message — the same way.

#include <optional>
#include <string_view>

#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/jobs_error.hpp>
#include <afterwork/jobs/store.hpp>

namespace afterwork::detail {

/// A new record for `job` with `id`, created at `now` (times truncated as stored).
JobRecord make_record(const NewJob& job, JobId id, TimePoint now);

/// `lease_lost` unless `worker` holds `job`'s lease (running and owned by it).
JobsResult<void> check_owner(const JobRecord& job, std::string_view worker);

/// A claim: running, one more attempt, the lease, progress and cancel flag reset.
void start_attempt(JobRecord& job, std::string_view worker, TimePoint now,
                   std::chrono::microseconds lease);

/// The owner renews the lease.
void renew(JobRecord& job, TimePoint lease_until);

JobsResult<void> set_progress(JobRecord& job, std::string_view worker, double fraction,
                              std::string_view message);

/// `result_json` is checked by the caller before the record is loaded.
JobsResult<void> complete(JobRecord& job, std::string_view worker,
                          std::optional<std::string_view> result_json, TimePoint now,
                          std::optional<TimePoint> expires_at);

JobsResult<JobState> fail(JobRecord& job, std::string_view worker, std::string_view message,
                          TimePoint now, std::optional<TimePoint> retry_at,
                          std::optional<TimePoint> expires_at);

JobsResult<void> mark_cancelled(JobRecord& job, std::string_view worker, TimePoint now,
                                std::optional<TimePoint> expires_at);

/// True when `worker` held the job and it was given back (queued, or cancelled when a cancel
/// was requested).
bool release(JobRecord& job, std::string_view worker, TimePoint now);

/// What `expire_lease` did to a job whose lease ended.
enum class ExpiryOutcome { requeued, dead, cancelled };
ExpiryOutcome expire_lease(JobRecord& job, TimePoint now,
                           std::optional<TimePoint> dead_expires_at);

/// Adds the job to `expired` under `outcome`.
void record_expiry(ExpiredLeases& expired, JobId id, ExpiryOutcome outcome);

/// The state after the cancel; unchanged for running (flag set) and cancelled jobs.
JobsResult<JobState> cancel(JobRecord& job, TimePoint now, std::optional<TimePoint> expires_at);

/// `invalid_state` unless dead, failed or cancelled. The store checks the unique key between
/// this and `retry` (`duplicate_key`).
JobsResult<void> check_retry(const JobRecord& job);
void retry(JobRecord& job, TimePoint now);
JobsError duplicate_key(const JobRecord& job, JobId holder);

/// `invalid_state` for a running job unless `force`.
JobsResult<void> check_remove(const JobRecord& job, bool force);

}  // namespace afterwork::detail
