// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `SqliteStore`: the `Store` in one SQLite database file — the embedded default, durable
/// across restarts, safe for several processes on one machine. Target `afterwork::jobs_sqlite`.
///
/// **Schema.** Tables are prefixed `afterwork_` so the file can also hold the application's own
/// tables (which transactional enqueue needs). The schema version lives in
/// `afterwork_meta`, not in `PRAGMA user_version`, which stays the application's. `open`
/// applies the missing migrations in order, each in its own transaction, and refuses a file
/// whose version is newer than this build (`version_mismatch`).
///
/// **Concurrency.** The database runs in WAL mode: readers never wait for the writer. Every
/// write is one `BEGIN IMMEDIATE` transaction, so writers from several processes queue on the
/// file lock (for up to `busy_timeout`, then `busy`) instead of failing half-way. One
/// `SqliteStore` holds one connection with its prepared statements, guarded by a mutex; open
/// one store per process and share it.
///
/// **Durability.** With `SqliteSync::normal` (the default) a committed job survives the
/// process being killed at any moment; after a power loss or OS crash the last transactions
/// before it may be rolled back (the file stays consistent). `SqliteSync::full` makes every
/// commit survive power loss too, at the cost of an fsync per commit.
///
/// **Errors.** A file that is not a database, or is damaged, is `corrupt` at `open` (when
/// `quick_check_on_open`) or at the first operation that meets the damage; a file that cannot
/// be written is `read_only`; a full disk or `max_size_bytes` is `full`; a lock held past the
/// timeout is `busy`. Each write is a transaction, so a failed call leaves nothing
/// half-written.
///
/// **Scale.** Partial indexes keep claim, promotion, lease expiry, both purges and unique-key
/// checks proportional to what they touch, not to the table, at millions of rows; triggers keep
/// per-queue state counts, so `counts()` reads a few rows. Jobs of a rate-limited name that is
/// out of budget are stepped over in the queue's index; give heavily throttled definitions a
/// queue of their own.
///
/// @par Thread safety
/// Thread-safe (one mutex per store); several stores and processes may share one file.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <afterwork/jobs/store.hpp>
#include <afterwork/schedule/schedule_store.hpp>

struct sqlite3;

namespace afterwork {

/// How hard a commit waits for the disk (`PRAGMA synchronous`).
enum class SqliteSync {
    normal,  ///< survives process crashes; a power loss may roll back the last commits
    full,    ///< every commit survives power loss (an fsync per commit)
};

/// How `SqliteStore::open` opens the file.
struct SqliteOptions {
    /// How long a write waits for another connection's lock before failing with `busy`.
    std::chrono::milliseconds busy_timeout{5000};
    SqliteSync synchronous = SqliteSync::normal;
    /// Open for reading only (e.g. `afterwork jobs ls`): writes fail with `read_only`, and a
    /// file whose schema is missing or old is refused instead of migrated.
    ///
    /// SQLite reads a file in WAL mode through a shared-memory file it creates next to it
    /// (`-shm`), which a folder that cannot be written (a mounted backup) cannot hold. Then the
    /// file is opened as immutable (`SqliteStore::immutable`): read as it is, without locks,
    /// seeing no later change — unless its log (`-wal`) holds changes that are not in the file
    /// yet, which such a read would miss: that is `read_only`, until an open with write access
    /// has moved them into the file.
    bool read_only = false;
    /// Create the file when it does not exist (else `unavailable`).
    bool create = true;
    /// Run `PRAGMA quick_check` at open so a damaged file fails at start rather than later.
    /// It reads the whole file once (roughly a second per gigabyte).
    bool quick_check_on_open = true;
    /// Refuse to grow the file past this size: writes that would fail with `full`.
    std::optional<std::uint64_t> max_size_bytes;
};

class SqliteStore final : public Store {
public:
    /// The schema version this build creates and understands.
    static constexpr int kSchemaVersion = 3;

    /// Opens (and creates or migrates) the store in `path`. Errors: `unavailable` (cannot open
    /// or create), `corrupt` (not a database, damaged), `read_only` (a migration was needed
    /// but the file cannot be written), `busy`, `version_mismatch`.
    [[nodiscard]] static JobsResult<std::unique_ptr<SqliteStore>> open(
        const std::filesystem::path& path, SqliteOptions options = {});

    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;
    ~SqliteStore() override;

    /// Transactional enqueue: adds `jobs` through the caller's own `connection`, inside the
    /// transaction the caller has open on it, so the jobs exist exactly when the caller's
    /// other writes commit — a rollback leaves no job (as River and Oban offer).
    ///
    /// `connection` must be open on a database a `SqliteStore` has already opened (so the
    /// schema exists) and must be inside a transaction (`BEGIN IMMEDIATE` is best: a deferred
    /// transaction that read before may fail with `busy` when it starts writing). The batch
    /// runs in a savepoint: on error it is undone and the caller's transaction stays open and
    /// usable. Semantics and errors are those of `Store::enqueue`; `invalid_argument` when no
    /// transaction is open, `version_mismatch` when the schema is missing or differs. Workers
    /// in this process are not woken (the jobs are not visible before the commit): the queue
    /// layer wakes them after the caller commits.
    /// @par Thread safety
    /// As the caller's connection: not concurrently with other use of `connection`.
    [[nodiscard]] static JobsResult<std::vector<EnqueueOutcome>> enqueue_in(
        sqlite3* connection, std::span<const NewJob> jobs, TimePoint now);

    /// The schedules of a `Scheduler` kept in this file (table `afterwork_schedules`), through
    /// this store's connection: `SchedulerOptions{.store = SqliteStore::schedule_store(s)}`.
    /// Keeps `store` alive. Its members throw `JobsError` when the file fails.
    [[nodiscard]] static std::shared_ptr<ScheduleStore> schedule_store(
        std::shared_ptr<SqliteStore> store);

    /// The file this store opened.
    const std::filesystem::path& path() const noexcept;

    /// Whether a read-only open had to read the file as immutable, because its folder cannot
    /// be written (see `SqliteOptions::read_only`): the store shows the file as it was at open
    /// and never sees a later change. While another process writes the file, reads may fail
    /// (as `corrupt`) or miss changes: such an open is meant for files nothing writes.
    bool immutable() const noexcept;

    std::string describe() const override;

    using Store::enqueue;
    [[nodiscard]] JobsResult<std::vector<EnqueueOutcome>> enqueue(std::span<const NewJob> jobs,
                                                                  TimePoint now) override;
    [[nodiscard]] JobsResult<std::vector<JobRecord>> claim(const ClaimRequest& request) override;
    [[nodiscard]] JobsResult<std::vector<LeaseStatus>> heartbeat(std::string_view worker_id,
                                                                 std::span<const JobId> ids,
                                                                 TimePoint lease_until) override;
    [[nodiscard]] JobsResult<void> set_progress(JobId id,
                                                std::string_view worker_id,
                                                double fraction,
                                                std::string_view message) override;
    [[nodiscard]] JobsResult<std::vector<JobsResult<void>>> complete_many(
        std::string_view worker_id,
        std::span<const Completion> completions,
        TimePoint now) override;
    [[nodiscard]] JobsResult<CompletedAndClaimed> complete_and_claim(
        std::string_view worker_id,
        std::span<const Completion> completions,
        const ClaimRequest& request) override;
    [[nodiscard]] JobsResult<JobState> fail(JobId id,
                                            std::string_view worker_id,
                                            std::string_view message,
                                            TimePoint now,
                                            std::optional<TimePoint> retry_at,
                                            std::optional<TimePoint> expires_at) override;
    [[nodiscard]] JobsResult<void> mark_cancelled(JobId id,
                                                  std::string_view worker_id,
                                                  TimePoint now,
                                                  std::optional<TimePoint> expires_at) override;
    [[nodiscard]] JobsResult<std::size_t> release(std::string_view worker_id,
                                                  std::span<const JobId> ids,
                                                  TimePoint now) override;
    [[nodiscard]] JobsResult<ExpiredLeases> requeue_expired(
        TimePoint now, std::optional<TimePoint> dead_expires_at) override;
    [[nodiscard]] JobsResult<std::optional<TimePoint>> next_due_at() const override;
    [[nodiscard]] JobsResult<JobState> cancel(JobId id,
                                              TimePoint now,
                                              std::optional<TimePoint> expires_at) override;
    [[nodiscard]] JobsResult<void> retry(JobId id, TimePoint now) override;
    [[nodiscard]] JobsResult<void> remove(JobId id, bool force) override;
    [[nodiscard]] JobsResult<std::size_t> purge(TimePoint now, std::size_t limit) override;
    [[nodiscard]] JobsResult<std::size_t> purge_finished(TimePoint finished_before,
                                                         std::span<const JobState> states,
                                                         std::size_t limit) override;
    [[nodiscard]] JobsResult<JobRecord> get(JobId id) const override;
    [[nodiscard]] JobsResult<JobPage> list(const JobFilter& filter,
                                           const PageRequest& page) const override;
    [[nodiscard]] JobsResult<std::vector<QueueCounts>> counts() const override;

private:
    struct State;
    explicit SqliteStore(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace afterwork
