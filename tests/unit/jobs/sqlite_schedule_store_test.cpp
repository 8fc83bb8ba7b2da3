// SPDX-License-Identifier: MIT
// The scheduler's schedules in the SQLite file (SqliteStore::schedule_store): round trips,
// persistence across a reopen, a scheduler restart that resumes without losing or repeating
// an occurrence, and a store failure that changes nothing.

#include <afterwork/jobs/sqlite_store.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/schedule/scheduler.hpp>
#include <afterwork/schedule/time_zone.hpp>

#include "support/eventually.hpp"
#include "support/process.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;

Task<void> no_op() {
    co_return;
}

std::shared_ptr<SqliteStore> open_store(const std::filesystem::path& path) {
    return std::shared_ptr<SqliteStore>(SqliteStore::open(path).value());
}

TEST(SqliteScheduleStore, RecordsRoundTripAndSurviveAReopen) {
    auto dir = testing::free_data_dir();
    const auto path = dir.path() / "afterwork.db";
    const ScheduleRecord full{.id = "digest",
                              .name = "daily digest",
                              .trigger = "cron:0 9 * * *@Asia/Kolkata",
                              .next_run = parse_iso8601("2026-03-02T03:30:00Z"),
                              .last_run = parse_iso8601("2026-03-01T03:30:00Z"),
                              .paused = false};
    const ScheduleRecord paused{.id = "cleanup",
                                .name = "cleanup",
                                .trigger = "interval:3600s",
                                .next_run = std::nullopt,
                                .last_run = std::nullopt,
                                .paused = true};
    {
        auto schedules = SqliteStore::schedule_store(open_store(path));
        EXPECT_FALSE(schedules->load("digest"));
        schedules->save({full, paused});
        EXPECT_EQ(schedules->load("digest"), full);
        auto changed = full;
        changed.next_run = parse_iso8601("2026-03-03T03:30:00Z");
        schedules->save({changed});
        EXPECT_EQ(schedules->load("digest"), changed);
    }
    auto schedules = SqliteStore::schedule_store(open_store(path));
    auto all = schedules->load_all();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0], paused);  // ordered by id
    EXPECT_EQ(all[1].next_run, parse_iso8601("2026-03-03T03:30:00Z"));
    schedules->remove("cleanup");
    schedules->remove("no-such-id");  // nothing to do
    EXPECT_EQ(schedules->load_all().size(), 1u);
}

TEST(SqliteScheduleStore, ASchedulerRestartResumesFromTheFile) {
    auto dir = testing::free_data_dir();
    const auto path = dir.path() / "afterwork.db";
    const auto t0 = parse_iso8601("2026-03-01T00:00:00Z");
    auto clock = std::make_shared<ManualClock>(t0);
    Loop loop("scheduler");
    loop.start();
    auto runs_of = [](Scheduler& scheduler) { return scheduler.find("hourly")->runs; };
    {
        Scheduler scheduler({.clock = clock,
                             .store = SqliteStore::schedule_store(open_store(path)),
                             .name = "first"});
        scheduler.add("hourly", IntervalTrigger(1h, t0), [] { return no_op(); });
        scheduler.start(loop.executor());
        clock->advance(1h);
        ASSERT_TRUE(testing::eventually([&] { return runs_of(scheduler) == 1; }));
        scheduler.request_stop();
        ASSERT_TRUE(scheduler.wait_stopped(10s));
    }
    // The process was down over the +2 h occurrence, 30 s past it: within the grace it runs
    // once at the restart; +1 h is not repeated.
    clock->set(t0 + 2h + 30s);
    Scheduler scheduler(
        {.clock = clock, .store = SqliteStore::schedule_store(open_store(path)), .name = "second"});
    scheduler.add("hourly", IntervalTrigger(1h, t0), [] { return no_op(); });
    EXPECT_EQ(scheduler.find("hourly")->next_run, t0 + 2h);
    EXPECT_EQ(scheduler.find("hourly")->last_run, t0 + 1h);
    scheduler.start(loop.executor());
    ASSERT_TRUE(testing::eventually([&] {
        auto schedule = scheduler.find("hourly");
        return schedule->runs == 1 && schedule->running == 0;
    }));
    EXPECT_EQ(scheduler.find("hourly")->last_run, t0 + 2h);
    EXPECT_EQ(scheduler.find("hourly")->missed, 0u);
    scheduler.request_stop();
    ASSERT_TRUE(scheduler.wait_stopped(10s));
    loop.stop();
    loop.join();
}

// Three schedulers on one file, each with a connection of its own, as three processes are:
// every occurrence of a second-level schedule runs exactly once among them, whoever is first.
TEST(SqliteScheduleStore, EachOccurrenceFiresOnceAcrossSchedulersSharingTheFile) {
    auto dir = testing::free_data_dir();
    const auto path = dir.path() / "afterwork.db";
    const auto t0 = parse_iso8601("2026-03-01T00:00:00Z");
    auto clock = std::make_shared<ManualClock>(t0);
    std::mutex mutex;
    std::map<TimePoint, int> runs;  // occurrence -> how many times it ran
    std::vector<std::unique_ptr<Loop>> loops;
    std::vector<std::unique_ptr<Scheduler>> schedulers;
    for (int i = 0; i < 3; ++i) {
        loops.push_back(std::make_unique<Loop>("process-" + std::to_string(i)));
        loops.back()->start();
        schedulers.push_back(std::make_unique<Scheduler>(
            SchedulerOptions{.clock = clock,
                             .store = SqliteStore::schedule_store(open_store(path)),
                             .name = "process-" + std::to_string(i)}));
        schedulers.back()->add("tick", CronTrigger("* * * * * *"), [&mutex, &runs, clock] {
            std::lock_guard lock(mutex);
            ++runs[clock->now()];
            return no_op();
        });
        schedulers.back()->start(loops.back()->executor());
    }
    auto total = [&] {
        std::lock_guard lock(mutex);
        int sum = 0;
        for (const auto& [occurrence, count] : runs) sum += count;
        return sum;
    };
    for (int second = 1; second <= 20; ++second) {
        clock->advance(1s);
        ASSERT_TRUE(testing::eventually([&] { return total() >= second; })) << second;
    }
    for (auto& scheduler : schedulers) {
        // Every scheduler has looked at the last occurrence (lost or won its claim).
        ASSERT_TRUE(testing::eventually([&] {
            auto info = scheduler->find("tick");
            return info->last_run == t0 + 20s && info->running == 0;
        }));
    }
    std::uint64_t runs_seen = 0;
    for (auto& scheduler : schedulers) {
        runs_seen += scheduler->find("tick")->runs;
        scheduler->request_stop();
        ASSERT_TRUE(scheduler->wait_stopped(10s));
    }
    std::lock_guard lock(mutex);
    EXPECT_EQ(runs.size(), 20u);
    for (const auto& [occurrence, count] : runs) {
        EXPECT_EQ(count, 1) << format_iso8601(occurrence) << " ran " << count << " times";
    }
    EXPECT_EQ(runs_seen, 20u) << "the schedulers count only the runs they won";
    for (auto& loop : loops) {
        loop->stop();
        loop->join();
    }
}

TEST(SqliteScheduleStore, AFailingFileRejectsTheAddAndChangesNothing) {
    auto dir = testing::free_data_dir();
    const auto path = dir.path() / "afterwork.db";
    open_store(path);  // creates the schema
    auto read_only =
        std::shared_ptr<SqliteStore>(SqliteStore::open(path, {.read_only = true}).value());
    Scheduler scheduler({.store = SqliteStore::schedule_store(read_only), .name = "ro"});
    EXPECT_THROW(scheduler.add("job", IntervalTrigger(1min), [] { return no_op(); }), JobsError);
    EXPECT_EQ(scheduler.size(), 0u);
    EXPECT_FALSE(scheduler.find("job"));
}

}  // namespace
}  // namespace afterwork
