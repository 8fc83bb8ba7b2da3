// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Transactional enqueue through a `Queue` on SQLite (target `afterwork::jobs_sqlite`): the jobs
/// are checked against the queue's definitions, then added through the caller's own connection
/// inside the transaction it has open, so they exist exactly when the caller's other writes
/// commit (River's and Oban's transactional enqueue). Kept out of queue.hpp so the generic
/// queue does not depend on SQLite.
///
///     sqlite3_exec(db, "BEGIN IMMEDIATE", ...);
///     ... INSERT INTO users ...
///     auto ids = enqueue_in(db, queue, jobs).value();
///     sqlite3_exec(db, "COMMIT", ...);
///     queue.notify();  // wake this process's workers now that the jobs are visible
///
/// @par Thread safety
/// As the caller's connection: not concurrently with other use of `connection`.

#include <span>
#include <vector>

#include <afterwork/jobs/queue.hpp>
#include <afterwork/jobs/sqlite_store.hpp>

struct sqlite3;

namespace afterwork {

/// Validates `jobs` with `queue` (errors as `Queue::enqueue_many`, nothing written) and adds
/// them through `connection` with `SqliteStore::enqueue_in` (see there for what the connection
/// must be). Workers are not woken: call `queue.notify()` after the commit.
[[nodiscard]] JobsResult<std::vector<EnqueueOutcome>> enqueue_in(
    sqlite3* connection, const Queue& queue, std::span<const EnqueueRequest> jobs);

}  // namespace afterwork
