// SPDX-License-Identifier: MIT
#pragma once

// A thin layer over the SQLite C API for the store: a connection with a cache of prepared
// statements, a scoped query that binds, steps and reads columns, and a write transaction.
//
// Failures throw JobsError with the SQLite result mapped to a JobsErrc; the store catches them
// at its public boundary and returns them, so the SQL code reads straight through.
//
// Not thread-safe: the store guards its connection with a mutex.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <sqlite3.h>

#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/jobs_error.hpp>
#include <afterwork/jobs/sqlite_store.hpp>

namespace afterwork::detail::sqlite {

/// The JobsErrc for a SQLite result code (primary or extended).
JobsErrc map_result(int rc) noexcept;

class Connection {
public:
    /// Opens `name` (a path, or a URI with SQLITE_OPEN_URI) with `sqlite3_open_v2` flags;
    /// throws JobsError (`unavailable`, ...). Messages name the file as `label` (default:
    /// `name`).
    Connection(const std::string& name,
               int flags,
               std::chrono::milliseconds busy_timeout,
               std::string label = {});
    /// Borrows a connection the caller owns (transactional enqueue); it is not closed, and
    /// the statements prepared on it are finalised when this object goes.
    explicit Connection(sqlite3* borrowed);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    sqlite3* handle() const noexcept { return db_; }
    const std::string& label() const noexcept { return label_; }

    /// The prepared statement for `sql`, from the cache or prepared now.
    sqlite3_stmt* prepare(const std::string& sql);

    /// Runs a statement without parameters to completion (BEGIN, COMMIT, pragmas).
    void exec(const std::string& sql);

    /// Runs a multi-statement script (migrations); not cached.
    void exec_script(const char* sql);

    /// Throws the JobsError for result `rc` of the last call, saying what was being done.
    [[noreturn]] void raise(int rc, std::string_view doing) const;

    /// The SQLite result code (extended) of the last failure `raise` threw; SQLITE_OK before
    /// any. The JobsErrc of the error is coarser, e.g. to tell why a file cannot be read.
    int last_error() const noexcept { return last_error_; }

    /// True while a transaction is open.
    bool in_transaction() const noexcept;

    /// Rolls back the open transaction, if any, ignoring errors (used on the way out of a
    /// failure; SQLite may already have rolled back after a full disk or an I/O error).
    void rollback_quietly() noexcept;

private:
    sqlite3* db_ = nullptr;
    bool owned_ = false;
    std::string label_;
    std::chrono::milliseconds busy_timeout_{0};
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
    mutable int last_error_ = SQLITE_OK;
};

/// The URI (for SQLITE_OPEN_URI) that opens `path` as immutable: SQLite reads the file alone,
/// without locks or the files of its log. The path is made absolute and percent-encoded, so
/// `?`, `#`, `%` and the like in it are taken as part of the name.
std::string immutable_uri(const std::filesystem::path& path);

/// The `sqlite3_open_v2` flags of a store opened with `options` (without SQLITE_OPEN_URI).
int open_flags(const SqliteOptions& options);

/// Whether a read-only open failed (extended result `rc`) on the files next to the database
/// that SQLite reads a WAL file through, so an immutable open may read the file instead.
bool cannot_open_log_files(int rc);

/// The log or rollback journal next to `path` when it holds anything (or cannot be looked at):
/// changes that are not in the file yet, which an immutable open would not see.
std::optional<std::filesystem::path> unapplied_log(const std::filesystem::path& path);

/// One execution of a cached statement: bind, step, read. Resets the statement when done so
/// it can be reused and holds no read lock.
class Query {
public:
    Query(Connection& connection, const std::string& sql);
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    ~Query();

    Query& bind(int index, std::int64_t value);
    Query& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Query& bind(int index, bool value) { return bind(index, std::int64_t{value ? 1 : 0}); }
    Query& bind(int index, double value);
    Query& bind(int index, std::string_view value);
    Query& bind(int index, const std::string& value) {
        return bind(index, std::string_view(value));
    }
    Query& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    Query& bind(int index, TimePoint value);
    Query& bind_null(int index);
    template <class T>
    Query& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    /// Steps once: true when a row is ready, false when done. Throws on error.
    bool step();
    /// Steps to completion, ignoring rows.
    void run();

    bool is_null(int column) const;
    std::int64_t integer(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    TimePoint time(int column) const;
    std::optional<std::string> optional_text(int column) const;
    std::optional<TimePoint> optional_time(int column) const;

private:
    Connection& connection_;
    sqlite3_stmt* statement_;
};

/// `BEGIN IMMEDIATE` now; `ROLLBACK` when destroyed before `commit()`. IMMEDIATE takes the
/// write lock up front (waiting up to the busy timeout), so a transaction never fails half-way
/// because another process wrote in between.
class WriteTransaction {
public:
    explicit WriteTransaction(Connection& connection);
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    ~WriteTransaction();

    void commit();

private:
    Connection& connection_;
    bool done_ = false;
};

}  // namespace afterwork::detail::sqlite
