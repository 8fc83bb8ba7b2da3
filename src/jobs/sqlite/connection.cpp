// SPDX-License-Identifier: MIT
#include "jobs/sqlite/connection.hpp"

#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "jobs/checks.hpp"

namespace afterwork::detail::sqlite {

JobsErrc map_result(int rc) noexcept {
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return JobsErrc::busy;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
            return JobsErrc::corrupt;
        case SQLITE_READONLY:
            return JobsErrc::read_only;
        case SQLITE_FULL:
            return JobsErrc::full;
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_AUTH:
            return JobsErrc::unavailable;
        case SQLITE_CONSTRAINT:
            // The only constraint a valid call can hit is the unique-key index, when another
            // connection added the key between our check and our insert.
            return JobsErrc::duplicate;
        default:
            return JobsErrc::io_error;
    }
}

Connection::Connection(const std::string& name,
                       int flags,
                       std::chrono::milliseconds busy_timeout,
                       std::string label)
    : owned_(true), label_(label.empty() ? name : std::move(label)), busy_timeout_(busy_timeout) {
    const int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        // Even a failed open may allocate a handle that carries the message.
        const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw JobsError(
            map_result(rc) == JobsErrc::io_error ? JobsErrc::unavailable : map_result(rc),
            fmt::format("cannot open {}: {}", label_, message));
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
}

Connection::Connection(sqlite3* borrowed) : db_(borrowed), owned_(false) {
    const char* file = sqlite3_db_filename(db_, "main");
    label_ = file != nullptr && *file != '\0' ? file : ":memory:";
}

Connection::~Connection() {
    for (auto& [sql, statement] : cache_) sqlite3_finalize(statement);
    if (owned_) sqlite3_close_v2(db_);
}

sqlite3_stmt* Connection::prepare(const std::string& sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (rc != SQLITE_OK) raise(rc, "preparing a statement");
    cache_.emplace(sql, statement);
    return statement;
}

void Connection::exec(const std::string& sql) {
    Query query(*this, sql);
    query.run();
}

void Connection::exec_script(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) raise(rc, "running a migration");
}

void Connection::raise(int rc, std::string_view doing) const {
    last_error_ = rc;
    const JobsErrc code = map_result(rc);
    const char* detail = sqlite3_errmsg(db_);
    std::string message;
    switch (code) {
        case JobsErrc::busy:
            // A borrowed connection's busy timeout is the caller's and unknown here.
            message = owned_ ? fmt::format("{} is locked by another connection (waited {} ms "
                                           "while {}): {}",
                                           label_, busy_timeout_.count(), doing, detail)
                             : fmt::format("{} is locked by another connection (while {}): {}",
                                           label_, doing, detail);
            break;
        case JobsErrc::corrupt:
            message = fmt::format("{} is not a database or is damaged (while {}): {}", label_,
                                  doing, detail);
            break;
        case JobsErrc::read_only:
            message = fmt::format("{} cannot be written (while {}): {}", label_, doing, detail);
            break;
        case JobsErrc::full:
            message = fmt::format("{} is full: the disk or its size limit (while {}): {}", label_,
                                  doing, detail);
            break;
        default:
            message = fmt::format("{}: {} failed: {}", label_, doing, detail);
            break;
    }
    throw JobsError(code, message);
}

bool Connection::in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }

void Connection::rollback_quietly() noexcept {
    if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Query::Query(Connection& connection, const std::string& sql)
    : connection_(connection), statement_(connection.prepare(sql)) {}

Query::~Query() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
}

Query& Query::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(statement_, index, value);
    if (rc != SQLITE_OK) connection_.raise(rc, "binding a parameter");
    return *this;
}

Query& Query::bind(int index, double value) {
    const int rc = sqlite3_bind_double(statement_, index, value);
    if (rc != SQLITE_OK) connection_.raise(rc, "binding a parameter");
    return *this;
}

Query& Query::bind(int index, std::string_view value) {
    // SQLITE_TRANSIENT copies: the bound text may not outlive the caller's argument.
    const int rc = sqlite3_bind_text64(statement_, index, value.data(), value.size(),
                                       SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) connection_.raise(rc, "binding a parameter");
    return *this;
}

Query& Query::bind(int index, TimePoint value) { return bind(index, to_micros(value)); }

Query& Query::bind_null(int index) {
    const int rc = sqlite3_bind_null(statement_, index);
    if (rc != SQLITE_OK) connection_.raise(rc, "binding a parameter");
    return *this;
}

bool Query::step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    connection_.raise(rc, "running a statement");
}

void Query::run() {
    while (step()) {
    }
}

bool Query::is_null(int column) const {
    return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

std::int64_t Query::integer(int column) const { return sqlite3_column_int64(statement_, column); }

double Query::real(int column) const { return sqlite3_column_double(statement_, column); }

std::string Query::text(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    return data == nullptr ? std::string()
                           : std::string(reinterpret_cast<const char*>(data),
                                         static_cast<std::size_t>(size));
}

TimePoint Query::time(int column) const { return from_micros(integer(column)); }

std::optional<std::string> Query::optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
}

std::optional<TimePoint> Query::optional_time(int column) const {
    if (is_null(column)) return std::nullopt;
    return time(column);
}

std::string immutable_uri(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    if (ec) absolute = path;
    // "file:///abs/path": the empty authority keeps a path that starts with "//" from being
    // read as a host. Every byte but the unreserved ones and '/' is escaped, so nothing in the
    // name reads as the query ('?'), the fragment ('#') or an escape ('%').
    std::string uri = absolute.is_absolute() ? "file://" : "file:";
    for (const char c : absolute.string()) {
        const auto byte = static_cast<unsigned char>(c);
        const bool plain = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                           (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                           byte == '_' || byte == '~' || byte == '/';
        if (plain) {
            uri += c;
        } else {
            uri += fmt::format("%{:02X}", byte);
        }
    }
    return uri + "?immutable=1";
}

int open_flags(const SqliteOptions& options) {
    // NOMUTEX: the store serialises use of its connection with its own mutex.
    int flags = SQLITE_OPEN_NOMUTEX;
    if (options.read_only) {
        flags |= SQLITE_OPEN_READONLY;
    } else {
        flags |= SQLITE_OPEN_READWRITE;
        if (options.create) flags |= SQLITE_OPEN_CREATE;
    }
    return flags;
}

// The files are the shared-memory index (-shm), and the log (-wal) when there is none. SQLite
// says READONLY_DIRECTORY when it cannot create them, CANTOPEN when it cannot open them.
bool cannot_open_log_files(int rc) {
    return (rc & 0xff) == SQLITE_CANTOPEN || rc == SQLITE_READONLY_DIRECTORY ||
           rc == SQLITE_READONLY_CANTINIT || rc == SQLITE_READONLY_CANTLOCK ||
           rc == SQLITE_READONLY_RECOVERY;
}

std::optional<std::filesystem::path> unapplied_log(const std::filesystem::path& path) {
    for (const char* suffix : {"-wal", "-journal"}) {
        std::filesystem::path log = path;
        log += suffix;
        std::error_code ec;
        const auto size = std::filesystem::file_size(log, ec);
        if (ec == std::errc::no_such_file_or_directory) continue;
        if (ec || size > 0) return log;
    }
    return std::nullopt;
}

WriteTransaction::WriteTransaction(Connection& connection) : connection_(connection) {
    connection_.exec("BEGIN IMMEDIATE");
}

WriteTransaction::~WriteTransaction() {
    if (!done_) connection_.rollback_quietly();
}

void WriteTransaction::commit() {
    connection_.exec("COMMIT");
    done_ = true;
}

}  // namespace afterwork::detail::sqlite
