// SPDX-License-Identifier: MIT
// The crash test of the durable queue: `afterwork worker` processes work through 1,000 jobs
// and are killed with SIGKILL several times mid-run, then restarted. Every job must end
// succeeded, none may be lost, and a job may have run more than once only if it was running
// in a worker that was killed (at-least-once, nothing more).

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <afterwork/jobs/sqlite_store.hpp>

#include "support/eventually.hpp"
#include "support/process.hpp"

#ifndef AFTERWORK_BINARY
#error "AFTERWORK_BINARY must name the afterwork executable"
#endif

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Process;

constexpr int kJobs = 1000;

class CrashTest : public ::testing::Test {
protected:
    CrashTest() { store_ = std::shared_ptr<SqliteStore>(SqliteStore::open(db()).value()); }

    std::filesystem::path db() const { return data_.path() / "afterwork.db"; }

    std::unique_ptr<Process> start_worker(const std::string& id) {
        auto worker = std::make_unique<Process>(AFTERWORK_BINARY,
                                                std::vector<std::string>{"worker",
                                                                         "--data-dir",
                                                                         data_.string(),
                                                                         "--id",
                                                                         id,
                                                                         "--concurrency",
                                                                         "20",
                                                                         "--job-lease",
                                                                         "3",
                                                                         "--poll-interval",
                                                                         "0.05",
                                                                         "--drain-timeout",
                                                                         "10",
                                                                         "--log-level",
                                                                         "warn"});
        auto banner = worker->wait_for_line(
            [](std::string_view line) { return line.starts_with("afterwork worker "); }, 60s);
        EXPECT_TRUE(banner) << worker->diagnostics();
        return worker;
    }

    std::int64_t count(JobState state) {
        auto counts = store_->counts();
        if (!counts) return -1;
        std::int64_t n = 0;
        for (const auto& queue : *counts) n += queue[state];
        return n;
    }

    // The jobs a killed worker held: its lease is still on them, so they were running (or
    // finishing) at the kill.
    void note_running_of(const std::string& worker_id) {
        std::optional<JobId> before;
        for (;;) {
            auto page = store_->list({.state = JobState::running},
                                     {.limit = kMaxPageSize, .before_id = before});
            ASSERT_TRUE(page) << page.error().what();
            for (const auto& job : page->jobs) {
                if (job.lease_owner == worker_id) running_at_a_kill_.insert(job.id);
            }
            if (!page->next_before_id) break;
            before = page->next_before_id;
        }
    }

    void kill(std::unique_ptr<Process>& worker, const std::string& id) {
        worker->send_signal(SIGKILL);
        ASSERT_TRUE(worker->wait_exit(60s));
        note_running_of(id);
    }

    testing::TempDir data_ = testing::free_data_dir("afterwork-crash");
    std::shared_ptr<SqliteStore> store_;
    std::set<JobId> running_at_a_kill_;
};

TEST_F(CrashTest, KilledWorkersLoseNothingAndRepeatOnlyWhatWasRunning) {
    std::vector<NewJob> jobs(kJobs);
    for (auto& job : jobs) {
        job.name = "simulate_work";
        job.args = R"({"milliseconds":40})";
        job.max_attempts = 20;  // each kill costs the running jobs an attempt
    }
    auto enqueued = store_->enqueue(jobs, std::chrono::system_clock::now());
    ASSERT_TRUE(enqueued) << enqueued.error().what();
    std::set<JobId> ids;
    for (const auto& outcome : *enqueued) ids.insert(outcome.id);
    ASSERT_EQ(ids.size(), static_cast<std::size_t>(kJobs));

    int generation = 0;
    auto name = [&](const char* base) {
        return std::string(base) + "-" + std::to_string(generation);
    };
    std::string id_a = name("a"), id_b = name("b");
    auto a = start_worker(id_a);
    auto b = start_worker(id_b);
    ASSERT_FALSE(HasFailure());

    // Three rounds: kill one worker, then the other, then both at once, each time after some
    // more progress, and restart what was killed.
    for (int round = 1; round <= 3; ++round) {
        const std::int64_t target = round * kJobs / 5;
        ASSERT_TRUE(eventually([&] { return count(JobState::succeeded) >= target; }, 120s))
            << "round " << round << ": " << count(JobState::succeeded) << " succeeded";
        ++generation;
        if (round != 2) {
            kill(a, id_a);
            id_a = name("a");
        }
        if (round != 1) {
            kill(b, id_b);
            id_b = name("b");
        }
        ASSERT_FALSE(HasFailure());
        if (round != 2) a = start_worker(id_a);
        if (round != 1) b = start_worker(id_b);
        ASSERT_FALSE(HasFailure());
    }
    EXPECT_FALSE(running_at_a_kill_.empty()) << "no kill landed mid-run";

    ASSERT_TRUE(eventually([&] { return count(JobState::succeeded) == kJobs; }, 180s))
        << count(JobState::succeeded) << " of " << kJobs << " succeeded; queued "
        << count(JobState::queued) << ", running " << count(JobState::running) << ", dead "
        << count(JobState::dead);

    // Every job is there and succeeded.
    for (JobId id : ids) {
        auto job = store_->get(id);
        ASSERT_TRUE(job) << id;
        EXPECT_EQ(job->state, JobState::succeeded) << id;
    }
    // Runs per job from the work log: at least one each, more only for the killed ones.
    std::map<JobId, int> runs;
    std::ifstream log(data_.path() / "work.log");
    for (std::string line; std::getline(log, line);) {
        std::istringstream words(line);
        std::string job_word, attempt_word;
        JobId id = 0;
        int attempt = 0;
        words >> job_word >> id >> attempt_word >> attempt;
        ASSERT_EQ(job_word, "job") << line;
        ++runs[id];
    }
    std::size_t repeated = 0;
    for (JobId id : ids) {
        EXPECT_GE(runs[id], 1) << "job " << id << " never ran to its end";
        if (runs[id] > 1) {
            ++repeated;
            EXPECT_TRUE(running_at_a_kill_.contains(id))
                << "job " << id << " ran " << runs[id] << " times without being at a kill";
        }
    }
    EXPECT_EQ(runs.size(), static_cast<std::size_t>(kJobs)) << "the log names unknown jobs";
    std::cout << "running at a kill: " << running_at_a_kill_.size()
              << ", ran twice or more: " << repeated << "\n";

    // A graceful stop exits 0.
    for (auto* worker : {a.get(), b.get()}) {
        worker->send_signal(SIGTERM);
        auto status = worker->wait_exit(60s);
        ASSERT_TRUE(status);
        EXPECT_TRUE(status->success()) << worker->diagnostics();
    }
}

}  // namespace
}  // namespace afterwork
