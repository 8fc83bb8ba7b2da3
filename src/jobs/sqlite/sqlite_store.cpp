// SPDX-License-Identifier: MIT
// The SQLite store: open, enqueue (also inside the caller's transaction), the changes of one
// job, purges and the listings. The claim SQL and the leases are in claim.cpp, the schedule
// store in schedule_store.cpp, the row codec in row_codec.cpp, the set-up of the file and its
// migrations in schema.cpp.
#include <afterwork/jobs/sqlite_store.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "jobs/checks.hpp"
#include "jobs/sqlite/connection.hpp"
#include "jobs/sqlite/row_codec.hpp"
#include "jobs/sqlite/schema.hpp"
#include "jobs/sqlite/store_state.hpp"
#include "jobs/transitions.hpp"

namespace afterwork {

using detail::sqlite::Connection;
using detail::sqlite::kActive;
using detail::sqlite::kJobColumns;
using detail::sqlite::load_job;
using detail::sqlite::Query;

namespace {

// The body of an enqueue, on whichever connection and transaction the caller provides.
std::vector<EnqueueOutcome> insert_jobs(Connection& c, std::span<const NewJob> jobs,
                                        TimePoint now) {
    std::vector<EnqueueOutcome> outcomes;
    outcomes.reserve(jobs.size());
    for (const NewJob& job : jobs) {
        if (job.unique_key) {
            // Earlier jobs of this batch are visible here, so a batch dedupes within itself.
            Query q(c, std::string("SELECT id FROM afterwork_jobs INDEXED BY afterwork_jobs_unique "
                                   "WHERE unique_key = ?1 AND ") +
                           kActive);
            q.bind(1, *job.unique_key);
            if (q.step()) {
                outcomes.push_back({q.integer(0), false});
                continue;
            }
        }
        const JobRecord record = detail::make_record(job, 0, now);
        Query q(c,
                "INSERT INTO afterwork_jobs (name, queue, priority, args, state, max_attempts, "
                "unique_key, created_at, run_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                "RETURNING id");
        q.bind(1, record.name)
            .bind(2, record.queue)
            .bind(3, record.priority)
            .bind(4, record.args)
            .bind(5, to_string(record.state))
            .bind(6, record.max_attempts)
            .bind(7, record.unique_key)
            .bind(8, record.created_at)
            .bind(9, record.run_at);
        q.step();
        outcomes.push_back({q.integer(0), true});
    }
    return outcomes;
}

}  // namespace

JobsResult<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& path,
                                                          SqliteOptions options) {
    try {
        auto state = std::make_unique<State>(path, options);
        try {
            detail::sqlite::configure(state->connection, options, kSchemaVersion);
        } catch (const JobsError&) {
            // A read-only open of a WAL file in a folder that cannot be written (a mounted
            // backup): SQLite cannot create the files it reads the log through. An immutable
            // open reads the file alone, which misses nothing while no log holds changes.
            if (!options.read_only || !detail::sqlite::cannot_open_log_files(state->connection.last_error())) {
                throw;
            }
            if (const auto log = detail::sqlite::unapplied_log(path)) {
                throw JobsError(
                    JobsErrc::read_only,
                    fmt::format("{} cannot be read here: its folder cannot be written and {} "
                                "holds changes that are not in the file yet, which only an open "
                                "with write access applies; open it once where it can be "
                                "written (e.g. sqlite3 {} 'PRAGMA wal_checkpoint(TRUNCATE)')",
                                path.string(),
                                log->string(),
                                path.string()));
            }
            state.reset();
            state = std::make_unique<State>(path, options, true);
            detail::sqlite::configure(state->connection, options, kSchemaVersion);
        }
        return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(state)));
    } catch (const JobsError& error) {
        return error;
    }
}

SqliteStore::SqliteStore(std::unique_ptr<State> state) : state_(std::move(state)) {}

SqliteStore::~SqliteStore() = default;

const std::filesystem::path& SqliteStore::path() const noexcept { return state_->path; }

bool SqliteStore::immutable() const noexcept {
    return state_->immutable;
}

std::string SqliteStore::describe() const { return "sqlite:" + state_->path.string(); }

JobsResult<std::vector<EnqueueOutcome>> SqliteStore::enqueue_in(sqlite3* connection,
                                                                std::span<const NewJob> jobs,
                                                                TimePoint now) {
    if (connection == nullptr) {
        return JobsError(JobsErrc::invalid_argument, "enqueue_in: the connection is null");
    }
    if (auto r = detail::check_batch(jobs); !r) return r.error();
    try {
        Connection c(connection);
        if (!c.in_transaction()) {
            return JobsError(JobsErrc::invalid_argument,
                             "enqueue_in: no transaction is open on the connection; begin one "
                             "(BEGIN IMMEDIATE) so the jobs commit with the caller's writes");
        }
        if (const int version = detail::sqlite::schema_version(c); version != kSchemaVersion) {
            return JobsError(JobsErrc::version_mismatch,
                             fmt::format("enqueue_in: {} has job store schema version {}, not {}; "
                                         "open it with SqliteStore::open first",
                                         c.label(), version, kSchemaVersion));
        }
        // A savepoint makes the batch all or nothing without ending the caller's transaction.
        c.exec("SAVEPOINT afterwork_enqueue");
        try {
            auto outcomes = insert_jobs(c, jobs, now);
            c.exec("RELEASE afterwork_enqueue");
            return outcomes;
        } catch (...) {
            // After a full disk or an I/O error SQLite may have rolled back the caller's whole
            // transaction already; then there is nothing left to undo.
            if (c.in_transaction()) {
                sqlite3_exec(c.handle(), "ROLLBACK TO afterwork_enqueue", nullptr, nullptr,
                             nullptr);
                sqlite3_exec(c.handle(), "RELEASE afterwork_enqueue", nullptr, nullptr, nullptr);
            }
            throw;
        }
    } catch (const JobsError& error) {
        return error;
    }
}

JobsResult<std::vector<EnqueueOutcome>> SqliteStore::enqueue(std::span<const NewJob> jobs,
                                                             TimePoint now) {
    if (auto r = detail::check_batch(jobs); !r) return r.error();
    return state_->write([&]() -> JobsResult<std::vector<EnqueueOutcome>> {
        return insert_jobs(state_->connection, jobs, now);
    });
}

JobsResult<void> SqliteStore::set_progress(JobId id, std::string_view worker_id, double fraction,
                                           std::string_view message) {
    if (auto r = detail::check_progress(fraction); !r) return r;
    return state_->change_job(id, [&](JobRecord& job) {
        return detail::set_progress(job, worker_id, fraction, message);
    });
}

JobsResult<JobState> SqliteStore::fail(JobId id, std::string_view worker_id,
                                       std::string_view message, TimePoint now,
                                       std::optional<TimePoint> retry_at,
                                       std::optional<TimePoint> expires_at) {
    return state_->change_job(id, [&](JobRecord& job) {
        return detail::fail(job, worker_id, message, now, retry_at, expires_at);
    });
}

JobsResult<void> SqliteStore::mark_cancelled(JobId id, std::string_view worker_id, TimePoint now,
                                             std::optional<TimePoint> expires_at) {
    return state_->change_job(id, [&](JobRecord& job) {
        return detail::mark_cancelled(job, worker_id, now, expires_at);
    });
}

JobsResult<std::optional<TimePoint>> SqliteStore::next_due_at() const {
    return state_->read([&]() -> JobsResult<std::optional<TimePoint>> {
        Query q(state_->connection,
                "SELECT run_at FROM afterwork_jobs INDEXED BY afterwork_jobs_delayed "
                "WHERE state IN ('scheduled', 'failed') ORDER BY run_at LIMIT 1");
        if (!q.step()) return std::optional<TimePoint>();
        return std::optional<TimePoint>(q.time(0));
    });
}

JobsResult<JobState> SqliteStore::cancel(JobId id, TimePoint now,
                                         std::optional<TimePoint> expires_at) {
    return state_->change_job(
        id, [&](JobRecord& job) { return detail::cancel(job, now, expires_at); });
}

JobsResult<void> SqliteStore::retry(JobId id, TimePoint now) {
    return state_->change_job(id, [&](JobRecord& job) -> JobsResult<void> {
        if (auto r = detail::check_retry(job); !r) return r;
        if (job.unique_key) {
            Query q(state_->connection,
                    std::string("SELECT id FROM afterwork_jobs INDEXED BY afterwork_jobs_unique "
                                "WHERE unique_key = ?1 AND ") +
                        kActive);
            q.bind(1, *job.unique_key);
            if (q.step()) return detail::duplicate_key(job, q.integer(0));
        }
        detail::retry(job, now);
        return {};
    });
}

JobsResult<void> SqliteStore::remove(JobId id, bool force) {
    return state_->write([&]() -> JobsResult<void> {
        const auto job = load_job(state_->connection, id);
        if (!job) return detail::not_found(id);
        if (auto r = detail::check_remove(*job, force); !r) return r;
        Query q(state_->connection, "DELETE FROM afterwork_jobs WHERE id = ?1");
        q.bind(1, id).run();
        return {};
    });
}

JobsResult<std::size_t> SqliteStore::purge(TimePoint now, std::size_t limit) {
    return state_->write([&]() -> JobsResult<std::size_t> {
        // Only finished jobs carry expires_at (the transitions clear it otherwise).
        Query q(state_->connection,
                "DELETE FROM afterwork_jobs WHERE id IN (SELECT id FROM afterwork_jobs "
                "INDEXED BY afterwork_jobs_expiry WHERE expires_at IS NOT NULL AND "
                "expires_at <= ?1 ORDER BY expires_at LIMIT ?2)");
        q.bind(1, truncate_to_store(now)).bind(2, static_cast<std::int64_t>(limit)).run();
        return static_cast<std::size_t>(sqlite3_changes64(state_->connection.handle()));
    });
}

JobsResult<std::size_t> SqliteStore::purge_finished(TimePoint finished_before,
                                                    std::span<const JobState> states,
                                                    std::size_t limit) {
    auto wanted = detail::check_purge_finished(states, limit);
    if (!wanted) return wanted.error();
    // One walk of afterwork_jobs_finished per state, each stopping after `limit` rows, merged
    // into the `limit` oldest finishes: a batch reads at most `limit` rows per state, never the
    // history that stays (with `state IN (...)` SQLite would read and sort every match). The
    // text depends only on the number of states, so at most three statements are cached.
    std::string oldest;
    for (std::size_t i = 0; i < wanted->size(); ++i) {
        if (i > 0) oldest += " UNION ALL ";
        oldest += fmt::format(
            "SELECT * FROM (SELECT id, finished_at FROM afterwork_jobs INDEXED BY "
            "afterwork_jobs_finished WHERE state = ?{} AND finished_at < ?1 "
            "ORDER BY finished_at, id LIMIT ?2)",
            i + 3);
    }
    const std::string sql = "DELETE FROM afterwork_jobs WHERE id IN (SELECT id FROM (" + oldest +
                            ") ORDER BY finished_at, id LIMIT ?2)";
    // finished_at is whole microseconds, so it is before `finished_before` exactly when it is
    // before `finished_before` rounded up to the microsecond.
    const std::int64_t before =
        std::chrono::ceil<std::chrono::microseconds>(finished_before).time_since_epoch().count();
    // A negative LIMIT would mean no limit at all.
    const auto bound = static_cast<std::int64_t>(
        std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
    return state_->write([&]() -> JobsResult<std::size_t> {
        Query q(state_->connection, sql);
        q.bind(1, before).bind(2, bound);
        for (std::size_t i = 0; i < wanted->size(); ++i) {
            q.bind(static_cast<int>(i + 3), to_string((*wanted)[i]));
        }
        q.run();
        return static_cast<std::size_t>(sqlite3_changes64(state_->connection.handle()));
    });
}

JobsResult<JobRecord> SqliteStore::get(JobId id) const {
    return state_->read([&]() -> JobsResult<JobRecord> {
        auto job = load_job(state_->connection, id);
        if (!job) return detail::not_found(id);
        return std::move(*job);
    });
}

JobsResult<JobPage> SqliteStore::list(const JobFilter& filter, const PageRequest& page) const {
    if (auto r = detail::check_page(page); !r) return r.error();
    return state_->read([&]() -> JobsResult<JobPage> {
        std::string sql = "SELECT " + kJobColumns + " FROM afterwork_jobs WHERE 1";
        if (filter.state) sql += " AND state = ?1";
        if (filter.queue) sql += " AND queue = ?2";
        if (filter.name) sql += " AND name = ?3";
        if (page.before_id) sql += " AND id < ?4";
        // One row more than the page tells whether another page follows.
        sql += " ORDER BY id DESC LIMIT ?5";
        Query q(state_->connection, sql);
        if (filter.state) q.bind(1, to_string(*filter.state));
        if (filter.queue) q.bind(2, *filter.queue);
        if (filter.name) q.bind(3, *filter.name);
        if (page.before_id) q.bind(4, *page.before_id);
        q.bind(5, static_cast<std::int64_t>(page.limit + 1));
        return detail::sqlite::read_page(q, page.limit);
    });
}

JobsResult<std::vector<QueueCounts>> SqliteStore::counts() const {
    return state_->read([&]() -> JobsResult<std::vector<QueueCounts>> {
        Query q(state_->connection,
                "SELECT queue, state, n FROM afterwork_queue_counts WHERE n != 0 "
                "ORDER BY queue, state");
        return detail::sqlite::read_counts(q);
    });
}

}  // namespace afterwork
