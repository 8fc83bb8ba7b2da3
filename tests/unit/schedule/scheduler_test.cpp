// SPDX-License-Identifier: MIT
// The scheduler on a real loop with a driven clock: firing, misfires, coalescing, max
// instances, jitter, pause/resume, replace/remove, error isolation, restarts through a store
// and bad input. Waiting is on conditions (support/eventually.hpp), never on fixed sleeps.

#include <afterwork/schedule/scheduler.hpp>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/schedule/time_zone.hpp>

#include "support/eventually.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

TimePoint at(std::string_view iso) {
    return parse_iso8601(iso);
}

Task<void> no_op() {
    co_return;
}

Task<void> sleep_long() {
    co_await sleep_for(1h);
}

RecurringFunction counting(std::shared_ptr<std::atomic<int>> counter) {
    return blocking([counter] { ++*counter; });
}

class SchedulerTest : public ::testing::Test {
protected:
    SchedulerTest() { loop_.start(); }
    ~SchedulerTest() override {
        scheduler_.reset();
        loop_.stop();
        loop_.join();
    }

    Scheduler& scheduler(std::shared_ptr<ScheduleStore> store = nullptr) {
        if (!scheduler_) {
            scheduler_ = std::make_unique<Scheduler>(
                SchedulerOptions{.clock = clock_, .store = std::move(store), .name = "test"});
        }
        return *scheduler_;
    }

    void start() { scheduler().start(loop_.executor()); }

    ScheduleInfo info(std::string_view id) {
        auto schedule = scheduler().find(id);
        EXPECT_TRUE(schedule.has_value()) << id;
        return schedule.value_or(ScheduleInfo{});
    }

    // Waits until schedule `id` has ended `runs` runs (succeeded, failed or cancelled).
    bool finished_runs(std::string_view id, std::uint64_t runs) {
        return eventually([&] {
            auto schedule = scheduler().find(id);
            return schedule && schedule->runs >= runs && schedule->running == 0;
        });
    }

    const TimePoint t0_ = at("2026-03-01T00:00:00Z");
    std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(t0_);
    Loop loop_{"scheduler-test"};
    std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, IntervalScheduleFiresOncePerPeriodOfTheDrivenClock) {
    scheduler().add("tick", IntervalTrigger(10s), [] { return no_op(); });
    start();
    EXPECT_EQ(info("tick").next_run, t0_ + 10s);
    EXPECT_EQ(info("tick").runs, 0u);

    clock_->advance(10s);
    ASSERT_TRUE(finished_runs("tick", 1));
    clock_->advance(10s);
    ASSERT_TRUE(finished_runs("tick", 2));
    auto schedule = info("tick");
    EXPECT_EQ(schedule.runs, 2u);
    EXPECT_EQ(schedule.last_run, t0_ + 20s);
    EXPECT_EQ(schedule.next_run, t0_ + 30s);
    EXPECT_EQ(schedule.last_outcome, ScheduleOutcome::succeeded);
    EXPECT_EQ(schedule.missed, 0u);
}

TEST_F(SchedulerTest, CronScheduleFiresAtItsWallClockTimeInItsZone) {
    clock_->set(at("2026-03-01T03:00:00Z"));  // 08:30 in Kolkata
    scheduler().add("digest", CronTrigger("0 9 * * *", "Asia/Kolkata"), [] { return no_op(); });
    start();
    auto schedule = info("digest");
    EXPECT_EQ(schedule.next_run, at("2026-03-01T03:30:00Z"));
    EXPECT_EQ(schedule.zone.name(), "Asia/Kolkata");
    EXPECT_EQ(schedule.trigger, "cron:0 9 * * *@Asia/Kolkata");
    EXPECT_EQ(schedule.misfire_grace, 60s);

    clock_->set(at("2026-03-01T03:30:00Z"));
    ASSERT_TRUE(finished_runs("digest", 1));
    EXPECT_EQ(info("digest").last_run, at("2026-03-01T03:30:00Z"));
    EXPECT_EQ(info("digest").next_run, at("2026-03-02T03:30:00Z"));
}

TEST_F(SchedulerTest, NonexistentLocalTimeFiresAtTheChange) {
    clock_->set(at("2026-03-08T06:00:00Z"));  // 01:00 EST, the spring-forward day
    scheduler().add("night", CronTrigger("30 2 * * *", "America/New_York"), [] { return no_op(); });
    EXPECT_EQ(info("night").next_run, at("2026-03-08T07:00:00Z"));  // 03:00 EDT
}

// Europe/Berlin 2024-10-27 03:00 CEST -> 02:00 CET: wildcard jobs run in both passes of
// 02:00-02:59, at strictly increasing instants, each once; a fixed-time job runs once.
TEST_F(SchedulerTest, RepeatedHourRunsWildcardJobsInBothPassesAndFixedTimeJobsOnce) {
    clock_->set(at("2024-10-27T01:45:00+02:00"));
    auto fired = std::make_shared<std::mutex>();
    auto times = std::make_shared<std::map<std::string, std::vector<TimePoint>>>();
    auto recording = [&](std::string id) {
        return blocking([clock = clock_, fired, times, id] {
            std::lock_guard lock(*fired);
            (*times)[id].push_back(clock->now());
        });
    };
    scheduler().add("hourly", CronTrigger("0 * * * *", "Europe/Berlin"), recording("hourly"));
    scheduler().add("half", CronTrigger("*/30 * * * *", "Europe/Berlin"), recording("half"));
    scheduler().add("night", CronTrigger("30 2 * * *", "Europe/Berlin"), recording("night"));
    start();

    // Every half hour of real time from 02:00 CEST to 03:00 CET.
    const std::vector<TimePoint> steps = {at("2024-10-27T02:00:00+02:00"),
                                          at("2024-10-27T02:30:00+02:00"),
                                          at("2024-10-27T02:00:00+01:00"),
                                          at("2024-10-27T02:30:00+01:00"),
                                          at("2024-10-27T03:00:00+01:00")};
    std::uint64_t half_runs = 0, hourly_runs = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        EXPECT_EQ(info("half").next_run, steps[i]) << i;
        clock_->set(steps[i]);
        ASSERT_TRUE(finished_runs("half", ++half_runs)) << i;
        if (i % 2 == 0) {
            ASSERT_TRUE(finished_runs("hourly", ++hourly_runs)) << i;
        }
        if (i == 1) {
            ASSERT_TRUE(finished_runs("night", 1));
        }
        EXPECT_EQ(info("half").last_run, steps[i]) << i;
    }
    EXPECT_EQ(info("half").next_run, at("2024-10-27T03:30:00+01:00"));
    EXPECT_EQ(info("hourly").next_run, at("2024-10-27T04:00:00+01:00"));
    EXPECT_EQ(info("night").next_run, at("2024-10-28T02:30:00+01:00"));

    std::lock_guard lock(*fired);
    EXPECT_EQ((*times)["half"], steps);
    EXPECT_EQ((*times)["hourly"],
              (std::vector<TimePoint>{at("2024-10-27T02:00:00+02:00"),
                                      at("2024-10-27T02:00:00+01:00"),
                                      at("2024-10-27T03:00:00+01:00")}));
    EXPECT_EQ((*times)["night"], (std::vector<TimePoint>{at("2024-10-27T02:30:00+02:00")}));
    for (const auto* id : {"half", "hourly", "night"}) {
        EXPECT_EQ(info(id).missed, 0u) << id;
        EXPECT_EQ(info(id).skipped, 0u) << id;
    }
}

TEST_F(SchedulerTest, OccurrencesPastTheGraceAreMissedAndTheRestCoalesce) {
    scheduler().add("minutely", IntervalTrigger(1min), [] { return no_op(); });
    start();
    // Ten occurrences come due at once; +1..+8 min are more than the one-minute grace late,
    // +9 is exactly at the grace and +10 on time: those two coalesce into one run.
    clock_->advance(10min);
    ASSERT_TRUE(eventually([&] { return info("minutely").missed == 8; }));
    ASSERT_TRUE(finished_runs("minutely", 1));
    auto schedule = info("minutely");
    EXPECT_EQ(schedule.runs, 1u);
    EXPECT_EQ(schedule.last_run, t0_ + 10min);
    EXPECT_EQ(schedule.next_run, t0_ + 11min);
}

TEST_F(SchedulerTest, WithoutCoalescingEachOccurrenceWithinTheGraceRuns) {
    scheduler().add("minutely",
                    IntervalTrigger(1min),
                    [] { return no_op(); },
                    {.misfire_grace = 3min, .coalesce = false, .max_instances = 5});
    start();
    clock_->advance(10min);  // +7..+10 are within three minutes
    ASSERT_TRUE(finished_runs("minutely", 4));
    auto schedule = info("minutely");
    EXPECT_EQ(schedule.runs, 4u);
    EXPECT_EQ(schedule.missed, 6u);
    EXPECT_EQ(schedule.last_run, t0_ + 10min);
}

TEST_F(SchedulerTest, ExplicitGraceDecidesALateRun) {
    scheduler().add(
        "strict", IntervalTrigger(1h), [] { return no_op(); }, {.misfire_grace = 500ms});
    start();
    clock_->advance(1h + 1s);
    ASSERT_TRUE(eventually([&] { return info("strict").missed == 1; }));
    EXPECT_EQ(info("strict").runs, 0u);
    EXPECT_EQ(info("strict").last_outcome, ScheduleOutcome::missed);
    clock_->set(t0_ + 2h + 400ms);  // 400 ms late: within the grace
    ASSERT_TRUE(finished_runs("strict", 1));
    EXPECT_EQ(info("strict").missed, 1u);
}

TEST_F(SchedulerTest, MaxInstancesSkipsAnOccurrenceWhileARunIsGoing) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    scheduler().add("slow", IntervalTrigger(10s), blocking([released] { released.wait(); }));
    start();
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return info("slow").running == 1; }));
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return info("slow").skipped == 1; }));
    EXPECT_EQ(info("slow").running, 1);
    EXPECT_EQ(info("slow").last_outcome, ScheduleOutcome::skipped);
    release.set_value();
    ASSERT_TRUE(finished_runs("slow", 1));
    EXPECT_EQ(info("slow").runs, 1u);
    EXPECT_EQ(info("slow").last_outcome, ScheduleOutcome::succeeded);
}

TEST_F(SchedulerTest, TwoInstancesAllowedRunSideBySide) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    scheduler().add("slow",
                    IntervalTrigger(10s),
                    blocking([released] { released.wait(); }),
                    {.max_instances = 2});
    start();
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return info("slow").running == 1; }));
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return info("slow").running == 2; }));
    EXPECT_EQ(info("slow").skipped, 0u);
    release.set_value();
    ASSERT_TRUE(finished_runs("slow", 2));
}

TEST_F(SchedulerTest, JitterDelaysEachOccurrenceWithinItsBound) {
    for (int i = 0; i < 200; ++i) {
        scheduler().add("job-" + std::to_string(i),
                        IntervalTrigger(1min),
                        [] { return no_op(); },
                        {.jitter = 5s});
    }
    std::set<TimePoint> distinct;
    for (const auto& schedule : scheduler().schedules()) {
        ASSERT_TRUE(schedule.next_run);
        EXPECT_GE(*schedule.next_run, t0_ + 1min);
        EXPECT_LE(*schedule.next_run, t0_ + 1min + 5s);
        distinct.insert(*schedule.next_run);
    }
    EXPECT_GT(distinct.size(), 100u);  // 200 draws of 5,001 values
    start();
    clock_->advance(1min + 5s);
    for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(finished_runs("job-" + std::to_string(i), 1));
        EXPECT_EQ(info("job-" + std::to_string(i)).last_run, t0_ + 1min);
    }
}

TEST_F(SchedulerTest, PausedScheduleNeitherRunsNorMissesAndResumesFromNow) {
    scheduler().add("paused", IntervalTrigger(1min), [] { return no_op(); });
    scheduler().add("witness", IntervalTrigger(1min), [] { return no_op(); });
    start();
    scheduler().pause("paused");
    scheduler().pause("paused");  // no-op
    EXPECT_TRUE(info("paused").paused);
    EXPECT_FALSE(info("paused").next_run);
    clock_->advance(5min);
    ASSERT_TRUE(finished_runs("witness", 1));
    EXPECT_EQ(info("paused").runs, 0u);
    EXPECT_EQ(info("paused").missed, 0u);

    scheduler().resume("paused");
    EXPECT_FALSE(info("paused").paused);
    EXPECT_EQ(info("paused").next_run, t0_ + 6min);
    clock_->advance(1min);
    ASSERT_TRUE(finished_runs("paused", 1));
}

TEST_F(SchedulerTest, SchedulesAddedPausedWaitForResume) {
    scheduler().add("later", IntervalTrigger(1min), [] { return no_op(); }, {.paused = true});
    EXPECT_TRUE(info("later").paused);
    EXPECT_FALSE(info("later").next_run);
    scheduler().resume("later");
    EXPECT_EQ(info("later").next_run, t0_ + 1min);
}

TEST_F(SchedulerTest, AFailingScheduleIsIsolatedAndKeepsItsSchedule) {
    scheduler().add("broken", IntervalTrigger(1min), blocking([] {
                        throw std::runtime_error("database unreachable");
                    }));
    scheduler().add("healthy", IntervalTrigger(1min), [] { return no_op(); });
    start();
    for (int i = 1; i <= 3; ++i) {
        clock_->advance(1min);
        ASSERT_TRUE(finished_runs("broken", static_cast<std::uint64_t>(i)));
        ASSERT_TRUE(finished_runs("healthy", static_cast<std::uint64_t>(i)));
    }
    auto schedule = info("broken");
    EXPECT_EQ(schedule.failures, 3u);
    EXPECT_EQ(schedule.last_outcome, ScheduleOutcome::failed);
    EXPECT_EQ(schedule.last_error, "database unreachable");
    EXPECT_EQ(schedule.next_run, t0_ + 4min);
    EXPECT_EQ(info("healthy").failures, 0u);
}

TEST_F(SchedulerTest, ADateScheduleFiresOnceAndIsRemoved) {
    auto counter = std::make_shared<std::atomic<int>>(0);
    scheduler().add("once", DateTrigger(t0_ + 30s), counting(counter));
    scheduler().add("witness", IntervalTrigger(1min), [] { return no_op(); });
    start();
    clock_->advance(30s);
    ASSERT_TRUE(eventually([&] { return counter->load() == 1 && !scheduler().find("once"); }));
    clock_->advance(1min);
    ASSERT_TRUE(finished_runs("witness", 1));
    EXPECT_EQ(counter->load(), 1);
    EXPECT_EQ(scheduler().size(), 1u);
}

TEST_F(SchedulerTest, ReplaceChangesTheTriggerAndKeepsTheCounts) {
    scheduler().add("report", IntervalTrigger(1min), [] { return no_op(); });
    start();
    clock_->advance(1min);
    ASSERT_TRUE(finished_runs("report", 1));
    scheduler().replace("report", IntervalTrigger(10min), [] { return no_op(); });
    auto schedule = info("report");
    EXPECT_EQ(schedule.runs, 1u);
    EXPECT_EQ(schedule.trigger, "interval:600s");
    EXPECT_EQ(schedule.next_run, t0_ + 11min);
    EXPECT_EQ(scheduler().size(), 1u);
    scheduler().replace("new", IntervalTrigger(1h), [] { return no_op(); });  // adds
    EXPECT_EQ(scheduler().size(), 2u);
}

TEST_F(SchedulerTest, RemovingARunningScheduleLetsTheRunFinish) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    auto finished = std::make_shared<std::atomic<bool>>(false);
    scheduler().add("leaving", IntervalTrigger(10s), blocking([released, finished] {
                        released.wait();
                        *finished = true;
                    }));
    start();
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return info("leaving").running == 1; }));
    scheduler().remove("leaving");
    EXPECT_FALSE(scheduler().find("leaving"));
    release.set_value();
    ASSERT_TRUE(eventually([&] { return finished->load(); }));
    clock_->advance(1min);
    EXPECT_EQ(scheduler().size(), 0u);
}

TEST_F(SchedulerTest, AScheduleMayRemoveItself) {
    Scheduler* self = &scheduler();
    scheduler().add("self", IntervalTrigger(10s), blocking([self] { self->remove("self"); }));
    start();
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return scheduler().size() == 0; }));
}

TEST_F(SchedulerTest, ManySchedulesDueAtOneInstantAllFire) {
    auto counter = std::make_shared<std::atomic<int>>(0);
    for (int i = 0; i < 500; ++i) {
        scheduler().add("job-" + std::to_string(i), IntervalTrigger(1min), counting(counter));
    }
    start();
    clock_->advance(1min);
    ASSERT_TRUE(eventually([&] { return counter->load() == 500; }));
}

TEST_F(SchedulerTest, ListingIsOrderedByNextRunWithPausedLast) {
    scheduler().add("c", IntervalTrigger(3min), [] { return no_op(); });
    scheduler().add("a", IntervalTrigger(1min), [] { return no_op(); });
    scheduler().add("p", IntervalTrigger(1s), [] { return no_op(); }, {.paused = true});
    scheduler().add("b", CronTrigger("*/2 * * * *"), [] { return no_op(); }, {.id = "b-id"});
    auto list = scheduler().schedules();
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[0].id, "a");
    EXPECT_EQ(list[1].id, "b-id");
    EXPECT_EQ(list[1].name, "b");
    EXPECT_EQ(list[1].description, "Every 2 minutes (UTC)");
    EXPECT_EQ(list[2].id, "c");
    EXPECT_EQ(list[3].id, "p");
}

TEST_F(SchedulerTest, StopCancelsRunningInstances) {
    scheduler().add("long", IntervalTrigger(10s), [] { return sleep_long(); });
    start();
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return info("long").running == 1; }));
    scheduler().request_stop();
    ASSERT_TRUE(scheduler().wait_stopped(10s));
    EXPECT_EQ(info("long").last_outcome, ScheduleOutcome::cancelled);
    EXPECT_EQ(info("long").failures, 0u);
    scheduler().request_stop();  // idempotent
}

// Regression: awaited from a task, stop(deadline) never returned (g++ 12 and a co_await in a
// condition), so the app's shutdown could not await its schedules.
TEST_F(SchedulerTest, StopAwaitedFromATaskReturnsOnceTheRunsEnded) {
    scheduler().add("long", IntervalTrigger(10s), [] { return sleep_long(); });
    start();
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return info("long").running == 1; }));
    Loop caller("caller");
    caller.start();
    Service& service = scheduler();
    auto stopped = spawn(caller.executor(),
                         service.stop(std::chrono::steady_clock::now() + 10s));
    EXPECT_TRUE(stopped.get());
    EXPECT_EQ(info("long").running, 0);
    EXPECT_EQ(info("long").last_outcome, ScheduleOutcome::cancelled);
}

TEST_F(SchedulerTest, FiresOnTheSystemClock) {
    scheduler_ = std::make_unique<Scheduler>();
    scheduler_->add("fast", IntervalTrigger(20ms), [] { return no_op(); });
    scheduler_->start(loop_.executor());
    ASSERT_TRUE(eventually([&] { return scheduler_->find("fast")->runs >= 3; }));
    scheduler_->request_stop();
    EXPECT_TRUE(scheduler_->wait_stopped(10s));
}

TEST_F(SchedulerTest, BadInputIsRejectedAndChangesNothing) {
    scheduler().add("job", IntervalTrigger(1min), [] { return no_op(); });
    const auto before = info("job");

    auto duplicate = scheduler().try_add("job", IntervalTrigger(5s), [] { return no_op(); });
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code(), ScheduleErrc::duplicate_schedule);
    EXPECT_STREQ(duplicate.error().what(), "a schedule with id \"job\" already exists");
    EXPECT_EQ(info("job").trigger, before.trigger);
    EXPECT_EQ(info("job").next_run, before.next_run);
    EXPECT_THROW(scheduler().add("job", IntervalTrigger(5s), [] { return no_op(); }),
                 ScheduleError);

    auto code = [&](ScheduleResult<void> result) {
        return result ? ScheduleErrc{} : result.error().code();
    };
    EXPECT_EQ(code(scheduler().try_remove("nope")), ScheduleErrc::unknown_schedule);
    EXPECT_EQ(code(scheduler().try_pause("nope")), ScheduleErrc::unknown_schedule);
    EXPECT_EQ(code(scheduler().try_resume("nope")), ScheduleErrc::unknown_schedule);
    EXPECT_THROW(scheduler().remove("nope"), ScheduleError);
    EXPECT_EQ(code(scheduler().try_add("", IntervalTrigger(1s), [] { return no_op(); })),
              ScheduleErrc::invalid_option);
    EXPECT_EQ(code(scheduler().try_add("x", IntervalTrigger(1s), RecurringFunction{})),
              ScheduleErrc::invalid_option);
    EXPECT_EQ(code(scheduler().try_add(
                  "x", IntervalTrigger(1s), [] { return no_op(); }, {.max_instances = 0})),
              ScheduleErrc::invalid_option);
    EXPECT_EQ(code(scheduler().try_add(
                  "x", IntervalTrigger(1s), [] { return no_op(); }, {.misfire_grace = -1ms})),
              ScheduleErrc::invalid_option);
    EXPECT_EQ(code(scheduler().try_add(
                  "x", IntervalTrigger(1s), [] { return no_op(); }, {.jitter = -1ms})),
              ScheduleErrc::invalid_option);
    auto past = scheduler().try_add("x", DateTrigger(t0_ - 1s), [] { return no_op(); });
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().code(), ScheduleErrc::invalid_trigger);
    EXPECT_NE(std::string(past.error().what()).find("has no fire time after"), std::string::npos);
    EXPECT_THROW(IntervalTrigger(0s), ScheduleError);
    EXPECT_THROW(CronTrigger("0 9 * * *", "Mars/Olympus"), ScheduleError);
    EXPECT_EQ(scheduler().size(), 1u);
    EXPECT_THROW(scheduler().start(loop_.executor());
                 scheduler().start(loop_.executor()), std::logic_error);
}

TEST_F(SchedulerTest, ARestartResumesFromTheStoreWithoutLosingOrRepeating) {
    auto store = std::make_shared<MemoryScheduleStore>();
    scheduler(store).add("hourly", IntervalTrigger(1h, t0_), [] { return no_op(); });
    start();
    clock_->advance(1h);
    ASSERT_TRUE(finished_runs("hourly", 1));
    ASSERT_TRUE(eventually([&] {
        auto record = store->load("hourly");
        return record && record->next_run == t0_ + 2h;
    }));
    auto record = *store->load("hourly");
    EXPECT_EQ(record.last_run, t0_ + 1h);
    EXPECT_EQ(record.trigger, "interval:3600s,start=2026-03-01T00:00:00Z");
    scheduler_->request_stop();
    ASSERT_TRUE(scheduler_->wait_stopped(10s));
    scheduler_.reset();

    // Down for 30 s past the next occurrence: within the one-minute grace, it runs once, at
    // once, for +2 h; +1 h is not repeated.
    clock_->set(t0_ + 2h + 30s);
    scheduler(store).add("hourly", IntervalTrigger(1h, t0_), [] { return no_op(); });
    EXPECT_EQ(info("hourly").next_run, t0_ + 2h);
    EXPECT_EQ(info("hourly").last_run, t0_ + 1h);
    start();
    ASSERT_TRUE(finished_runs("hourly", 1));
    EXPECT_EQ(info("hourly").last_run, t0_ + 2h);
    EXPECT_EQ(info("hourly").next_run, t0_ + 3h);
    EXPECT_EQ(info("hourly").missed, 0u);
    scheduler_->request_stop();
    ASSERT_TRUE(scheduler_->wait_stopped(10s));
    scheduler_.reset();

    // Down for five hours: the missed occurrences are counted, none runs (grace one minute).
    clock_->set(t0_ + 8h + 2min);
    scheduler(store).add("hourly", IntervalTrigger(1h, t0_), [] { return no_op(); });
    start();
    ASSERT_TRUE(eventually([&] { return info("hourly").missed == 6; }));
    EXPECT_EQ(info("hourly").runs, 0u);
    EXPECT_EQ(info("hourly").next_run, t0_ + 9h);
}

TEST_F(SchedulerTest, AChangedTriggerStartsAfreshAndPauseIsRemembered) {
    auto store = std::make_shared<MemoryScheduleStore>();
    scheduler(store).add("job", IntervalTrigger(1h, t0_), [] { return no_op(); });
    scheduler().pause("job");
    EXPECT_TRUE(store->load("job")->paused);
    scheduler_.reset();

    scheduler(store).add("job", IntervalTrigger(1h, t0_), [] { return no_op(); });
    EXPECT_TRUE(info("job").paused);
    scheduler_.reset();

    clock_->set(t0_ + 90min);
    scheduler(store).add("job", IntervalTrigger(2h, t0_), [] { return no_op(); });
    EXPECT_FALSE(info("job").paused);
    EXPECT_EQ(info("job").next_run, t0_ + 2h);
    scheduler().remove("job");
    EXPECT_FALSE(store->load("job"));
}

}  // namespace
}  // namespace afterwork

namespace afterwork {
namespace {

// The claim is a compare-and-set on the last fired occurrence: one winner per occurrence, never
// an earlier one after a later, nothing for a schedule without a record; a save does not undo it.
TEST(MemoryScheduleStoreClaims, OneWinnerPerOccurrenceAndSavesNeverMoveItBack) {
    MemoryScheduleStore store;
    const auto t0 = at("2026-03-01T00:00:00Z");
    auto claim = [&store](std::string id, TimePoint occurrence, TimePoint next) -> bool {
        return store.claim_occurrences({OccurrenceClaim{std::move(id), occurrence, next}}).at(0);
    };
    EXPECT_FALSE(claim("tick", t0, t0 + 1s)) << "no record";
    store.save({ScheduleRecord{.id = "tick", .name = "tick", .trigger = "interval:1s",
                               .next_run = t0, .last_run = std::nullopt, .paused = false}});
    EXPECT_TRUE(claim("tick", t0, t0 + 1s));
    EXPECT_FALSE(claim("tick", t0, t0 + 1s)) << "claimed once";
    EXPECT_TRUE(claim("tick", t0 + 2s, t0 + 3s));
    EXPECT_FALSE(claim("tick", t0 + 1s, t0 + 2s)) << "never back";
    // A scheduler saving what it knew (an older last run) does not undo the claim.
    store.save({ScheduleRecord{.id = "tick", .name = "tick", .trigger = "interval:1s",
                               .next_run = t0 + 1s, .last_run = t0, .paused = false}});
    EXPECT_EQ(store.load("tick")->last_run, t0 + 2s);
    EXPECT_FALSE(claim("tick", t0 + 2s, t0 + 3s));
    // In one batch, in order: the same occurrence twice is won once.
    EXPECT_EQ(store.claim_occurrences({OccurrenceClaim{"tick", t0 + 3s, t0 + 4s},
                                       OccurrenceClaim{"tick", t0 + 3s, t0 + 4s},
                                       OccurrenceClaim{"gone", t0 + 3s, t0 + 4s}}),
              (std::vector<bool>{true, false, false}));
}

}  // namespace
}  // namespace afterwork
