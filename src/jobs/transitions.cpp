// SPDX-License-Identifier: MIT
#include "jobs/transitions.hpp"

#include <string>

#include <fmt/format.h>

namespace afterwork::detail {
namespace {

std::optional<TimePoint> truncated(std::optional<TimePoint> t) {
    if (t) return truncate_to_store(*t);
    return std::nullopt;
}

void clear_lease(JobRecord& job) {
    job.lease_owner.reset();
    job.lease_until.reset();
}

// Ends the job for good (until a person retries it).
void finish(JobRecord& job, JobState state, TimePoint now, std::optional<TimePoint> expires_at) {
    job.state = state;
    job.finished_at = truncate_to_store(now);
    job.expires_at = truncated(expires_at);
    clear_lease(job);
}

}  // namespace

JobRecord make_record(const NewJob& job, JobId id, TimePoint now) {
    JobRecord record;
    record.id = id;
    record.name = job.name;
    record.queue = job.queue;
    record.priority = job.priority;
    record.args = job.args;
    record.max_attempts = job.max_attempts;
    record.unique_key = job.unique_key;
    record.created_at = truncate_to_store(now);
    const TimePoint due = job.run_at ? truncate_to_store(*job.run_at) : record.created_at;
    // Compared after truncation, so a run_at less than a microsecond ahead is due at once.
    if (due > record.created_at) {
        record.state = JobState::scheduled;
        record.run_at = due;
    } else {
        record.state = JobState::queued;
        record.run_at = due;
    }
    return record;
}

JobsResult<void> check_owner(const JobRecord& job, std::string_view worker) {
    if (job.state == JobState::running && job.lease_owner == worker) return {};
    if (job.state == JobState::running) {
        return JobsError(JobsErrc::lease_lost,
                         fmt::format("worker \"{}\" does not hold the lease of job {} (worker "
                                     "\"{}\" does)",
                                     worker, job.id, job.lease_owner.value_or("")));
    }
    return JobsError(JobsErrc::lease_lost,
                     fmt::format("worker \"{}\" does not hold the lease of job {} (it is {})",
                                 worker, job.id, to_string(job.state)));
}

void start_attempt(JobRecord& job, std::string_view worker, TimePoint now,
                   std::chrono::microseconds lease) {
    job.state = JobState::running;
    job.attempt += 1;
    job.started_at = truncate_to_store(now);
    job.lease_owner = std::string(worker);
    job.lease_until = truncate_to_store(now + lease);
    job.cancel_requested = false;
    // Progress belongs to an attempt: a retry starts from zero.
    job.progress = 0.0;
    job.progress_message.clear();
}

void renew(JobRecord& job, TimePoint lease_until) {
    job.lease_until = truncate_to_store(lease_until);
}

JobsResult<void> set_progress(JobRecord& job, std::string_view worker, double fraction,
                              std::string_view message) {
    if (auto r = check_owner(job, worker); !r) return r;
    job.progress = fraction;
    job.progress_message = std::string(message);
    return {};
}

JobsResult<void> complete(JobRecord& job, std::string_view worker,
                          std::optional<std::string_view> result_json, TimePoint now,
                          std::optional<TimePoint> expires_at) {
    if (auto r = check_owner(job, worker); !r) return r;
    finish(job, JobState::succeeded, now, expires_at);
    if (result_json) {
        job.result = std::string(*result_json);
    } else {
        job.result.reset();
    }
    return {};
}

JobsResult<JobState> fail(JobRecord& job, std::string_view worker, std::string_view message,
                          TimePoint now, std::optional<TimePoint> retry_at,
                          std::optional<TimePoint> expires_at) {
    if (auto r = check_owner(job, worker); !r) return r.error();
    job.errors.push_back({job.attempt, std::string(message), truncate_to_store(now)});
    if (job.cancel_requested) {
        // Someone asked for it to stop: a failure on the way out is not a reason to run again.
        finish(job, JobState::cancelled, now, expires_at);
    } else if (retry_at && job.attempt < job.max_attempts) {
        job.state = JobState::failed;
        job.run_at = truncate_to_store(*retry_at);
        clear_lease(job);
    } else {
        finish(job, JobState::dead, now, expires_at);
    }
    return job.state;
}

JobsResult<void> mark_cancelled(JobRecord& job, std::string_view worker, TimePoint now,
                                std::optional<TimePoint> expires_at) {
    if (auto r = check_owner(job, worker); !r) return r;
    finish(job, JobState::cancelled, now, expires_at);
    return {};
}

bool release(JobRecord& job, std::string_view worker, TimePoint now) {
    if (!check_owner(job, worker)) return false;
    if (job.cancel_requested) {
        finish(job, JobState::cancelled, now, std::nullopt);
        return true;
    }
    // The attempt did not fail, it was interrupted by our own shutdown: give it back.
    job.state = JobState::queued;
    job.attempt = job.attempt > 0 ? job.attempt - 1 : 0;
    clear_lease(job);
    return true;
}

ExpiryOutcome expire_lease(JobRecord& job, TimePoint now,
                           std::optional<TimePoint> dead_expires_at) {
    job.errors.push_back({job.attempt,
                          fmt::format("lease of worker \"{}\" expired",
                                      job.lease_owner.value_or("")),
                          truncate_to_store(now)});
    if (job.cancel_requested) {
        finish(job, JobState::cancelled, now, dead_expires_at);
        return ExpiryOutcome::cancelled;
    }
    if (job.attempt >= job.max_attempts) {
        finish(job, JobState::dead, now, dead_expires_at);
        return ExpiryOutcome::dead;
    }
    job.state = JobState::queued;
    clear_lease(job);
    return ExpiryOutcome::requeued;
}

void record_expiry(ExpiredLeases& expired, JobId id, ExpiryOutcome outcome) {
    switch (outcome) {
        case ExpiryOutcome::requeued:
            expired.requeued.push_back(id);
            break;
        case ExpiryOutcome::dead:
            expired.dead.push_back(id);
            break;
        case ExpiryOutcome::cancelled:
            expired.cancelled.push_back(id);
            break;
    }
}

JobsResult<JobState> cancel(JobRecord& job, TimePoint now, std::optional<TimePoint> expires_at) {
    switch (job.state) {
        case JobState::scheduled:
        case JobState::queued:
        case JobState::failed:
            finish(job, JobState::cancelled, now, expires_at);
            return job.state;
        case JobState::running:
            job.cancel_requested = true;
            return job.state;
        case JobState::cancelled:
            return job.state;
        case JobState::succeeded:
        case JobState::dead:
            break;
    }
    return JobsError(JobsErrc::invalid_state,
                     fmt::format("job {} is already {}; only scheduled, queued, failed or "
                                 "running jobs can be cancelled",
                                 job.id, to_string(job.state)));
}

JobsResult<void> check_retry(const JobRecord& job) {
    if (job.state == JobState::dead || job.state == JobState::failed ||
        job.state == JobState::cancelled) {
        return {};
    }
    return JobsError(JobsErrc::invalid_state,
                     fmt::format("job {} is {}; only dead, failed or cancelled jobs can be "
                                 "retried",
                                 job.id, to_string(job.state)));
}

void retry(JobRecord& job, TimePoint now) {
    job.state = JobState::queued;
    job.run_at = truncate_to_store(now);
    job.attempt = 0;
    job.started_at.reset();
    job.finished_at.reset();
    clear_lease(job);
    job.cancel_requested = false;
    job.progress = 0.0;
    job.progress_message.clear();
    job.result.reset();
    job.expires_at.reset();
}

JobsError duplicate_key(const JobRecord& job, JobId holder) {
    return JobsError(JobsErrc::duplicate,
                     fmt::format("job {} cannot run again: its unique key \"{}\" is held by "
                                 "active job {}",
                                 job.id, job.unique_key.value_or(""), holder));
}

JobsResult<void> check_remove(const JobRecord& job, bool force) {
    if (job.state != JobState::running || force) return {};
    return JobsError(JobsErrc::invalid_state,
                     fmt::format("job {} is running; cancel it first, or remove it with force",
                                 job.id));
}

}  // namespace afterwork::detail
