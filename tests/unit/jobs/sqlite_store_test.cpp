// SPDX-License-Identifier: MIT
// SqliteStore beyond the conformance suite: the schema and its migrations, files that are not
// databases or are damaged, read-only, locked or full files, files in folders that cannot be
// written, transactional enqueue on the caller's connection, and the query plans that keep
// claim and friends off full scans.

#include <afterwork/jobs/sqlite_store.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "jobs/sqlite/connection.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = std::chrono::sys_days(std::chrono::year(2026) / 3 / 1) + 9h;

template <class T>
JobsErrc errc(const JobsResult<T>& result) {
    return result ? JobsErrc{} : result.error().code();
}

class TempDir {
public:
    TempDir() {
        std::string pattern = std::filesystem::temp_directory_path() / "afterwork-sqlite-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, ignored);
        std::filesystem::remove_all(path_, ignored);
    }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// A plain connection, as the application (or another process) would hold.
class Raw {
public:
    explicit Raw(const std::filesystem::path& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
            throw std::runtime_error("cannot open " + path.string());
        }
        sqlite3_busy_timeout(db_, 5000);
    }
    ~Raw() { sqlite3_close_v2(db_); }
    Raw(const Raw&) = delete;
    Raw& operator=(const Raw&) = delete;

    sqlite3* get() const { return db_; }

    void exec(const std::string& sql) {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            std::string message = error ? error : "?";
            sqlite3_free(error);
            throw std::runtime_error(sql + ": " + message);
        }
    }

    // The first column of every row, as text.
    std::vector<std::string> rows(const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
        std::vector<std::string> out;
        while (sqlite3_step(statement) == SQLITE_ROW) {
            const auto* text = sqlite3_column_text(statement, 0);
            out.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
        }
        sqlite3_finalize(statement);
        return out;
    }

    std::string scalar(const std::string& sql) {
        auto r = rows(sql);
        return r.empty() ? "" : r.front();
    }

private:
    sqlite3* db_ = nullptr;
};

NewJob job(std::string name, std::string args = "null") {
    NewJob j;
    j.name = std::move(name);
    j.args = std::move(args);
    return j;
}

std::unique_ptr<SqliteStore> open_store(const std::filesystem::path& path,
                                        SqliteOptions options = {}) {
    return SqliteStore::open(path, options).value();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A store file with enough jobs to span many pages, closed (so the WAL is checkpointed away).
void fill(const std::filesystem::path& path, int jobs) {
    auto store = open_store(path);
    std::vector<NewJob> batch;
    for (int i = 0; i < jobs; ++i) {
        batch.push_back(job("fill", "\"" + std::string(200, static_cast<char>('a' + i % 26)) +
                                        "\""));
    }
    ASSERT_TRUE(store->enqueue(batch, t0));
}

// ---- schema ----------------------------------------------------------------------------------

TEST(SqliteStore, CreatesTheSchemaAndKeepsDataAcrossReopen) {
    TempDir dir;
    const auto path = dir / "afterwork.db";
    JobId id = 0;
    {
        auto store = open_store(path);
        EXPECT_EQ(store->describe(), "sqlite:" + path.string());
        EXPECT_EQ(store->path(), path);
        id = store->enqueue(job("kept", R"({"n":1})"), t0).value().id;
    }
    Raw raw(path);
    EXPECT_EQ(raw.scalar("SELECT value FROM afterwork_meta WHERE key = 'schema_version'"),
              std::to_string(SqliteStore::kSchemaVersion));
    EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
    // user_version belongs to the application.
    EXPECT_EQ(raw.scalar("PRAGMA user_version"), "0");

    auto store = open_store(path);
    const JobRecord kept = store->get(id).value();
    EXPECT_EQ(kept.name, "kept");
    EXPECT_EQ(kept.args, R"({"n":1})");
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM afterwork_meta"), "1");
}

TEST(SqliteStore, SharesAFileWithTheApplicationsTables) {
    TempDir dir;
    const auto path = dir / "app.db";
    {
        Raw raw(path);
        raw.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); "
                 "INSERT INTO users (email) VALUES ('a@example.com'); PRAGMA user_version = 7;");
    }
    auto store = open_store(path);
    ASSERT_TRUE(store->enqueue(job("welcome"), t0));
    Raw raw(path);
    EXPECT_EQ(raw.scalar("PRAGMA user_version"), "7");
    EXPECT_EQ(raw.scalar("SELECT email FROM users"), "a@example.com");
}

// Regression: switching a new file to WAL failed at once with `busy` while another
// connection was about to write it, whatever the busy timeout (SQLite calls no busy handler
// when the connection holding the write lock may need this one's read lock gone), so
// processes opening a new file together could fail to open it.
TEST(SqliteStore, OpeningANewFileAnotherConnectionWritesWaitsTheBusyTimeout) {
    TempDir dir;
    const auto path = dir / "write.db";
    Raw writer(path);
    writer.exec("BEGIN IMMEDIATE;");  // holds the new file's write (RESERVED) lock
    const auto started = std::chrono::steady_clock::now();
    auto store = SqliteStore::open(path, {.busy_timeout = 300ms});
    const auto waited = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code(), JobsErrc::busy);
    EXPECT_GE(waited, 300ms);  // it waited for the lock (a lower bound: never flaky)
    writer.exec("COMMIT;");
    auto reopened = SqliteStore::open(path, {.busy_timeout = 300ms});
    ASSERT_TRUE(reopened) << reopened.error().what();
}

TEST(SqliteStore, ProcessesOpeningANewFileAtOnceMigrateItOnce) {
    TempDir dir;
    const auto path = dir / "race.db";
    constexpr int kOpeners = 4;
    std::vector<std::string> errors(kOpeners);
    std::vector<std::thread> threads;
    for (int i = 0; i < kOpeners; ++i) {
        threads.emplace_back([&, i] {
            auto store = SqliteStore::open(path, {.busy_timeout = 30s});
            if (!store) {
                errors[i] = store.error().what();
                return;
            }
            if (!(*store)->enqueue(job("x"), t0)) errors[i] = "enqueue failed";
        });
    }
    for (auto& t : threads) t.join();
    for (const auto& e : errors) EXPECT_EQ(e, "");
    Raw raw(path);
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM afterwork_jobs"), std::to_string(kOpeners));
}

TEST(SqliteStore, RefusesASchemaNewerThanThisBuild) {
    TempDir dir;
    const auto path = dir / "future.db";
    open_store(path);
    {
        Raw raw(path);
        raw.exec("UPDATE afterwork_meta SET value = 99 WHERE key = 'schema_version'");
    }
    const auto result = SqliteStore::open(path);
    ASSERT_EQ(errc(result), JobsErrc::version_mismatch);
    EXPECT_NE(std::string(result.error().what()).find("99"), std::string::npos);
}

TEST(SqliteStore, MigratesAVersion2FileByAddingTheIndexOfFinishedJobs) {
    TempDir dir;
    const auto path = dir / "v2.db";
    JobId id = 0;
    {
        auto store = open_store(path);
        id = store->enqueue(job("old"), t0).value().id;
        ASSERT_EQ(store->claim({.worker_id = "w", .now = t0}).value().size(), 1u);
        ASSERT_TRUE(store->complete(id, "w", std::nullopt, t0, std::nullopt));
    }
    {
        // A file as version 2 left it: version 3 only adds the index.
        Raw raw(path);
        raw.exec(
            "DROP INDEX afterwork_jobs_finished; "
            "UPDATE afterwork_meta SET value = 2 WHERE key = 'schema_version'");
    }
    const auto read_only = SqliteStore::open(path, {.read_only = true});
    ASSERT_EQ(errc(read_only), JobsErrc::read_only);
    EXPECT_NE(std::string(read_only.error().what()).find("version 2 to 3"), std::string::npos)
        << read_only.error().what();

    auto store = open_store(path);
    Raw raw(path);
    EXPECT_EQ(raw.scalar("SELECT value FROM afterwork_meta WHERE key = 'schema_version'"), "3");
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                         "name = 'afterwork_jobs_finished'"),
              "1");
    EXPECT_EQ(store->get(id).value().state, JobState::succeeded);
    EXPECT_EQ(store->purge_finished(t0 + 1s, {}, 10).value(), 1u);
    EXPECT_EQ(errc(store->get(id)), JobsErrc::not_found);
}

// ---- files that cannot be used ---------------------------------------------------------------

TEST(SqliteStore, FileThatIsNotADatabaseIsCorruptAndLeftAlone) {
    TempDir dir;
    const auto path = dir / "notes.txt";
    const std::string text(8192, 'x');
    write_file(path, text);
    const auto result = SqliteStore::open(path);
    ASSERT_EQ(errc(result), JobsErrc::corrupt);
    EXPECT_NE(std::string(result.error().what()).find(path.string()), std::string::npos)
        << result.error().what();
    EXPECT_EQ(read_file(path), text);
}

TEST(SqliteStore, DamagedPagesAreCorruptAtOpen) {
    TempDir dir;
    const auto path = dir / "damaged.db";
    fill(path, 2000);
    std::string bytes = read_file(path);
    ASSERT_GT(bytes.size(), 200'000u);
    // Scribble over the middle, leaving the header and schema page intact.
    for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 20'000; ++i) {
        bytes[i] = static_cast<char>(i * 131 % 251);
    }
    write_file(path, bytes);
    EXPECT_EQ(errc(SqliteStore::open(path)), JobsErrc::corrupt);

    // Without the check at open, the damage is reported by the operation that meets it.
    auto store = SqliteStore::open(path, {.quick_check_on_open = false});
    if (store) {
        JobsErrc seen{};
        std::optional<JobId> before;
        for (int page = 0; page < 10 && seen == JobsErrc{}; ++page) {
            auto listed = (*store)->list({}, {.limit = 1000, .before_id = before});
            if (!listed) {
                seen = listed.error().code();
                break;
            }
            if (!listed->next_before_id) break;
            before = listed->next_before_id;
        }
        EXPECT_EQ(seen, JobsErrc::corrupt);
    } else {
        EXPECT_EQ(errc(store), JobsErrc::corrupt);
    }
}

TEST(SqliteStore, TruncatedFileIsCorruptAtOpen) {
    TempDir dir;
    const auto path = dir / "truncated.db";
    fill(path, 2000);
    const auto size = std::filesystem::file_size(path);
    std::filesystem::resize_file(path, size / 3);
    EXPECT_EQ(errc(SqliteStore::open(path)), JobsErrc::corrupt);
}

TEST(SqliteStore, DamagedRowIsCorruptNotACrash) {
    TempDir dir;
    const auto path = dir / "row.db";
    auto store = open_store(path);
    const JobId id = store->enqueue(job("a"), t0).value().id;
    {
        Raw raw(path);
        raw.exec("UPDATE afterwork_jobs SET errors = 'not json' WHERE id = " + std::to_string(id));
    }
    const auto result = store->get(id);
    ASSERT_EQ(errc(result), JobsErrc::corrupt);
    EXPECT_NE(std::string(result.error().what()).find("job " + std::to_string(id)),
              std::string::npos);
}

TEST(SqliteStore, MissingFileOrDirectoryIsUnavailable) {
    TempDir dir;
    EXPECT_EQ(errc(SqliteStore::open(dir / "missing.db", {.create = false})),
              JobsErrc::unavailable);
    EXPECT_FALSE(std::filesystem::exists(dir / "missing.db"));
    EXPECT_EQ(errc(SqliteStore::open(dir / "no" / "such" / "dir.db")), JobsErrc::unavailable);
}

TEST(SqliteStore, ReadOnlyStoreReadsButRefusesWrites) {
    TempDir dir;
    const auto path = dir / "ro.db";
    JobId id = 0;
    {
        auto store = open_store(path);
        id = store->enqueue(job("a"), t0).value().id;
    }
    auto store = open_store(path, {.read_only = true});
    EXPECT_FALSE(store->immutable());
    EXPECT_EQ(store->get(id).value().state, JobState::queued);
    EXPECT_EQ(store->counts().value().size(), 1u);

    const auto enqueued = store->enqueue(job("b"), t0);
    ASSERT_EQ(errc(enqueued), JobsErrc::read_only);
    EXPECT_NE(std::string(enqueued.error().what()).find(path.string()), std::string::npos);
    EXPECT_EQ(errc(store->claim({.worker_id = "w", .now = t0})), JobsErrc::read_only);
    EXPECT_EQ(errc(store->cancel(id, t0, std::nullopt)), JobsErrc::read_only);
    EXPECT_EQ(store->list({}, {}).value().jobs.size(), 1u);
    EXPECT_EQ(store->get(id).value().state, JobState::queued);
}

TEST(SqliteStore, ReadOnlyOpenOfAFileWithoutSchemaIsRefused) {
    TempDir dir;
    const auto path = dir / "empty.db";
    { Raw raw(path); raw.exec("CREATE TABLE t (x)"); }
    EXPECT_EQ(errc(SqliteStore::open(path, {.read_only = true})), JobsErrc::read_only);
}

TEST(SqliteStore, FileWithoutWritePermissionRefusesWrites) {
    TempDir dir;
    const auto path = dir / "perm.db";
    JobId id = 0;
    {
        auto store = open_store(path);
        id = store->enqueue(job("a"), t0).value().id;
    }
    ::chmod(path.c_str(), 0444);
    if (::access(path.c_str(), W_OK) == 0) {
        GTEST_SKIP() << "running with privileges that ignore file permissions (root?)";
    }
    auto store = SqliteStore::open(path);
    if (!store) {
        // Some setups cannot even open a WAL file read-only; that too must be a clear error.
        EXPECT_TRUE(errc(store) == JobsErrc::read_only || errc(store) == JobsErrc::unavailable)
            << store.error().what();
        return;
    }
    EXPECT_EQ(errc((*store)->enqueue(job("b"), t0)), JobsErrc::read_only);
    EXPECT_EQ((*store)->get(id).value().state, JobState::queued);
    EXPECT_EQ((*store)->list({}, {}).value().jobs.size(), 1u);
}

TEST(SqliteStore, LockedDatabaseFailsWritesAsBusyAfterTheTimeout) {
    TempDir dir;
    const auto path = dir / "locked.db";
    auto store = open_store(path, {.busy_timeout = 50ms});
    const JobId id = store->enqueue(job("a"), t0).value().id;

    Raw other(path);
    other.exec("BEGIN EXCLUSIVE");
    const auto enqueued = store->enqueue(job("b"), t0);
    ASSERT_EQ(errc(enqueued), JobsErrc::busy);
    EXPECT_NE(std::string(enqueued.error().what()).find("locked"), std::string::npos)
        << enqueued.error().what();
    EXPECT_EQ(errc(store->claim({.worker_id = "w", .now = t0})), JobsErrc::busy);
    // Readers are not blocked by the writer (WAL).
    EXPECT_EQ(store->get(id).value().state, JobState::queued);
    other.exec("ROLLBACK");

    EXPECT_TRUE(store->enqueue(job("c"), t0));
    EXPECT_EQ(store->list({}, {}).value().jobs.size(), 2u);
}

TEST(SqliteStore, FullDiskFailsTheEnqueueAndKeepsEarlierJobs) {
    TempDir dir;
    const auto path = dir / "full.db";
    auto store = open_store(path, {.max_size_bytes = 256 * 1024});
    const std::string args = "\"" + std::string(2000, 'z') + "\"";

    std::vector<JobId> kept;
    JobsResult<EnqueueOutcome> last = EnqueueOutcome{};
    for (int i = 0; i < 1000; ++i) {
        last = store->enqueue(job("fill", args), t0);
        if (!last) break;
        kept.push_back(last->id);
    }
    ASSERT_EQ(errc(last), JobsErrc::full);
    EXPECT_NE(std::string(last.error().what()).find("full"), std::string::npos);
    ASSERT_GT(kept.size(), 10u);

    // A batch that does not fit leaves nothing behind.
    std::vector<NewJob> batch(20, job("batch", args));
    EXPECT_EQ(errc(store->enqueue(batch, t0)), JobsErrc::full);
    EXPECT_TRUE(store->list({.name = "batch"}, {}).value().jobs.empty());
    EXPECT_EQ(store->counts().value().at(0)[JobState::queued],
              static_cast<std::int64_t>(kept.size()));
    for (const JobId id : kept) EXPECT_EQ(store->get(id).value().args, args);

    // Freeing space makes room again.
    for (std::size_t i = 0; i < 10; ++i) ASSERT_TRUE(store->remove(kept[i], false));
    EXPECT_TRUE(store->enqueue(job("after", args), t0));
}

// ---- read-only folders (a mounted backup) -----------------------------------------------------

// Makes `path`-shm impossible to create or open, whatever the privileges (root writes
// anything): a symbolic link into a folder that does not exist. To a read-only open of a file
// in WAL mode that is what a folder that cannot be written is.
void block_shared_memory(const std::filesystem::path& path) {
    std::filesystem::create_symlink(path.parent_path() / "missing" / "shm", path.string() + "-shm");
}

TEST(SqliteStore, ReadOnlyOpenWithoutSharedMemoryReadsTheFileAsImmutable) {
    TempDir dir;
    const auto folder = dir / "back up ?#%é";  // every character the URI must escape
    std::filesystem::create_directory(folder);
    const auto path = folder / "afterwork.db";
    JobId id = 0;
    {
        auto store = open_store(path);
        id = store->enqueue(job("a"), t0).value().id;
        ASSERT_TRUE(store->enqueue(job("b"), t0));
    }
    // Closed: the log was moved into the file and removed.
    ASSERT_FALSE(std::filesystem::exists(path.string() + "-wal"));
    block_shared_memory(path);

    auto store = open_store(path, {.read_only = true});
    EXPECT_TRUE(store->immutable());
    EXPECT_EQ(store->path(), path);
    EXPECT_EQ(store->list({}, {}).value().jobs.size(), 2u);
    EXPECT_EQ(store->get(id).value().name, "a");
    EXPECT_EQ(store->counts().value().at(0)[JobState::queued], 2);
    const auto refused = store->enqueue(job("c"), t0);
    ASSERT_EQ(errc(refused), JobsErrc::read_only);
    EXPECT_NE(std::string(refused.error().what()).find(path.string()), std::string::npos)
        << refused.error().what();
    store.reset();

    // An empty log holds nothing to miss.
    write_file(path.string() + "-wal", "");
    EXPECT_TRUE(open_store(path, {.read_only = true})->immutable());
    // An open for writing does not fall back: it needs the log.
    const auto writable = SqliteStore::open(path);
    ASSERT_FALSE(writable);
    EXPECT_NE(std::string(writable.error().what()).find(path.string()), std::string::npos)
        << writable.error().what();
}

TEST(SqliteStore, ReadOnlyOpenWithoutSharedMemoryRefusesALogWithChanges) {
    TempDir dir;
    const auto live = dir / "live.db";
    std::filesystem::create_directory(dir / "backup");
    const auto backup = dir / "backup" / "live.db";
    {
        auto store = open_store(live);
        ASSERT_TRUE(store->enqueue(job("in the file"), t0));
    }
    {
        // Copied while a writer has it open, as a backup of a running service: the second job
        // is only in the log.
        auto store = open_store(live);
        ASSERT_TRUE(store->enqueue(job("in the log"), t0));
        std::filesystem::copy_file(live, backup);
        std::filesystem::copy_file(live.string() + "-wal", backup.string() + "-wal");
    }
    block_shared_memory(backup);
    const auto refused = SqliteStore::open(backup, {.read_only = true});
    ASSERT_EQ(errc(refused), JobsErrc::read_only);
    const std::string message = refused.error().what();
    EXPECT_NE(message.find(backup.string() + "-wal holds changes"), std::string::npos) << message;
    EXPECT_NE(message.find("wal_checkpoint"), std::string::npos) << message;

    // Where the shared memory can be made, the log is read and nothing is missed.
    std::filesystem::remove(backup.string() + "-shm");
    auto store = open_store(backup, {.read_only = true});
    EXPECT_FALSE(store->immutable());
    EXPECT_EQ(store->list({}, {}).value().jobs.size(), 2u);
}

TEST(SqliteStore, ReadOnlyOpenInAFolderThatCannotBeWrittenReadsTheFile) {
    TempDir dir;
    const auto path = dir / "ro.db";
    {
        auto store = open_store(path);
        ASSERT_TRUE(store->enqueue(job("a"), t0));
    }
    const auto folder = path.parent_path();
    ::chmod(folder.c_str(), 0555);
    if (::access(folder.c_str(), W_OK) == 0) {
        GTEST_SKIP() << "running with privileges that ignore file permissions (root?); "
                        "ReadOnlyOpenWithoutSharedMemoryReadsTheFileAsImmutable covers it";
    }
    auto store = SqliteStore::open(path, {.read_only = true});
    ::chmod(folder.c_str(), 0700);
    ASSERT_TRUE(store) << store.error().what();
    EXPECT_TRUE((*store)->immutable());
    EXPECT_EQ((*store)->list({}, {}).value().jobs.size(), 1u);
}

TEST(SqliteStore, ImmutableUriEscapesThePath) {
    using detail::sqlite::immutable_uri;
    EXPECT_EQ(immutable_uri("/var/lib/afterwork.db"), "file:///var/lib/afterwork.db?immutable=1");
    EXPECT_EQ(immutable_uri("/mnt/back up/a?b#c%d&e=f.db"),
              "file:///mnt/back%20up/a%3Fb%23c%25d%26e%3Df.db?immutable=1");
    EXPECT_EQ(immutable_uri("/srv/été/x.db"), "file:///srv/%C3%A9t%C3%A9/x.db?immutable=1");
    EXPECT_EQ(immutable_uri("//host/x.db"), "file:////host/x.db?immutable=1");
    // A relative path is made absolute (from the working directory).
    const std::string relative = immutable_uri("data/x.db");
    EXPECT_EQ(relative.rfind("file:///", 0), 0u) << relative;
    EXPECT_TRUE(relative.ends_with("/data/x.db?immutable=1")) << relative;
}

// ---- transactional enqueue -------------------------------------------------------------------

TEST(SqliteStore, EnqueueInTheCallersTransactionCommitsOrRollsBackWithIt) {
    TempDir dir;
    const auto path = dir / "app.db";
    auto store = open_store(path);
    Raw app(path);
    app.exec("CREATE TABLE signups (email TEXT)");

    app.exec("BEGIN IMMEDIATE");
    app.exec("INSERT INTO signups VALUES ('lost@example.com')");
    const std::vector<NewJob> jobs = {job("welcome", R"({"email":"lost@example.com"})")};
    const auto rolled_back = SqliteStore::enqueue_in(app.get(), jobs, t0).value();
    ASSERT_EQ(rolled_back.size(), 1u);
    app.exec("ROLLBACK");
    EXPECT_EQ(errc(store->get(rolled_back[0].id)), JobsErrc::not_found);
    EXPECT_TRUE(store->counts().value().empty());

    app.exec("BEGIN IMMEDIATE");
    app.exec("INSERT INTO signups VALUES ('kept@example.com')");
    const auto committed = SqliteStore::enqueue_in(app.get(), jobs, t0).value();
    app.exec("COMMIT");
    ASSERT_EQ(committed.size(), 1u);
    EXPECT_TRUE(committed[0].created);
    EXPECT_EQ(store->get(committed[0].id).value().name, "welcome");
    EXPECT_EQ(store->counts().value().at(0)[JobState::queued], 1);
    EXPECT_EQ(app.scalar("SELECT count(*) FROM signups"), "1");
}

TEST(SqliteStore, EnqueueInLeavesTheCallersTransactionUsableAfterAnError) {
    TempDir dir;
    const auto path = dir / "app.db";
    auto store = open_store(path);
    const JobId existing = store->enqueue([] {
                                   NewJob j = job("sync");
                                   j.unique_key = "sync:1";
                                   return j;
                               }(),
                                   t0)
                               .value()
                               .id;
    Raw app(path);
    app.exec("CREATE TABLE notes (text TEXT)");

    app.exec("BEGIN IMMEDIATE");
    app.exec("INSERT INTO notes VALUES ('before')");
    std::vector<NewJob> bad = {job("ok"), job("bad", "{oops")};
    EXPECT_EQ(errc(SqliteStore::enqueue_in(app.get(), bad, t0)), JobsErrc::invalid_argument);
    // Unique keys dedupe against jobs the store added.
    NewJob again = job("sync");
    again.unique_key = "sync:1";
    const auto deduped = SqliteStore::enqueue_in(app.get(), std::vector<NewJob>{again}, t0);
    ASSERT_TRUE(deduped);
    EXPECT_EQ(deduped->at(0), (EnqueueOutcome{existing, false}));
    app.exec("INSERT INTO notes VALUES ('after')");
    app.exec("COMMIT");
    EXPECT_EQ(app.scalar("SELECT count(*) FROM notes"), "2");
    EXPECT_EQ(store->list({}, {}).value().jobs.size(), 1u);
}

TEST(SqliteStore, EnqueueInNeedsATransactionAndTheSchema) {
    TempDir dir;
    const auto path = dir / "app.db";
    auto store = open_store(path);
    Raw app(path);
    const std::vector<NewJob> jobs = {job("a")};
    const auto outside = SqliteStore::enqueue_in(app.get(), jobs, t0);
    ASSERT_EQ(errc(outside), JobsErrc::invalid_argument);
    EXPECT_NE(std::string(outside.error().what()).find("transaction"), std::string::npos);
    EXPECT_EQ(errc(SqliteStore::enqueue_in(nullptr, jobs, t0)), JobsErrc::invalid_argument);

    Raw elsewhere(dir / "other.db");
    elsewhere.exec("BEGIN");
    EXPECT_EQ(errc(SqliteStore::enqueue_in(elsewhere.get(), jobs, t0)),
              JobsErrc::version_mismatch);
    elsewhere.exec("ROLLBACK");
    EXPECT_TRUE(store->list({}, {}).value().jobs.empty());
}

// ---- query plans -----------------------------------------------------------------------------

// The statements below mirror the store's, which pin their partial index with INDEXED BY (a
// prepare error if the index cannot serve them); the plans must also need no sort. That is what
// keeps claim, promotion, lease expiry and purge fast at millions of rows.
TEST(SqliteStore, HotQueriesUseTheirIndexes) {
    TempDir dir;
    const auto path = dir / "plans.db";
    open_store(path);
    Raw raw(path);
    // The plan's detail column, one line per step.
    const auto detail = [&](const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        const std::string explain = "EXPLAIN QUERY PLAN " + sql;
        if (sqlite3_prepare_v2(raw.get(), explain.c_str(), -1, &statement, nullptr) !=
            SQLITE_OK) {
            return std::string("prepare failed: ") + sqlite3_errmsg(raw.get());
        }
        std::string all;
        while (sqlite3_step(statement) == SQLITE_ROW) {
            all += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
            all += "\n";
        }
        sqlite3_finalize(statement);
        return all;
    };
    const auto claim = detail(
        "SELECT priority, run_at, id, name FROM afterwork_jobs INDEXED BY afterwork_jobs_ready "
        "WHERE state = 'queued' AND queue = ?1 AND name NOT IN (?3) ORDER BY priority DESC, run_at, id LIMIT ?2");
    EXPECT_NE(claim.find("afterwork_jobs_ready"), std::string::npos) << claim;
    EXPECT_EQ(claim.find("TEMP B-TREE"), std::string::npos) << claim;

    const auto promote = detail(
        "UPDATE afterwork_jobs INDEXED BY afterwork_jobs_delayed SET state = 'queued' "
        "WHERE state IN ('scheduled', 'failed') AND run_at <= ?1");
    EXPECT_NE(promote.find("afterwork_jobs_delayed"), std::string::npos) << promote;

    const auto unique = detail(
        "SELECT id FROM afterwork_jobs INDEXED BY afterwork_jobs_unique WHERE unique_key = ?1 "
        "AND state IN ('scheduled', 'queued', 'running', 'failed')");
    EXPECT_NE(unique.find("afterwork_jobs_unique"), std::string::npos) << unique;

    const auto leases = detail(
        "SELECT id FROM afterwork_jobs INDEXED BY afterwork_jobs_leases WHERE state = 'running' "
        "AND lease_until <= ?1 ORDER BY lease_until, id");
    EXPECT_EQ(leases.find("TEMP B-TREE"), std::string::npos) << leases;
    EXPECT_NE(leases.find("afterwork_jobs_leases"), std::string::npos) << leases;

    const auto purge = detail(
        "SELECT id FROM afterwork_jobs INDEXED BY afterwork_jobs_expiry WHERE expires_at IS NOT "
        "NULL AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2");
    EXPECT_NE(purge.find("afterwork_jobs_expiry"), std::string::npos) << purge;
    EXPECT_EQ(purge.find("TEMP B-TREE"), std::string::npos) << purge;

    // One walk per state of purge_finished, merged by the DELETE around them.
    const auto finished = detail(
        "SELECT id, finished_at FROM afterwork_jobs INDEXED BY afterwork_jobs_finished "
        "WHERE state = ?3 AND finished_at < ?1 ORDER BY finished_at, id LIMIT ?2");
    EXPECT_NE(finished.find("afterwork_jobs_finished"), std::string::npos) << finished;
    EXPECT_EQ(finished.find("TEMP B-TREE"), std::string::npos) << finished;

    const auto due = detail(
        "SELECT run_at FROM afterwork_jobs INDEXED BY afterwork_jobs_delayed WHERE state IN "
        "('scheduled', 'failed') ORDER BY run_at LIMIT 1");
    EXPECT_EQ(due.find("TEMP B-TREE"), std::string::npos) << due;
    EXPECT_NE(due.find("afterwork_jobs_delayed"), std::string::npos) << due;

    const auto by_state = detail("SELECT id FROM afterwork_jobs WHERE 1 AND state = ?1 "
                                 "ORDER BY id DESC LIMIT ?5");
    EXPECT_NE(by_state.find("afterwork_jobs_state"), std::string::npos) << by_state;
    EXPECT_EQ(by_state.find("TEMP B-TREE"), std::string::npos) << by_state;
}

}  // namespace
}  // namespace afterwork
