// SPDX-License-Identifier: MIT
#pragma once

// The row codec of the job store: a row of afterwork_jobs <-> JobRecord, and the rows of the
// listings (a page of jobs, the per-queue state counts) <-> their structures. The SQL that
// chooses the rows stays with the operations; this file knows the columns.
//
// Every function throws JobsError (`corrupt` for a row that does not decode, or what the SQL
// layer throws); the store turns it into a result at its public boundary.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/store.hpp>

#include "jobs/sqlite/connection.hpp"

namespace afterwork::detail::sqlite {

/// The columns of a JobRecord in the order read_job reads them.
inline const std::string kJobColumns =
    "id, name, queue, priority, args, state, attempt, max_attempts, unique_key, created_at, "
    "run_at, started_at, finished_at, lease_owner, lease_until, cancel_requested, progress, "
    "progress_message, result, errors, expires_at";

/// The job in the current row of `q`, which selected kJobColumns.
JobRecord read_job(const Query& q);

/// Job `id`, or nothing when there is none.
std::optional<JobRecord> load_job(Connection& c, JobId id);

/// Writes the columns that differ between `before` and `after` (the same job).
void save_job(Connection& c, const JobRecord& before, const JobRecord& after);

/// A page of at most `limit` jobs from `q`, which selected kJobColumns for up to `limit + 1`
/// rows: a row past the page sets `next_before_id`.
JobPage read_page(Query& q, std::size_t limit);

/// The counts from `q`, which selected (queue, state, n) ordered by queue.
std::vector<QueueCounts> read_counts(Query& q);

}  // namespace afterwork::detail::sqlite
