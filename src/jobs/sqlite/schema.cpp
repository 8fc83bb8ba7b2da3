// SPDX-License-Identifier: MIT
#include "jobs/sqlite/schema.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <fmt/format.h>

namespace afterwork::detail::sqlite {
namespace {

struct Migration {
    int version;
    const char* sql;
};

// Append-only: a released migration is never edited; changes come as a new version.
//
// Every table is prefixed afterwork_ so the file can hold the application's tables too
// (transactional enqueue). Instants are INTEGER microseconds since 1970 (UTC). States are
// TEXT, spelled as JobState, so the file reads well in the sqlite3 shell.
constexpr std::array kMigrations = {
    Migration{1, R"sql(
CREATE TABLE afterwork_meta (
    key   TEXT PRIMARY KEY,
    value NOT NULL
) WITHOUT ROWID;

-- AUTOINCREMENT: ids are never reused, even after the newest job is deleted, so an id a
-- client holds never names another job and newest-first paging stays stable.
CREATE TABLE afterwork_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    args             TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('scheduled', 'queued', 'running',
                                                       'succeeded', 'failed', 'cancelled', 'dead')),
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    unique_key       TEXT,
    created_at       INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    lease_owner      TEXT,
    lease_until      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress         REAL    NOT NULL DEFAULT 0,
    progress_message TEXT    NOT NULL DEFAULT '',
    result           TEXT,
    errors           TEXT,   -- JSON array of {attempt, message, at}; NULL when none
    expires_at       INTEGER
);

-- Claim: the queued jobs of one queue in claim order; only queued rows, so the index stays
-- the size of the backlog, not of the history.
CREATE INDEX afterwork_jobs_ready ON afterwork_jobs (queue, priority DESC, run_at, id)
    WHERE state = 'queued';
-- Promotion of due jobs and the next wake-up time.
CREATE INDEX afterwork_jobs_delayed ON afterwork_jobs (run_at)
    WHERE state IN ('scheduled', 'failed');
-- Expired leases.
CREATE INDEX afterwork_jobs_leases ON afterwork_jobs (lease_until) WHERE state = 'running';
-- Purge by time to live.
CREATE INDEX afterwork_jobs_expiry ON afterwork_jobs (expires_at) WHERE expires_at IS NOT NULL;
-- One active job per unique key, enforced by the file itself, whichever process writes.
CREATE UNIQUE INDEX afterwork_jobs_unique ON afterwork_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running', 'failed');
-- Listing newest first by state, queue or name.
CREATE INDEX afterwork_jobs_state ON afterwork_jobs (state, id);
CREATE INDEX afterwork_jobs_queue ON afterwork_jobs (queue, id);
CREATE INDEX afterwork_jobs_name ON afterwork_jobs (name, id);

-- Jobs per queue and state, kept by triggers so counts() reads a few rows instead of
-- counting millions.
CREATE TABLE afterwork_queue_counts (
    queue TEXT    NOT NULL,
    state TEXT    NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (queue, state)
) WITHOUT ROWID;

CREATE TRIGGER afterwork_jobs_count_insert AFTER INSERT ON afterwork_jobs BEGIN
    INSERT INTO afterwork_queue_counts (queue, state, n) VALUES (new.queue, new.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER afterwork_jobs_count_delete AFTER DELETE ON afterwork_jobs BEGIN
    UPDATE afterwork_queue_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
END;

CREATE TRIGGER afterwork_jobs_count_update AFTER UPDATE OF state, queue ON afterwork_jobs
    WHEN old.state IS NOT new.state OR old.queue IS NOT new.queue BEGIN
    UPDATE afterwork_queue_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
    INSERT INTO afterwork_queue_counts (queue, state, n) VALUES (new.queue, new.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
END;

-- Start times of rate-limited job names, shared by every worker of the file: the limit is
-- global. Pruned to the window whenever a claim checks the name.
CREATE TABLE afterwork_rate_starts (
    name TEXT    NOT NULL,
    at   INTEGER NOT NULL
);
CREATE INDEX afterwork_rate_starts_name ON afterwork_rate_starts (name, at);
)sql"},
    // The schedules of a Scheduler (ScheduleStore): the next occurrence not yet fired and the
    // last one fired, so a restart neither loses nor repeats one.
    Migration{2, R"sql(
CREATE TABLE afterwork_schedules (
    id       TEXT    PRIMARY KEY,
    name     TEXT    NOT NULL,
    trigger  TEXT    NOT NULL,
    next_run INTEGER,
    last_run INTEGER,
    paused   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
)sql"},
    // Purge by age (purge_finished): finished jobs of one state in order of finish, so a batch
    // reads the rows it deletes and not the history that stays. Only finished jobs have a
    // finished_at (retry clears it), so the index holds nothing of the backlog.
    Migration{3, R"sql(
CREATE INDEX afterwork_jobs_finished ON afterwork_jobs (state, finished_at)
    WHERE finished_at IS NOT NULL;
)sql"},
};

void set_version(Connection& connection, int version) {
    Query query(connection,
                "INSERT INTO afterwork_meta (key, value) VALUES ('schema_version', ?1) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    query.bind(1, version).run();
}

}  // namespace

int schema_version(Connection& connection) {
    {
        Query table(connection,
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'afterwork_meta'");
        if (!table.step()) return 0;
    }
    Query query(connection, "SELECT value FROM afterwork_meta WHERE key = 'schema_version'");
    if (!query.step()) return 0;
    return static_cast<int>(query.integer(0));
}

void migrate(Connection& connection, int target_version, bool writable) {
    const int found = schema_version(connection);
    if (found > target_version) {
        throw JobsError(JobsErrc::version_mismatch,
                        fmt::format("{} has job store schema version {}, newer than the {} this "
                                    "build understands; upgrade afterwork",
                                    connection.label(), found, target_version));
    }
    if (found == target_version) return;
    if (!writable) {
        throw JobsError(JobsErrc::read_only,
                        fmt::format("{} needs its job store schema {} (version {} to {}) but "
                                    "cannot be written",
                                    connection.label(), found == 0 ? "created" : "migrated",
                                    found, target_version));
    }
    for (const Migration& migration : kMigrations) {
        if (migration.version > target_version) break;
        WriteTransaction transaction(connection);
        // Another process may have migrated since we looked.
        if (schema_version(connection) >= migration.version) continue;
        connection.exec_script(migration.sql);
        set_version(connection, migration.version);
        transaction.commit();
    }
}

namespace {

// Readers never wait for the writer, and commits append to the log instead of rewriting
// pages. On a file that cannot be written this leaves the mode as it was.
//
// Switching a file to WAL takes its write lock on top of the read lock the pragma already
// holds, and SQLite does not call the busy handler for a lock it would upgrade to (two
// connections doing so would deadlock): while another connection reads the file — several
// processes opening a new file at once — the pragma fails with SQLITE_BUSY at once, whatever
// the busy timeout. So retry, as the busy handler would, until the busy timeout has passed.
void use_wal(Connection& c, std::chrono::milliseconds busy_timeout) {
    const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
    for (auto pause = std::chrono::milliseconds(1);;
         pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
        try {
            Query q(c, "PRAGMA journal_mode = WAL");
            q.run();
            return;
        } catch (const JobsError& e) {
            if (e.code() != JobsErrc::busy || std::chrono::steady_clock::now() >= deadline) {
                throw;
            }
        }
        const auto left = deadline - std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, left));
    }
}

}  // namespace

void configure(Connection& c, const SqliteOptions& options, int target_version) {
    if (!options.read_only) use_wal(c, options.busy_timeout);
    c.exec(options.synchronous == SqliteSync::full ? "PRAGMA synchronous = FULL"
                                                   : "PRAGMA synchronous = NORMAL");
    c.exec("PRAGMA foreign_keys = ON");
    if (options.max_size_bytes) {
        std::int64_t page_size = 4096;
        {
            Query q(c, "PRAGMA page_size");
            if (q.step()) page_size = q.integer(0);
        }
        const auto pages =
            std::max<std::int64_t>(1, static_cast<std::int64_t>(*options.max_size_bytes) /
                                          std::max<std::int64_t>(page_size, 1));
        Query q(c, fmt::format("PRAGMA max_page_count = {}", pages));
        q.run();
    }
    if (options.quick_check_on_open) {
        Query q(c, "PRAGMA quick_check");
        if (q.step()) {
            std::string verdict = q.text(0);
            if (verdict != "ok") {
                throw JobsError(JobsErrc::corrupt,
                                fmt::format("{} failed its integrity check: {}", c.label(),
                                            verdict));
            }
        }
    }
    const bool writable = !options.read_only && sqlite3_db_readonly(c.handle(), "main") == 0;
    migrate(c, target_version, writable);
}

}  // namespace afterwork::detail::sqlite
