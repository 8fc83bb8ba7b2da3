// SPDX-License-Identifier: MIT
#include <afterwork/jobs/sqlite_store.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "jobs/checks.hpp"
#include "jobs/sqlite/connection.hpp"
#include "jobs/sqlite/schema.hpp"
#include "jobs/transitions.hpp"

namespace afterwork {
namespace {

using detail::from_micros;
using detail::to_micros;
using detail::sqlite::Connection;
using detail::sqlite::Query;
using detail::sqlite::WriteTransaction;

// The columns of a JobRecord in the order read_job reads them.
const std::string kColumns =
    "id, name, queue, priority, args, state, attempt, max_attempts, unique_key, created_at, "
    "run_at, started_at, finished_at, lease_owner, lease_until, cancel_requested, progress, "
    "progress_message, result, errors, expires_at";

// The WHERE term of the active states, written exactly as in the partial unique index so the
// planner can use that index.
//
// The hot statements name their index with INDEXED BY. Without statistics SQLite may prefer
// the (state, id) index and sort, a scan of every running or waiting job; INDEXED BY pins the
// partial index, and turns a future schema change that breaks it into an error at prepare time
// (which the tests see) instead of a silent slowdown at millions of rows.
constexpr const char* kActive = "state IN ('scheduled', 'queued', 'running', 'failed')";

JobsError corrupt_row(JobId id, std::string_view what) {
    return JobsError(JobsErrc::corrupt, fmt::format("job {} is damaged: {}", id, what));
}

std::string encode_errors(const std::vector<AttemptError>& errors) {
    boost::json::array array;
    array.reserve(errors.size());
    for (const AttemptError& error : errors) {
        array.push_back(boost::json::object{{"attempt", error.attempt},
                                            {"message", error.message},
                                            {"at", to_micros(error.at)}});
    }
    return boost::json::serialize(array);
}

std::vector<AttemptError> decode_errors(JobId id, const std::string& text) {
    boost::system::error_code ec;
    const boost::json::value value = boost::json::parse(text, ec);
    if (ec || !value.is_array()) throw corrupt_row(id, "its errors are not a JSON array");
    std::vector<AttemptError> errors;
    for (const boost::json::value& item : value.get_array()) {
        const auto* object = item.if_object();
        const boost::json::value* attempt = object ? object->if_contains("attempt") : nullptr;
        const boost::json::value* message = object ? object->if_contains("message") : nullptr;
        const boost::json::value* at = object ? object->if_contains("at") : nullptr;
        if (!attempt || !attempt->is_int64() || !message || !message->is_string() || !at ||
            !at->is_int64()) {
            throw corrupt_row(id, "an entry of its errors lacks attempt, message or at");
        }
        errors.push_back({static_cast<int>(attempt->get_int64()),
                          std::string(message->get_string()), from_micros(at->get_int64())});
    }
    return errors;
}

JobRecord read_job(const Query& q) {
    JobRecord job;
    job.id = q.integer(0);
    job.name = q.text(1);
    job.queue = q.text(2);
    job.priority = static_cast<int>(q.integer(3));
    job.args = q.text(4);
    auto state = parse_job_state(q.text(5));
    if (!state) throw corrupt_row(job.id, state.error().what());
    job.state = *state;
    job.attempt = static_cast<int>(q.integer(6));
    job.max_attempts = static_cast<int>(q.integer(7));
    job.unique_key = q.optional_text(8);
    job.created_at = q.time(9);
    job.run_at = q.time(10);
    job.started_at = q.optional_time(11);
    job.finished_at = q.optional_time(12);
    job.lease_owner = q.optional_text(13);
    job.lease_until = q.optional_time(14);
    job.cancel_requested = q.integer(15) != 0;
    job.progress = q.real(16);
    job.progress_message = q.text(17);
    job.result = q.optional_text(18);
    if (!q.is_null(19)) job.errors = decode_errors(job.id, q.text(19));
    job.expires_at = q.optional_time(20);
    return job;
}

std::optional<JobRecord> load(Connection& c, JobId id) {
    Query q(c, "SELECT " + kColumns + " FROM afterwork_jobs WHERE id = ?1");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return read_job(q);
}

// Writes the columns that differ between `before` and `after` (same job). Only those appear
// in the UPDATE, so SQLite touches only the indexes on them; the few shapes this produces are
// cached like any statement.
void save(Connection& c, const JobRecord& before, const JobRecord& after) {
    const bool changed[] = {
        before.state != after.state,
        before.attempt != after.attempt,
        before.run_at != after.run_at,
        before.started_at != after.started_at,
        before.finished_at != after.finished_at,
        before.lease_owner != after.lease_owner,
        before.lease_until != after.lease_until,
        before.cancel_requested != after.cancel_requested,
        before.progress != after.progress,
        before.progress_message != after.progress_message,
        before.result != after.result,
        before.errors != after.errors,
        before.expires_at != after.expires_at,
    };
    static constexpr const char* kNames[] = {
        "state",       "attempt",          "run_at",   "started_at",       "finished_at",
        "lease_owner", "lease_until",      "cancel_requested", "progress", "progress_message",
        "result",      "errors",           "expires_at"};
    std::string sql = "UPDATE afterwork_jobs SET ";
    bool any = false;
    for (std::size_t i = 0; i < std::size(changed); ++i) {
        if (!changed[i]) continue;
        if (any) sql += ", ";
        sql += fmt::format("{} = ?{}", kNames[i], i + 2);
        any = true;
    }
    if (!any) return;
    sql += " WHERE id = ?1";
    Query q(c, sql);
    q.bind(1, after.id);
    // Parameter i + 2 exists only when column i changed.
    if (changed[0]) q.bind(2, to_string(after.state));
    if (changed[1]) q.bind(3, after.attempt);
    if (changed[2]) q.bind(4, after.run_at);
    if (changed[3]) q.bind(5, after.started_at);
    if (changed[4]) q.bind(6, after.finished_at);
    if (changed[5]) q.bind(7, after.lease_owner);
    if (changed[6]) q.bind(8, after.lease_until);
    if (changed[7]) q.bind(9, after.cancel_requested);
    if (changed[8]) q.bind(10, after.progress);
    if (changed[9]) q.bind(11, after.progress_message);
    if (changed[10]) q.bind(12, after.result);
    if (changed[11]) {
        if (after.errors.empty()) {
            q.bind_null(13);
        } else {
            q.bind(13, encode_errors(after.errors));
        }
    }
    if (changed[12]) q.bind(14, after.expires_at);
    q.run();
}

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

void configure(Connection& c, const SqliteOptions& options) {
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
    detail::sqlite::migrate(c, SqliteStore::kSchemaVersion, writable);
}

}  // namespace

struct SqliteStore::State {
    State(std::filesystem::path file, const SqliteOptions& options, bool immutable_file = false)
        : path(std::move(file)),
          immutable(immutable_file),
          connection(immutable ? detail::sqlite::immutable_uri(path) : path.string(),
                     open_flags(options) | (immutable ? SQLITE_OPEN_URI : 0),
                     options.busy_timeout,
                     path.string()) {}

    std::filesystem::path path;
    bool immutable = false;  // see SqliteStore::immutable
    std::mutex mutex;
    Connection connection;

    // Runs `body` (returning JobsResult<T>) in one IMMEDIATE transaction under the mutex; it
    // commits only when the body succeeds. A JobsError thrown by the SQL layer or the body
    // rolls back and becomes the result.
    template <class F>
    auto write(F&& body) -> decltype(body()) {
        std::lock_guard lock(mutex);
        try {
            WriteTransaction transaction(connection);
            auto result = body();
            if (result) transaction.commit();
            return result;
        } catch (const JobsError& error) {
            return error;
        }
    }

    // A read: one statement sees one snapshot, so no transaction is needed.
    template <class F>
    auto read(F&& body) -> decltype(body()) {
        std::lock_guard lock(mutex);
        try {
            return body();
        } catch (const JobsError& error) {
            return error;
        }
    }

    // Loads job `id`, applies `change` (returning JobsResult<T>) to a copy and saves what
    // changed, in one transaction; nothing is written when `change` fails.
    template <class F>
    auto change_job(JobId id, F&& change) -> decltype(change(std::declval<JobRecord&>())) {
        return write([&]() -> decltype(change(std::declval<JobRecord&>())) {
            const auto job = load(connection, id);
            if (!job) return detail::not_found(id);
            JobRecord next = *job;
            auto result = change(next);
            if (result) save(connection, *job, next);
            return result;
        });
    }

    std::vector<JobRecord> claim(const ClaimRequest& request);

    // Everything a complete_many does inside its transaction; see Store::complete_many.
    std::vector<JobsResult<void>> complete(std::string_view worker_id,
                                           std::span<const Completion> completions,
                                           TimePoint now);
};

std::vector<JobsResult<void>> SqliteStore::State::complete(std::string_view worker_id,
                                                          std::span<const Completion> completions,
                                                          TimePoint now) {
    std::vector<JobsResult<void>> results;
    results.reserve(completions.size());
    const TimePoint finished_at = truncate_to_store(now);
    for (const Completion& c : completions) {
        if (c.result_json) {
            if (auto r = detail::check_json("result", *c.result_json); !r) {
                results.push_back(r);
                continue;
            }
        }
        // The change of detail::complete in one statement guarded as detail::check_owner:
        // a busy worker completes thousands of jobs a second, and loading each first
        // would double the statements.
        Query q(connection,
                "UPDATE afterwork_jobs SET state = 'succeeded', finished_at = ?3, "
                "expires_at = ?4, result = ?5, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ?1 AND state = 'running' AND lease_owner = ?2 RETURNING id");
        q.bind(1, c.id).bind(2, worker_id).bind(3, finished_at);
        if (c.expires_at) {
            q.bind(4, truncate_to_store(*c.expires_at));
        } else {
            q.bind_null(4);
        }
        q.bind(5, c.result_json);
        if (q.step()) {
            results.push_back({});
            continue;
        }
        // Not held: say why, as the other stores do.
        const auto job = load(connection, c.id);
        if (!job) {
            results.push_back(detail::not_found(c.id));
        } else {
            results.push_back(detail::check_owner(*job, worker_id));
        }
    }
    return results;
}

std::vector<JobRecord> SqliteStore::State::claim(const ClaimRequest& request) {
    Connection& c = connection;
    const TimePoint now = truncate_to_store(request.now);
    {
        Query q(c, "UPDATE afterwork_jobs INDEXED BY afterwork_jobs_delayed SET state = 'queued' "
                   "WHERE state IN ('scheduled', 'failed') AND run_at <= ?1");
        q.bind(1, now).run();
    }
    std::vector<JobRecord> claimed;
    if (request.limit == 0) return claimed;

    // What each rate-limited name may still start in its window, from the shared table.
    std::map<std::string, std::int64_t, std::less<>> budget;
    for (const RateLimit& limit : request.rate_limits) {
        {
            Query q(c, "DELETE FROM afterwork_rate_starts WHERE name = ?1 AND at <= ?2");
            q.bind(1, limit.name).bind(2, now - limit.period).run();
        }
        Query q(c, "SELECT count(*) FROM afterwork_rate_starts WHERE name = ?1");
        q.bind(1, limit.name);
        q.step();
        budget[limit.name] = std::max<std::int64_t>(0, limit.max_starts - q.integer(0));
    }

    std::set<std::string> queues(request.queues.begin(), request.queues.end());
    if (queues.empty()) {
        Query q(c, "SELECT queue FROM afterwork_queue_counts WHERE state = 'queued' AND n > 0");
        while (q.step()) queues.insert(q.text(0));
    }

    struct Candidate {
        int priority;
        std::int64_t run_at;
        JobId id;
        std::string name;
    };
    // Each round reads the best `need` queued jobs of every queue (the index walk stops after
    // them), merges them into claim order and takes them. When a name runs out of budget the
    // round ends and the next one reads again without that name, so the order stays exact.
    for (;;) {
        const std::size_t need = request.limit - claimed.size();
        std::vector<std::string> excluded;
        for (const auto& [name, left] : budget) {
            if (left == 0) excluded.push_back(name);
        }
        std::string sql =
            "SELECT priority, run_at, id, name FROM afterwork_jobs INDEXED BY afterwork_jobs_ready "
            "WHERE state = 'queued' AND queue = ?1";
        if (!excluded.empty()) {
            sql += " AND name NOT IN (";
            for (std::size_t i = 0; i < excluded.size(); ++i) {
                sql += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 3);
            }
            sql += ")";
        }
        sql += " ORDER BY priority DESC, run_at, id LIMIT ?2";

        std::vector<Candidate> candidates;
        for (const std::string& queue : queues) {
            Query q(c, sql);
            q.bind(1, queue).bind(2, static_cast<std::int64_t>(need));
            for (std::size_t i = 0; i < excluded.size(); ++i) {
                q.bind(static_cast<int>(i + 3), excluded[i]);
            }
            while (q.step()) {
                candidates.push_back({static_cast<int>(q.integer(0)), q.integer(1),
                                      q.integer(2), q.text(3)});
            }
        }
        if (candidates.empty()) break;
        std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
            if (a.priority != b.priority) return a.priority > b.priority;
            if (a.run_at != b.run_at) return a.run_at < b.run_at;
            return a.id < b.id;
        });

        bool ran_out = false;
        for (const Candidate& candidate : candidates) {
            if (claimed.size() == request.limit) break;
            // The same change as detail::start_attempt, in one statement.
            Query q(c,
                    "UPDATE afterwork_jobs SET state = 'running', attempt = attempt + 1, "
                    "started_at = ?2, lease_owner = ?3, lease_until = ?4, cancel_requested = 0, "
                    "progress = 0, progress_message = '' WHERE id = ?1 RETURNING " +
                        kColumns);
            q.bind(1, candidate.id)
                .bind(2, now)
                .bind(3, request.worker_id)
                .bind(4, truncate_to_store(now + request.lease));
            if (!q.step()) continue;
            claimed.push_back(read_job(q));
            if (auto it = budget.find(candidate.name); it != budget.end()) {
                Query start(c, "INSERT INTO afterwork_rate_starts (name, at) VALUES (?1, ?2)");
                start.bind(1, candidate.name).bind(2, now).run();
                if (--it->second == 0) {
                    ran_out = true;
                    break;
                }
            }
        }
        if (!ran_out || claimed.size() == request.limit) break;
    }
    return claimed;
}

namespace {

// Whether a read-only open failed on the files next to the database that SQLite reads a WAL
// file through: the shared-memory index (-shm), and the log (-wal) when there is none. SQLite
// says READONLY_DIRECTORY when it cannot create them, CANTOPEN when it cannot open them.
bool cannot_open_log_files(int rc) {
    return (rc & 0xff) == SQLITE_CANTOPEN || rc == SQLITE_READONLY_DIRECTORY ||
           rc == SQLITE_READONLY_CANTINIT || rc == SQLITE_READONLY_CANTLOCK ||
           rc == SQLITE_READONLY_RECOVERY;
}

// The log or rollback journal next to `path` when it holds anything (or cannot be looked at):
// changes that are not in the file yet, which an immutable open would not see.
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

}  // namespace

JobsResult<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& path,
                                                          SqliteOptions options) {
    try {
        auto state = std::make_unique<State>(path, options);
        try {
            configure(state->connection, options);
        } catch (const JobsError&) {
            // A read-only open of a WAL file in a folder that cannot be written (a mounted
            // backup): SQLite cannot create the files it reads the log through. An immutable
            // open reads the file alone, which misses nothing while no log holds changes.
            if (!options.read_only || !cannot_open_log_files(state->connection.last_error())) {
                throw;
            }
            if (const auto log = unapplied_log(path)) {
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
            configure(state->connection, options);
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

JobsResult<std::vector<JobRecord>> SqliteStore::claim(const ClaimRequest& request) {
    if (auto r = detail::check_claim(request); !r) return r.error();
    return state_->write(
        [&]() -> JobsResult<std::vector<JobRecord>> { return state_->claim(request); });
}

JobsResult<std::vector<LeaseStatus>> SqliteStore::heartbeat(std::string_view worker_id,
                                                            std::span<const JobId> ids,
                                                            TimePoint lease_until) {
    return state_->write([&]() -> JobsResult<std::vector<LeaseStatus>> {
        std::vector<LeaseStatus> statuses;
        statuses.reserve(ids.size());
        for (const JobId id : ids) {
            // The same change as detail::renew, guarded as detail::check_owner.
            Query q(state_->connection,
                    "UPDATE afterwork_jobs SET lease_until = ?3 "
                    "WHERE id = ?1 AND state = 'running' AND lease_owner = ?2 "
                    "RETURNING cancel_requested");
            q.bind(1, id).bind(2, worker_id).bind(3, truncate_to_store(lease_until));
            if (q.step()) {
                statuses.push_back({id, true, q.integer(0) != 0});
            } else {
                statuses.push_back({id, false, false});
            }
        }
        return statuses;
    });
}

JobsResult<void> SqliteStore::set_progress(JobId id, std::string_view worker_id, double fraction,
                                           std::string_view message) {
    if (auto r = detail::check_progress(fraction); !r) return r;
    return state_->change_job(id, [&](JobRecord& job) {
        return detail::set_progress(job, worker_id, fraction, message);
    });
}

JobsResult<std::vector<JobsResult<void>>> SqliteStore::complete_many(
    std::string_view worker_id, std::span<const Completion> completions, TimePoint now) {
    return state_->write([&]() -> JobsResult<std::vector<JobsResult<void>>> {
        return state_->complete(worker_id, completions, now);
    });
}

JobsResult<CompletedAndClaimed> SqliteStore::complete_and_claim(
    std::string_view worker_id, std::span<const Completion> completions,
    const ClaimRequest& request) {
    if (auto r = detail::check_claim(request); !r) {
        auto completed = complete_many(worker_id, completions, request.now);
        if (!completed) return completed.error();
        return CompletedAndClaimed{std::move(*completed), r.error()};
    }
    return state_->write([&]() -> JobsResult<CompletedAndClaimed> {
        auto completed = state_->complete(worker_id, completions, request.now);
        return CompletedAndClaimed{std::move(completed), state_->claim(request)};
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

JobsResult<std::size_t> SqliteStore::release(std::string_view worker_id,
                                             std::span<const JobId> ids, TimePoint now) {
    return state_->write([&]() -> JobsResult<std::size_t> {
        std::size_t released = 0;
        for (const JobId id : ids) {
            const auto job = load(state_->connection, id);
            if (!job) continue;
            JobRecord next = *job;
            if (!detail::release(next, worker_id, now)) continue;
            save(state_->connection, *job, next);
            ++released;
        }
        return released;
    });
}

JobsResult<ExpiredLeases> SqliteStore::requeue_expired(TimePoint now,
                                                       std::optional<TimePoint> dead_expires_at) {
    return state_->write([&]() -> JobsResult<ExpiredLeases> {
        std::vector<JobRecord> jobs;
        {
            Query q(state_->connection,
                    "SELECT " + kColumns +
                        " FROM afterwork_jobs INDEXED BY afterwork_jobs_leases "
                        "WHERE state = 'running' AND lease_until <= ?1 ORDER BY lease_until, id");
            q.bind(1, truncate_to_store(now));
            while (q.step()) jobs.push_back(read_job(q));
        }
        ExpiredLeases expired;
        for (const JobRecord& job : jobs) {
            JobRecord next = job;
            detail::record_expiry(expired, job.id,
                                  detail::expire_lease(next, now, dead_expires_at));
            save(state_->connection, job, next);
        }
        return expired;
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
        const auto job = load(state_->connection, id);
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
        auto job = load(state_->connection, id);
        if (!job) return detail::not_found(id);
        return std::move(*job);
    });
}

JobsResult<JobPage> SqliteStore::list(const JobFilter& filter, const PageRequest& page) const {
    if (auto r = detail::check_page(page); !r) return r.error();
    return state_->read([&]() -> JobsResult<JobPage> {
        std::string sql = "SELECT " + kColumns + " FROM afterwork_jobs WHERE 1";
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
        JobPage result;
        while (q.step()) {
            if (result.jobs.size() == page.limit) {
                result.next_before_id = result.jobs.back().id;
                break;
            }
            result.jobs.push_back(read_job(q));
        }
        return result;
    });
}

JobsResult<std::vector<QueueCounts>> SqliteStore::counts() const {
    return state_->read([&]() -> JobsResult<std::vector<QueueCounts>> {
        Query q(state_->connection,
                "SELECT queue, state, n FROM afterwork_queue_counts WHERE n != 0 "
                "ORDER BY queue, state");
        std::vector<QueueCounts> counts;
        while (q.step()) {
            std::string queue = q.text(0);
            auto state = parse_job_state(q.text(1));
            if (!state) {
                throw JobsError(JobsErrc::corrupt,
                                fmt::format("queue counts are damaged: {}", state.error().what()));
            }
            if (counts.empty() || counts.back().queue != queue) {
                counts.push_back({std::move(queue), {}});
            }
            counts.back().by_state[static_cast<std::size_t>(*state)] = q.integer(2);
        }
        return counts;
    });
}

namespace {
constexpr const char* kSelectSchedules =
    "SELECT id, name, trigger, next_run, last_run, paused FROM afterwork_schedules";
}  // namespace

std::shared_ptr<ScheduleStore> SqliteStore::schedule_store(std::shared_ptr<SqliteStore> store) {
    // A local class: it may name the private State, and needs nothing else of the store.
    class Schedules final : public ScheduleStore {
    public:
        explicit Schedules(std::shared_ptr<SqliteStore> owner) : owner_(std::move(owner)) {}

        std::optional<ScheduleRecord> load(std::string_view id) override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            Query q(state.connection, std::string(kSelectSchedules) + " WHERE id = ?1");
            q.bind(1, id);
            if (!q.step()) return std::nullopt;
            return read(q);
        }

        std::vector<ScheduleRecord> load_all() override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            Query q(state.connection, std::string(kSelectSchedules) + " ORDER BY id");
            std::vector<ScheduleRecord> records;
            while (q.step()) records.push_back(read(q));
            return records;
        }

        void save(const std::vector<ScheduleRecord>& records) override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            WriteTransaction transaction(state.connection);
            for (const auto& record : records) {
                Query q(state.connection,
                        "INSERT INTO afterwork_schedules (id, name, trigger, next_run, last_run, "
                        "paused) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET "
                        "name = excluded.name, trigger = excluded.trigger, "
                        "next_run = excluded.next_run, last_run = excluded.last_run, "
                        "paused = excluded.paused");
                q.bind(1, record.id)
                    .bind(2, record.name)
                    .bind(3, record.trigger)
                    .bind(4, record.next_run)
                    .bind(5, record.last_run)
                    .bind(6, record.paused)
                    .run();
            }
            transaction.commit();
        }

        void remove(std::string_view id) override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            WriteTransaction transaction(state.connection);
            Query q(state.connection, "DELETE FROM afterwork_schedules WHERE id = ?1");
            q.bind(1, id).run();
            transaction.commit();
        }

    private:
        static ScheduleRecord read(const Query& q) {
            return ScheduleRecord{.id = q.text(0),
                                  .name = q.text(1),
                                  .trigger = q.text(2),
                                  .next_run = q.optional_time(3),
                                  .last_run = q.optional_time(4),
                                  .paused = q.integer(5) != 0};
        }

        std::shared_ptr<SqliteStore> owner_;
    };
    return std::make_shared<Schedules>(std::move(store));
}

}  // namespace afterwork
