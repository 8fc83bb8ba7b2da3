// SPDX-License-Identifier: MIT
// `afterwork jobs ...` as a user runs it: the built binary (AFTERWORK_BINARY)
// in a child process on a temporary data folder; stdout, stderr and the exit
// code. The test plays the worker through a SqliteStore opened on the same
// file, and checks what the command left in the store with `ls --json` or the
// store itself.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <afterwork/jobs/sqlite_store.hpp>
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/eventually.hpp"
#include "support/process.hpp"
#include "terminal.hpp"

#ifndef AFTERWORK_BINARY
#error "AFTERWORK_BINARY must name the afterwork executable"
#endif

namespace afterwork {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using Output = testing::CommandResult;

Output run_program(const fs::path& program,
                   std::vector<std::string> args,
                   testing::ProcessOptions options = {}) {
    return testing::run_command(program, std::move(args), std::move(options));
}

Output run(std::vector<std::string> args, testing::ProcessOptions options = {}) {
    return run_program(AFTERWORK_BINARY, std::move(args), std::move(options));
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A data folder with the command pointed at it; `jobs(...)` runs `afterwork
// jobs ...
// --data-dir DIR` (the store options may follow the subcommand), or leaves the
// data folder out when the arguments name a --store (the two options exclude
// each other).
class JobsCommandTest : public ::testing::Test {
protected:
    Output jobs(std::vector<std::string> args, testing::ProcessOptions options = {}) const {
        const bool names_store = std::find(args.begin(), args.end(), "--store") != args.end();
        args.insert(args.begin(), "jobs");
        if (!names_store) args.insert(args.end(), {"--data-dir", dir_.string()});
        return run(std::move(args), std::move(options));
    }

    // Every job as `ls --json` prints it (the store holds fewer than 1000 in
    // these tests).
    boost::json::array listed() const {
        const Output r = jobs({"ls", "--json", "--limit", "1000"});
        EXPECT_EQ(r.code, 0) << r.err;
        boost::system::error_code ec;
        boost::json::value value = boost::json::parse(r.out, ec);
        EXPECT_FALSE(ec) << r.out;
        return value.is_array() ? value.get_array() : boost::json::array();
    }

    JobId enqueue(std::vector<std::string> args) const {
        args.insert(args.begin(), "enqueue");
        const Output r = jobs(std::move(args));
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.err, "");
        return std::stoll(r.out);
    }

    // The test's own connection to the file, as a worker in another process would
    // have.
    SqliteStore& store() {
        if (!store_) store_ = SqliteStore::open(db()).value();
        return *store_;
    }

    JobRecord claim_one(std::string_view worker = "w1") {
        auto claimed =
            store()
                .claim({.worker_id = std::string(worker), .now = std::chrono::system_clock::now()})
                .value();
        EXPECT_EQ(claimed.size(), 1u);
        return claimed.empty() ? JobRecord{} : claimed.front();
    }

    fs::path db() const { return dir_.path() / "afterwork.db"; }

    // Whether `as_reader` can run: as root only through setpriv.
    static bool reader_available() { return ::geteuid() != 0 || fs::exists("/usr/bin/setpriv"); }

    // `afterwork jobs ARGS --data-dir DATA_DIR` as a user whom file permissions
    // hold back: this one, or nobody (through setpriv) when the test runs as root,
    // who writes anything.
    static Output as_reader(std::vector<std::string> args, const fs::path& data_dir) {
        args.insert(args.begin(), "jobs");
        args.insert(args.end(), {"--data-dir", data_dir.string()});
        if (::geteuid() != 0) return run(std::move(args));
        args.insert(args.begin(),
                    {"--reuid=nobody", "--regid=nogroup", "--clear-groups", AFTERWORK_BINARY});
        return run_program("/usr/bin/setpriv", std::move(args));
    }

    testing::TempDir dir_ = testing::free_data_dir("afterwork-jobs-cli");
    std::unique_ptr<SqliteStore> store_;
};

TEST_F(JobsCommandTest, EnqueuePrintsTheIdAndListsShowIt) {
    Output r = jobs({"enqueue",
                     "send_email",
                     R"({"to": "ana@example.com"})",
                     "--queue",
                     "mail",
                     "--priority",
                     "5",
                     "--max-attempts",
                     "4"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "1\n");
    EXPECT_EQ(r.err, "");

    r = jobs({"ls"}, {.env = {{"COLUMNS", "200"}}});
    EXPECT_EQ(r.code, 0) << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    EXPECT_EQ(lines[0].rfind("ID  NAME", 0), 0u) << lines[0];
    for (const char* header :
         {"QUEUE", "STATE", "ATTEMPT", "PROGRESS", "RUN AT / FINISHED", "ERROR"}) {
        EXPECT_NE(lines[0].find(header), std::string::npos) << header;
    }
    for (const char* cell : {" 1  send_email  mail", "queued", "0/4"}) {
        EXPECT_NE(lines[1].find(cell), std::string::npos) << cell << " in " << lines[1];
    }

    const auto all = listed();
    ASSERT_EQ(all.size(), 1u);
    const auto& job = all[0].as_object();
    EXPECT_EQ(job.at("id").as_int64(), 1);
    EXPECT_EQ(job.at("name").as_string(), "send_email");
    EXPECT_EQ(job.at("queue").as_string(), "mail");
    EXPECT_EQ(job.at("priority").as_int64(), 5);
    EXPECT_EQ(job.at("state").as_string(), "queued");
    EXPECT_EQ(job.at("max_attempts").as_int64(), 4);
    EXPECT_EQ(job.at("args").at("to").as_string(), "ana@example.com");
    EXPECT_TRUE(job.at("result").is_null());
    EXPECT_TRUE(job.at("errors").as_array().empty());
    EXPECT_TRUE(job.at("created_at").as_string().ends_with("Z"));

    r = jobs({"show", "1"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("name         send_email\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("attempt      0 of 4\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(R"(args         {"to": "ana@example.com"})"), std::string::npos) << r.out;

    r = jobs({"show", "1", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(boost::json::parse(r.out), all[0]);
}

TEST_F(JobsCommandTest, ShowHasAttemptsErrorsAndResult) {
    enqueue({"flaky", "[1, 2]", "--max-attempts", "3"});
    const auto t0 = std::chrono::system_clock::now();
    claim_one();
    ASSERT_TRUE(store().fail(1, "w1", "connection reset\nby peer", t0, t0, std::nullopt));
    claim_one();
    ASSERT_TRUE(store().set_progress(1, "w1", 0.5, "half"));
    ASSERT_TRUE(store().complete(1, "w1", R"({"sent": 2})", t0 + 1s, t0 + 1h));

    const Output r = jobs({"show", "1"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("state        succeeded\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("attempt      2 of 3\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(R"(result       {"sent": 2})"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("progress     [##########----------] 50% half\n"), std::string::npos)
        << r.out;
    // The error's newline is shown as a space, so one error is one line.
    EXPECT_NE(r.out.find("errors\n  attempt 1 at "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Z: connection reset by peer\n"), std::string::npos) << r.out;

    const auto job = listed()[0].as_object();
    EXPECT_EQ(job.at("result").at("sent").as_int64(), 2);
    ASSERT_EQ(job.at("errors").as_array().size(), 1u);
    EXPECT_EQ(job.at("errors").at(0).at("message").as_string(), "connection reset\nby peer");
    EXPECT_EQ(job.at("errors").at(0).at("attempt").as_int64(), 1);
}

TEST_F(JobsCommandTest, TableNeverWiderThanTheTerminal) {
    enqueue({std::string(60, 'n'), "null", "--queue", std::string(30, 'q')});
    claim_one();
    ASSERT_TRUE(store().fail(1,
                             "w1",
                             std::string(300, 'e'),
                             std::chrono::system_clock::now(),
                             std::nullopt,
                             std::nullopt));
    for (int width : {40, 80, 100, 132}) {
        const Output r = jobs({"ls"}, {.env = {{"COLUMNS", std::to_string(width)}}});
        EXPECT_EQ(r.code, 0) << r.err;
        const auto lines = lines_of(r.out);
        ASSERT_EQ(lines.size(), 2u) << r.out;
        for (const auto& line : lines) {
            EXPECT_LE(apps::display_width(line), static_cast<std::size_t>(width)) << line;
        }
        if (width >= 100) {
            EXPECT_NE(lines[1].find("dead"), std::string::npos) << lines[1];
            EXPECT_NE(lines[1].find("eee…"), std::string::npos) << lines[1];
        }
    }
    // Without COLUMNS and without a terminal: 100.
    const Output r = jobs({"ls"});
    for (const auto& line : lines_of(r.out)) EXPECT_LE(apps::display_width(line), 100u) << line;
}

TEST_F(JobsCommandTest, LsFiltersAndPages) {
    for (int i = 0; i < 3; ++i) enqueue({"resize", "null", "--queue", "images"});  // 1..3
    enqueue({"send_email", "null", "--queue", "mail"});                            // 4
    enqueue({"send_email", "null", "--queue", "mail"});                            // 5
    ASSERT_EQ(jobs({"cancel", "2", "4"}).code, 0);

    const auto ids = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"ls", "--json"});
        const Output r = jobs(std::move(args));
        EXPECT_EQ(r.code, 0) << r.err;
        std::vector<std::int64_t> out;
        const boost::json::value all = boost::json::parse(r.out);
        for (const auto& job : all.as_array()) {
            out.push_back(job.at("id").as_int64());
        }
        return out;
    };
    using Ids = std::vector<std::int64_t>;
    EXPECT_EQ(ids({}), (Ids{5, 4, 3, 2, 1}));
    EXPECT_EQ(ids({"--state", "cancelled"}), (Ids{4, 2}));
    EXPECT_EQ(ids({"--state", "queued,cancelled", "--limit", "3"}), (Ids{5, 4, 3}));
    EXPECT_EQ(ids({"--state", "queued", "--state", "cancelled", "--before", "4"}), (Ids{3, 2, 1}));
    EXPECT_EQ(ids({"--queue", "images"}), (Ids{3, 2, 1}));
    EXPECT_EQ(ids({"--name", "send_email", "--state", "queued"}), (Ids{5}));
    EXPECT_EQ(ids({"--name", "nothing"}), Ids{});

    Output r = jobs({"ls", "--limit", "2"});
    EXPECT_EQ(r.code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 4u) << r.out;
    EXPECT_EQ(lines[3], "more jobs match: add --before 4");
    r = jobs({"ls", "--state", "queued,cancelled", "--limit", "4"});
    lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 6u) << r.out;
    EXPECT_EQ(lines[5], "more jobs match: add --before 2");
    r = jobs({"ls", "--name", "nothing"});
    EXPECT_EQ(r.out, "no jobs match\n");
}

TEST_F(JobsCommandTest, CountsPerQueueAndState) {
    enqueue({"resize", "null", "--queue", "images"});
    enqueue({"resize", "null", "--queue", "images"});
    enqueue({"send_email", "null", "--queue", "mail", "--delay", "3600"});
    ASSERT_EQ(jobs({"cancel", "1"}).code, 0);

    Output r = jobs({"ls", "--counts"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out,
              "QUEUE   SCHEDULED  QUEUED  RUNNING  SUCCEEDED  FAILED  "
              "CANCELLED  DEAD  TOTAL\n"
              "images          0       1        0          0       0      "
              "    1     0      2\n"
              "mail            1       0        0          0       0      "
              "    0     0      1\n"
              "(all)           1       1        0          0       0      "
              "    1     0      3\n");

    r = jobs({"ls", "--counts", "--queue", "mail", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(boost::json::parse(r.out),
              boost::json::parse(
                  R"([{"queue":"mail","counts":{"scheduled":1,"queued":0,"running":0,
                  "succeeded":0,"failed":0,"cancelled":0,"dead":0},"total":1}])"));
}

TEST_F(JobsCommandTest, UniqueKeyReturnsTheActiveJob) {
    EXPECT_EQ(enqueue({"report", "{}", "--unique-key", "report:7"}), 1);
    const Output r = jobs({"enqueue", "report", "{}", "--unique-key", "report:7"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "1\n");
    EXPECT_EQ(r.err,
              "note: unique key \"report:7\" matches active job 1; no new "
              "job was added\n");
    EXPECT_EQ(listed().size(), 1u);

    const Output json = jobs({"enqueue", "report", "{}", "--unique-key", "report:7", "--json"});
    EXPECT_EQ(boost::json::parse(json.out), boost::json::parse(R"({"id":1,"created":false})"));
    // Once the job is finished the key is free again.
    ASSERT_EQ(jobs({"cancel", "1"}).code, 0);
    EXPECT_EQ(enqueue({"report", "{}", "--unique-key", "report:7"}), 2);
}

TEST_F(JobsCommandTest, DelayAndAtSchedule) {
    const auto before = std::chrono::system_clock::now();
    enqueue({"later", "null", "--delay", "3600"});
    enqueue({"new_year", "null", "--at", "2030-01-01T05:30:00+05:30"});
    enqueue({"overdue", "null", "--at", "2001-01-01T00:00:00Z"});
    const auto job1 = store().get(1).value();
    EXPECT_EQ(job1.state, JobState::scheduled);
    EXPECT_GE(job1.run_at, truncate_to_store(before + 3600s));
    const auto all = listed();
    EXPECT_EQ(all[1].at("run_at").as_string(), "2030-01-01T00:00:00Z");
    EXPECT_EQ(all[1].at("state").as_string(), "scheduled");
    EXPECT_EQ(all[0].at("state").as_string(), "queued");
}

struct BadCall {
    std::vector<std::string> args;
    std::string message;  // the whole of stderr after "error: "; empty: only the exit code
};

class JobsCommandBadInput : public JobsCommandTest,
                            public ::testing::WithParamInterface<BadCall> {};

TEST_P(JobsCommandBadInput, ExitsTwoAndChangesNothing) {
    enqueue({"keep", R"({"n": 1})"});
    const auto before = listed();

    const Output r = jobs(GetParam().args);
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    if (!GetParam().message.empty()) {
        EXPECT_EQ(r.err, "error: " + GetParam().message + "\n");
    } else {
        EXPECT_NE(r.err, "");
    }
    EXPECT_EQ(listed(), before);
}

INSTANTIATE_TEST_SUITE_P(
    Jobs,
    JobsCommandBadInput,
    ::testing::Values(
        BadCall{{"enqueue", "x", R"({"to": "a", })"},
                "ARGS_JSON is not valid JSON: syntax error at line 1, column "
                "13 (offset 12)"},
        BadCall{{"enqueue", "x", "{\"a\":\n  [1, 2"},
                "ARGS_JSON is not valid JSON: incomplete JSON at line 2, "
                "column 8 (offset 13)"},
        BadCall{{"enqueue", "x", "{} {}"},
                "ARGS_JSON is not valid JSON: extra data at line 1, column 4 "
                "(offset 3)"},
        BadCall{{"enqueue", "x", "--delay", "-5"},
                "delay must be a number of seconds from 0 to 3153600000, got "
                "\"-5\""},
        BadCall{{"enqueue", "x", "--delay", "soon"},
                "delay must be a number of seconds from 0 to 3153600000, got "
                "\"soon\""},
        BadCall{{"enqueue", "x", "--priority", "101"},
                "priority must be a whole number from -100 to 100, got \"101\""},
        BadCall{{"enqueue", "x", "--priority", "-101"},
                "priority must be a whole number from -100 to 100, got \"-101\""},
        BadCall{{"enqueue", "x", "--max-attempts", "0"},
                "max attempts must be a whole number from 1 to 10000, got \"0\""},
        BadCall{{"enqueue", "x", "--at", "tomorrow"},
                "invalid time \"tomorrow\": expected ISO 8601 like "
                "2026-12-01T09:00:00Z or "
                "2026-12-01T09:00:00+05:30"},
        BadCall{{"enqueue", "", "null"}, "name: must be 1 to 200 bytes, not 0"},
        BadCall{{"enqueue", "x", "--queue", ""}, "queue: must be 1 to 200 bytes, not 0"},
        BadCall{{"enqueue", "x", "--unique-key", ""}, "unique_key: must be 1 to 1000 bytes, not 0"},
        BadCall{{"enqueue", "x", "--delay", "1", "--at", "2030-01-01T00:00:00Z"}, ""},
        BadCall{{"cancel", "1", "abc"}, "\"abc\" is not a job id (a whole number from 1)"},
        BadCall{{"retry", "0"}, "\"0\" is not a job id (a whole number from 1)"},
        BadCall{{"show", "-3"}, ""},
        BadCall{{"ls", "--state", "finished"},
                "unknown job state \"finished\" (expected scheduled, queued, "
                "running, succeeded, "
                "failed, cancelled or dead)"},
        BadCall{{"ls", "--limit", "1001"},
                "limit must be a whole number from 1 to 1000, got \"1001\""},
        BadCall{{"ls", "--counts", "--state", "queued"}, ""},
        BadCall{{"ls", "--busy-timeout", "soon"},
                "busy timeout must be a whole number of milliseconds from 0 to "
                "600000, got "
                "\"soon\""},
        BadCall{{"ls", "--store", "redis://localhost/0"},
                "store URL \"redis://localhost:6379/0\": this build has no Redis store; use "
                "sqlite:///absolute/path.db or sqlite:relative/path.db"},
        BadCall{{"ls", "--store", "postgres://db/jobs"},
                "store URL \"postgres://db/jobs\": unknown kind; expected "
                "sqlite:///absolute/path.db, sqlite:relative/path.db or redis://host:port/db"},
        BadCall{{"cancel", "1", "--store", "sqlite://host/x.db"},
                "store URL \"sqlite://host/x.db\": names a host; a SQLite store "
                "is a local file: "
                "sqlite:///absolute/path.db"},
        BadCall{{"purge", "--bogus"}, ""},
        BadCall{{"purge", "--older-than", "soon"},
                "--older-than must be a whole number and a unit (s, m, h, d or w), like "
                "30s, 15m, 12h, 7d or 2w; got \"soon\""},
        BadCall{{"purge", "--older-than", "7"},
                "--older-than must be a whole number and a unit (s, m, h, d or w), like "
                "30s, 15m, 12h, 7d or 2w; got \"7\""},
        BadCall{{"purge", "--older-than", "1.5h"},
                "--older-than must be a whole number and a unit (s, m, h, d or w), like "
                "30s, 15m, 12h, 7d or 2w; got \"1.5h\""},
        BadCall{{"purge", "--older-than", ""},
                "--older-than must be a whole number and a unit (s, m, h, d or w), like "
                "30s, 15m, 12h, 7d or 2w; got \"\""},
        BadCall{{"purge", "--older-than=-5m"},
                "--older-than must be from 0s to 36500d (100 years), got \"-5m\""},
        BadCall{{"purge", "--older-than", "5215w"},
                "--older-than must be from 0s to 36500d (100 years), got \"5215w\""},
        BadCall{{"purge", "--older-than", "99999999999999999999d"},
                "--older-than must be from 0s to 36500d (100 years), got "
                "\"99999999999999999999d\""},
        BadCall{{"purge", "--older-than", "7d", "--state", "queued"},
                "--state must be succeeded, cancelled or dead (only finished jobs are purged), "
                "got \"queued\""},
        BadCall{{"purge", "--older-than", "7d", "--state", "succeeded,finished"},
                "--state must be succeeded, cancelled or dead (only finished jobs are purged), "
                "got \"finished\""},
        BadCall{{"purge", "--state", "dead"}, ""},
        BadCall{{"purge", "--older-than", "7d", "--bogus"}, ""}));

TEST_F(JobsCommandTest, CancelReportsEachId) {
    enqueue({"a"});  // 1: queued
    enqueue({"b"});  // 2: will run
    enqueue({"c"});  // 3: will succeed
    claim_one();     // takes 1 (oldest first)
    ASSERT_EQ(claim_one("w2").id, 2);
    ASSERT_TRUE(
        store().complete(2, "w2", std::nullopt, std::chrono::system_clock::now(), std::nullopt));
    // Now 1 running, 2 succeeded, 3 queued.
    const Output r = jobs({"cancel", "3", "99", "1", "2"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out,
              "3: cancelled\n"
              "1: cancel requested; it is running and its worker stops it\n");
    EXPECT_EQ(r.err,
              "error: job 99 does not exist\n"
              "error: job 2 is already succeeded; only scheduled, queued, "
              "failed or running "
              "jobs can be cancelled\n");
    EXPECT_EQ(store().get(3).value().state, JobState::cancelled);
    EXPECT_TRUE(store().get(3).value().expires_at.has_value());
    EXPECT_EQ(store().get(1).value().state, JobState::running);
    EXPECT_TRUE(store().get(1).value().cancel_requested);
    EXPECT_EQ(store().get(2).value().state, JobState::succeeded);

    // Cancelling a cancelled job again is fine.
    const Output again = jobs({"cancel", "3"});
    EXPECT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(again.out, "3: cancelled\n");
}

TEST_F(JobsCommandTest, RetryReportsEachIdAndLeavesRunningJobsAlone) {
    enqueue({"a"});  // 1: will be dead
    enqueue({"b"});  // 2: will run
    enqueue({"c"});  // 3: cancelled
    const auto now = std::chrono::system_clock::now();
    claim_one();
    ASSERT_EQ(store().fail(1, "w1", "boom", now, std::nullopt, std::nullopt).value(),
              JobState::dead);
    claim_one();
    ASSERT_EQ(jobs({"cancel", "3"}).code, 0);
    const JobRecord running = store().get(2).value();

    const Output r = jobs({"retry", "1", "2", "3", "42"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "1: queued again\n3: queued again\n");
    EXPECT_EQ(r.err,
              "error: job 2 is running; only dead, failed or cancelled "
              "jobs can be retried\n"
              "error: job 42 does not exist\n");
    EXPECT_EQ(store().get(2).value(), running);
    const JobRecord retried = store().get(1).value();
    EXPECT_EQ(retried.state, JobState::queued);
    EXPECT_EQ(retried.attempt, 0);
    ASSERT_EQ(retried.errors.size(), 1u);  // kept as history
    EXPECT_EQ(store().get(3).value().state, JobState::queued);
}

TEST_F(JobsCommandTest, PurgeDeletesExpiredFinishedJobsInBatches) {
    // 2500 jobs (three batches) finished and expired, 3 finished but not yet
    // expired, and one still queued.
    std::vector<NewJob> batch(2503, NewJob{.name = "noop"});
    const auto now = std::chrono::system_clock::now();
    ASSERT_TRUE(store().enqueue(batch, now));
    auto claimed = store().claim({.worker_id = "w", .limit = 2503, .now = now}).value();
    ASSERT_EQ(claimed.size(), 2503u);
    std::vector<Completion> done;
    for (const auto& job : claimed) {
        done.push_back({.id = job.id, .expires_at = job.id <= 2500 ? now - 1s : now + 1h});
    }
    ASSERT_TRUE(store().complete_many("w", done, now));
    enqueue({"pending"});

    Output r = jobs({"purge"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "purged 2500 jobs finished and past their expiry\n");
    EXPECT_EQ(r.err, "");
    const auto left = listed();
    ASSERT_EQ(left.size(), 4u);
    EXPECT_EQ(left[0].at("name").as_string(), "pending");

    r = jobs({"purge"});
    EXPECT_EQ(r.out, "purged 0 jobs finished and past their expiry\n");
}

TEST_F(JobsCommandTest, PurgeOlderThanDeletesJobsThatFinishedLongAgo) {
    using std::chrono::days;
    const auto now = std::chrono::system_clock::now();
    // 1200 jobs that succeeded ten days ago (two batches), whose results would be
    // kept for a year; then one job of each finished state at other ages, and one
    // running, one failed (retry pending) and one queued job.
    std::vector<NewJob> batch(1200, NewJob{.name = "old"});
    for (const char* name : {"dead", "cancelled", "yesterday", "running"}) {
        batch.push_back(NewJob{.name = name});
    }
    batch.push_back(NewJob{.name = "failed", .max_attempts = 3});
    ASSERT_TRUE(store().enqueue(batch, now - days(30)));
    auto claimed =
        store().claim({.worker_id = "w", .limit = batch.size(), .now = now - days(30)}).value();
    ASSERT_EQ(claimed.size(), batch.size());
    std::vector<Completion> old;
    for (std::size_t i = 0; i < 1200; ++i) {
        old.push_back({.id = claimed[i].id, .expires_at = now + days(365)});
    }
    ASSERT_TRUE(store().complete_many("w", old, now - days(10)));
    ASSERT_EQ(store().fail(1201, "w", "boom", now - days(8), std::nullopt, std::nullopt).value(),
              JobState::dead);
    ASSERT_TRUE(store().mark_cancelled(1202, "w", now - days(9), std::nullopt));
    ASSERT_TRUE(store().complete(1203, "w", std::nullopt, now - days(1), std::nullopt));
    ASSERT_EQ(store().fail(1205, "w", "boom", now - days(20), now + 1h, std::nullopt).value(),
              JobState::failed);
    enqueue({"queued"});

    // The jobs past their expiry: none.
    Output r = jobs({"purge"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "purged 0 jobs finished and past their expiry\n");

    r = jobs({"purge", "--older-than", "7d", "--state", "succeeded"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "purged 1200 succeeded jobs finished more than 7d ago\n");
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(listed().size(), 6u);

    r = jobs({"purge", "--older-than", "1w", "--state", "dead,cancelled", "--state", "dead"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "purged 2 cancelled or dead jobs finished more than 1w ago\n");
    r = jobs({"purge", "--older-than", "2d"});
    EXPECT_EQ(r.out, "purged 0 jobs finished more than 2d ago\n");
    r = jobs({"purge", "--older-than", "12h"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "purged 1 job finished more than 12h ago\n");

    // Running, failed and queued jobs stay, however old.
    std::vector<std::string> left;
    for (const auto& job : listed()) left.emplace_back(job.at("name").as_string());
    EXPECT_EQ(left, (std::vector<std::string>{"queued", "failed", "running"}));
    r = jobs({"purge", "--older-than", "0s"});
    EXPECT_EQ(r.out, "purged 0 jobs finished more than 0s ago\n");
}

TEST_F(JobsCommandTest, StoreUrls) {
    const auto absolute = dir_.path() / "other.db";
    Output r = run({"jobs", "enqueue", "x", "--store", "sqlite://" + absolute.string()});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(absolute));
    r = run({"jobs", "ls", "--json", "--store", "sqlite:rel/jobs.db"},
            {.working_dir = dir_.path()});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err,
              "error: no job store at rel/jobs.db: the file does not "
              "exist (choose the data "
              "folder with --data-dir or the file with --store)\n");
    r = run({"jobs", "enqueue", "x", "--store", "sqlite:rel/jobs.db"},
            {.working_dir = dir_.path()});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir_.path() / "rel" / "jobs.db"));
    // --store and --data-dir name the store twice.
    r = run({"jobs", "ls", "--store", "sqlite:" + absolute.string(), "--data-dir", dir_.string()});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err.rfind("--data-dir excludes --store\n", 0), 0u) << r.err;
}

TEST_F(JobsCommandTest, MissingStoreIsOneLineAndExitOne) {
    const auto missing = dir_.path() / "nowhere";
    for (const std::vector<std::string>& args : {std::vector<std::string>{"ls"},
                                                 {"ls", "--counts"},
                                                 {"show", "1"},
                                                 {"cancel", "1"},
                                                 {"retry", "1"},
                                                 {"purge"},
                                                 {"purge", "--older-than", "7d"}}) {
        std::vector<std::string> full = {"jobs"};
        full.insert(full.end(), args.begin(), args.end());
        full.insert(full.end(), {"--data-dir", missing.string()});
        const Output r = run(full);
        EXPECT_EQ(r.code, 1) << args[0];
        EXPECT_EQ(r.err,
                  "error: no job store at " + (missing / "afterwork.db").string() +
                      ": the file does not exist (choose the data folder with --data-dir "
                      "or the file with --store)\n");
    }
    // Reading never creates anything.
    EXPECT_FALSE(fs::exists(missing));
}

TEST_F(JobsCommandTest, UnknownIdForShowIsExitOne) {
    enqueue({"x"});
    const Output r = jobs({"show", "7"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "error: job 7 does not exist\n");
}

TEST_F(JobsCommandTest, CorruptFileIsOneLineAndExitOne) {
    {
        std::ofstream garbage(db(), std::ios::binary);
        for (int i = 0; i < 512; ++i) garbage << "this is not a database ";
    }
    const std::string bytes = slurp(db());
    for (const std::vector<std::string>& args : {std::vector<std::string>{"ls"},
                                                 {"show", "1"},
                                                 {"enqueue", "x"},
                                                 {"cancel", "1"},
                                                 {"purge"}}) {
        const Output r = jobs(args);
        EXPECT_EQ(r.code, 1) << args[0];
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
        EXPECT_EQ(r.err.rfind("error: " + db().string() + " is not a database or is damaged", 0),
                  0u)
            << r.err;
    }
    EXPECT_EQ(slurp(db()), bytes);
}

// An sqlite3 connection of the test that holds the write lock until it is
// destroyed.
class ExclusiveLock {
public:
    explicit ExclusiveLock(const fs::path& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK ||
            sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << "cannot lock " << path << ": " << sqlite3_errmsg(db_);
        }
    }
    ~ExclusiveLock() {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close_v2(db_);
    }
    ExclusiveLock(const ExclusiveLock&) = delete;
    ExclusiveLock& operator=(const ExclusiveLock&) = delete;

private:
    sqlite3* db_ = nullptr;
};

TEST_F(JobsCommandTest, LockedFileIsOneLineAndExitOne) {
    enqueue({"x"});
    enqueue({"y"});
    const auto before = listed();
    {
        ExclusiveLock lock(db());
        for (const std::vector<std::string>& args : {std::vector<std::string>{"enqueue", "z"},
                                                     {"cancel", "1", "2"},
                                                     {"retry", "1"},
                                                     {"purge"},
                                                     {"purge", "--older-than", "0s"}}) {
            auto with_timeout = args;
            with_timeout.insert(with_timeout.end(), {"--busy-timeout", "100"});
            const Output r = jobs(with_timeout);
            EXPECT_EQ(r.code, 1) << args[0];
            EXPECT_EQ(r.out, "");
            EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
            EXPECT_EQ(r.err.rfind("error: " + db().string() +
                                      " is locked by another connection (waited 100 ms",
                                  0),
                      0u)
                << r.err;
        }
        // Readers do not wait for the writer (WAL).
        const Output r = jobs({"ls", "--busy-timeout", "100"});
        EXPECT_EQ(r.code, 0) << r.err;
    }
    EXPECT_EQ(listed(), before);
}

TEST_F(JobsCommandTest, ReadOnlyFileCanBeListedButNotChanged) {
    if (!reader_available()) GTEST_SKIP() << "root, and no setpriv to drop it";
    enqueue({"x"});
    const auto before = listed();
    // The folder stays writable (SQLite keeps its shared-memory index of the log
    // there).
    fs::permissions(dir_.path(), fs::perms::all);
    fs::permissions(db(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);

    Output r = as_reader({"ls"}, dir_.path());
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find(" 1  x"), std::string::npos) << r.out;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"cancel", "1"}, {"enqueue", "y"}, {"purge"}}) {
        r = as_reader(args, dir_.path());
        EXPECT_EQ(r.code, 1) << args[0];
        EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
        EXPECT_EQ(r.err.rfind("error: " + db().string() + " cannot be written", 0), 0u) << r.err;
    }
    fs::permissions(db(), fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(listed(), before);
}

// Takes write permission away from a folder (r-x for everyone) until destroyed.
class ReadOnlyFolder {
public:
    explicit ReadOnlyFolder(fs::path folder) : folder_(std::move(folder)) {
        fs::permissions(folder_,
                        fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                            fs::perms::group_exec | fs::perms::others_read |
                            fs::perms::others_exec);
    }
    ~ReadOnlyFolder() {
        std::error_code ignored;
        fs::permissions(folder_, fs::perms::owner_all, fs::perm_options::add, ignored);
    }
    ReadOnlyFolder(const ReadOnlyFolder&) = delete;
    ReadOnlyFolder& operator=(const ReadOnlyFolder&) = delete;

private:
    fs::path folder_;
};

std::vector<std::string> names_in(const fs::path& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// A data folder that cannot be written, as a mounted backup: SQLite cannot
// create the shared-memory file it reads the log through there, so the reader
// reads the file as it is.
TEST_F(JobsCommandTest, ReadOnlyFolderIsReadAsItIs) {
    if (!reader_available()) GTEST_SKIP() << "root, and no setpriv to drop it";
    enqueue({"x"});
    enqueue({"y"});
    claim_one();
    ASSERT_TRUE(store().complete(
        1, "w1", R"({"ok":true})", std::chrono::system_clock::now(), std::nullopt));
    store_.reset();  // the last connection moves the log into the file and removes it
    ASSERT_EQ(names_in(dir_.path()), std::vector<std::string>{"afterwork.db"});
    const ReadOnlyFolder read_only(dir_.path());

    Output r = as_reader({"ls", "--json"}, dir_.path());
    ASSERT_EQ(r.code, 0) << r.err;
    const boost::json::value all = boost::json::parse(r.out);
    ASSERT_EQ(all.as_array().size(), 2u) << r.out;
    EXPECT_EQ(all.at(0).at("state").as_string(), "queued");
    EXPECT_EQ(all.at(1).at("state").as_string(), "succeeded");
    r = as_reader({"ls", "--counts"}, dir_.path());
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("default"), std::string::npos) << r.out;

    // A finished job can be followed to its end; one that is not would never
    // change.
    r = as_reader({"show", "1", "--follow"}, dir_.path());
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(lines_of(r.out).back(), R"(job 1 succeeded; result: {"ok":true})");
    r = as_reader({"show", "2", "--follow"}, dir_.path());
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(lines_of(r.out).front(), "id           2");
    EXPECT_EQ(r.err,
              "error: cannot follow job 2: the folder of " + db().string() +
                  " cannot be written, so the file is read as it is now and no later change "
                  "would show\n");

    // Writing needs the folder.
    r = as_reader({"cancel", "2"}, dir_.path());
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("error: " + db().string(), 0), 0u) << r.err;
    EXPECT_EQ(names_in(dir_.path()), std::vector<std::string>{"afterwork.db"});
}

// A copy taken while a service had the file open holds its last commits in the
// log; a read of the file alone would miss them, so the reader is told to let a
// writer move them into the file first.
TEST_F(JobsCommandTest, ReadOnlyFolderWithChangesInTheLogIsRefusedUntilAWriterApplies) {
    if (!reader_available()) GTEST_SKIP() << "root, and no setpriv to drop it";
    enqueue({"in the file"});
    ASSERT_TRUE(store().enqueue(NewJob{.name = "in the log"}, std::chrono::system_clock::now()));
    const fs::path backup = dir_.path() / "backup";
    fs::create_directory(backup);
    fs::copy_file(db(), backup / "afterwork.db");
    fs::copy_file(db().string() + "-wal", backup / "afterwork.db-wal");
    store_.reset();
    // Others may reach the backup folder (the reader may be nobody).
    fs::permissions(dir_.path(),
                    fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                        fs::perms::others_exec,
                    fs::perm_options::add);
    const fs::path copy = backup / "afterwork.db";
    {
        const ReadOnlyFolder read_only(backup);
        const Output r = as_reader({"ls"}, backup);
        EXPECT_EQ(r.code, 1);
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(r.err,
                  fmt::format("error: {0} cannot be read here: its folder cannot be written and "
                              "{0}-wal holds changes that are not in the file yet, which only an "
                              "open with write access applies; open it once where it can be "
                              "written (e.g. sqlite3 {0} 'PRAGMA wal_checkpoint(TRUNCATE)')\n",
                              copy.string()));
    }
    // Any writer does; here a purge that deletes nothing.
    const Output purged = run({"jobs", "purge", "--data-dir", backup.string()});
    ASSERT_EQ(purged.code, 0) << purged.err;
    EXPECT_EQ(names_in(backup), std::vector<std::string>{"afterwork.db"});
    const ReadOnlyFolder read_only(backup);
    const Output r = as_reader({"ls", "--json"}, backup);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(boost::json::parse(r.out).as_array().size(), 2u) << r.out;
}

// `show --follow` with stdout to a file (not a terminal): one line per change,
// then the outcome; the test moves the job on through the store as a worker
// would.
TEST_F(JobsCommandTest, FollowUntilSucceeded) {
    const JobId id = enqueue({"export", R"({"rows": 3})"});
    testing::Process follow(
        AFTERWORK_BINARY,
        {"jobs", "show", std::to_string(id), "--follow", "--data-dir", dir_.string()});
    const auto is = [](std::string expected) {
        return [expected](std::string_view line) { return line == expected; };
    };
    ASSERT_TRUE(follow.wait_for_line(is("queued 0%"), 30s)) << follow.diagnostics();
    claim_one();
    ASSERT_TRUE(follow.wait_for_line(is("running 0%"), 30s)) << follow.diagnostics();
    ASSERT_TRUE(store().set_progress(id, "w1", 0.42, "exporting rows"));
    ASSERT_TRUE(follow.wait_for_line(is("running 42% exporting rows"), 30s))
        << follow.diagnostics();
    ASSERT_TRUE(store().complete(
        id, "w1", R"({"rows":3})", std::chrono::system_clock::now(), std::nullopt));
    const auto status = follow.wait_exit(30s);
    ASSERT_TRUE(status) << follow.diagnostics();
    EXPECT_EQ(status->code, 0) << follow.diagnostics();
    const auto lines = lines_of(follow.stdout_text());
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.front(), "id           1");
    EXPECT_EQ(lines.back(), R"(job 1 succeeded; result: {"rows":3})");
    // No terminal: no carriage returns or escape sequences in the output.
    EXPECT_EQ(follow.stdout_text().find_first_of("\r\x1b"), std::string::npos);
}

TEST_F(JobsCommandTest, FollowExitsOneWhenTheJobEndsDeadOrCancelled) {
    const JobId doomed = enqueue({"doomed"});
    const JobId stopped = enqueue({"stopped"});
    testing::Process follow_dead(
        AFTERWORK_BINARY,
        {"jobs", "show", std::to_string(doomed), "--follow", "--data-dir", dir_.string()});
    testing::Process follow_cancelled(
        AFTERWORK_BINARY,
        {"jobs", "show", std::to_string(stopped), "--follow", "--data-dir", dir_.string()});
    const auto queued = [](std::string_view line) { return line == "queued 0%"; };
    ASSERT_TRUE(follow_dead.wait_for_line(queued, 30s)) << follow_dead.diagnostics();
    ASSERT_TRUE(follow_cancelled.wait_for_line(queued, 30s)) << follow_cancelled.diagnostics();

    claim_one();
    ASSERT_TRUE(store().fail(doomed,
                             "w1",
                             "disk on fire",
                             std::chrono::system_clock::now(),
                             std::nullopt,
                             std::nullopt));
    ASSERT_EQ(jobs({"cancel", std::to_string(stopped)}).code, 0);

    auto status = follow_dead.wait_exit(30s);
    ASSERT_TRUE(status) << follow_dead.diagnostics();
    EXPECT_EQ(status->code, 1);
    EXPECT_EQ(lines_of(follow_dead.stdout_text()).back(),
              "job 1 is dead after 1 attempts: disk on fire");
    status = follow_cancelled.wait_exit(30s);
    ASSERT_TRUE(status) << follow_cancelled.diagnostics();
    EXPECT_EQ(status->code, 1);
    EXPECT_EQ(lines_of(follow_cancelled.stdout_text()).back(), "job 2 cancelled");
}

// On a terminal (a pseudo-terminal from script(1)) the bar is redrawn in place.
TEST_F(JobsCommandTest, FollowDrawsAProgressBarOnATerminal) {
    if (!fs::exists("/usr/bin/script")) GTEST_SKIP() << "no script(1) for a pseudo-terminal";
    const JobId id = enqueue({"export"});
    const std::string command =
        fmt::format("{} jobs show {} --follow --data-dir {}", AFTERWORK_BINARY, id, dir_.string());
    testing::Process follow(
        "/usr/bin/script", {"-qfec", command, "/dev/null"}, {.env = {{"COLUMNS", "60"}}});
    const auto shows = [&](std::string_view text) {
        return testing::eventually(
            [&] { return follow.stdout_text().find(text) != std::string::npos; }, 30s);
    };
    ASSERT_TRUE(shows("\r\x1b[K[------------------------------] 0% queued"))
        << follow.diagnostics();
    claim_one();
    ASSERT_TRUE(store().set_progress(id, "w1", 0.5, "halfway"));
    ASSERT_TRUE(shows("\r\x1b[K[###############---------------] 50% running halfway"))
        << follow.diagnostics();
    ASSERT_TRUE(
        store().complete(id, "w1", std::nullopt, std::chrono::system_clock::now(), std::nullopt));
    const auto status = follow.wait_exit(30s);
    ASSERT_TRUE(status) << follow.diagnostics();
    EXPECT_EQ(status->code, 0) << follow.diagnostics();
    EXPECT_NE(follow.stdout_text().find("job 1 succeeded"), std::string::npos)
        << follow.diagnostics();
}

// The rendering helpers, directly.
TEST(Terminal, ProgressBar) {
    EXPECT_EQ(apps::progress_bar(0.42, 10), "[####------] 42%");
    EXPECT_EQ(apps::progress_bar(0.0, 4), "[----] 0%");
    EXPECT_EQ(apps::progress_bar(1.0, 4), "[####] 100%");
    EXPECT_EQ(apps::progress_bar(7.0, 4), "[####] 100%");
    EXPECT_EQ(apps::progress_bar(-1.0, 4), "[----] 0%");
}

TEST(Terminal, FitCutsWholeCodePoints) {
    EXPECT_EQ(apps::fit("abcdef", 6), "abcdef");
    EXPECT_EQ(apps::fit("abcdef", 4), "abc…");
    EXPECT_EQ(apps::fit("ñandú ñandú", 5), "ñand…");
    EXPECT_EQ(apps::display_width("ñandú"), 5u);
    EXPECT_EQ(apps::printable("a\nb\tc\x1b[2J"), "a b c [2J");
}

TEST(Terminal, TableNarrowsTheWidestCuttableColumn) {
    const std::vector<apps::Column> columns = {
        {"ID", true}, {"NAME", false, 4}, {"NOTE", false, 4}};
    const std::vector<std::vector<std::string>> rows = {{"7", "short", std::string(50, 'x')},
                                                        {"12", "a-much-longer-name", "ok"}};
    EXPECT_EQ(apps::render_table(columns, rows, 100),
              "ID  NAME                NOTE\n"
              " 7  short               " +
                  std::string(50, 'x') +
                  "\n"
                  "12  a-much-longer-name  ok\n");
    EXPECT_EQ(apps::render_table(columns, rows, 30),
              "ID  NAME                NOTE\n"
              " 7  short               xxxxx…\n"
              "12  a-much-longer-name  ok\n");
    EXPECT_EQ(apps::render_table(columns, rows, 20),
              "ID  NAME        NOTE\n"
              " 7  short       xxx…\n"
              "12  a-much-lo…  ok\n");
}

}  // namespace
}  // namespace afterwork
