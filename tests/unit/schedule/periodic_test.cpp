// SPDX-License-Identifier: MIT
// PeriodicTask on a real loop with a manual clock: fixed rate, failures isolated, no overlap
// with skips counted, initial delay, jitter bounds, stop, plain functions and bad options.
// Time moves only when a test moves it; "nothing runs yet" is checked after the loop has
// settled, never by sleeping.

#include <afterwork/schedule/periodic.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/schedule/time_zone.hpp>

#include "support/eventually.hpp"
#include "support/settle.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::settle;

class PeriodicTest : public ::testing::Test {
protected:
    PeriodicTest() { loop_.start(); }

    PeriodicOptions on_clock(PeriodicOptions options = {}) {
        options.clock = clock_;
        return options;
    }

    const TimePoint t0_ = parse_iso8601("2026-03-01T00:00:00Z");
    std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(t0_);
    Loop loop_{"periodic-test"};
};

TEST_F(PeriodicTest, RunsAtEveryIntervalUntilStopped) {
    std::atomic<int> runs{0};
    PeriodicTask task(loop_.executor(), "tick", 10s, [&runs]() -> Task<void> {
        ++runs;
        co_return;
    }, on_clock());
    ASSERT_TRUE(eventually([&] { return runs.load() == 1; })) << "the first run is the start";
    clock_->advance(9s);
    settle(loop_);
    EXPECT_EQ(runs.load(), 1) << "nothing before the interval";
    for (int k = 2; k <= 4; ++k) {
        clock_->advance(k == 2 ? 1s : 10s);
        ASSERT_TRUE(eventually([&] { return runs.load() == k; })) << k;
    }
    auto status = task.status();
    EXPECT_EQ(status.name, "tick");
    EXPECT_EQ(status.kind, RecurringKind::periodic);
    EXPECT_EQ(status.interval, 10s);
    EXPECT_EQ(status.runs, 4u);
    EXPECT_EQ(status.last_run, t0_ + 30s);
    EXPECT_EQ(status.next_run, t0_ + 40s);
    EXPECT_EQ(status.skipped, 0u);

    task.request_stop();
    EXPECT_TRUE(task.wait_stopped(10s));
    EXPECT_EQ(task.status().state, RecurringState::stopped);
    EXPECT_FALSE(task.status().next_run.has_value());
    clock_->advance(1h);
    settle(loop_);
    EXPECT_EQ(runs.load(), 4) << "no run after the stop";
}

TEST_F(PeriodicTest, AFunctionThatAlwaysThrowsIsIsolatedAndCounted) {
    PeriodicTask task(loop_.executor(), "broken", 5s, []() -> Task<void> {
        co_await yield();
        throw std::runtime_error("upstream down");
    }, on_clock());
    for (std::uint64_t k = 1; k <= 3; ++k) {
        ASSERT_TRUE(eventually([&] { return task.status().failures == k; })) << k;
        clock_->advance(5s);
    }
    auto status = task.status();
    EXPECT_EQ(status.last_error, "upstream down");
    EXPECT_GE(status.runs, 3u);
    EXPECT_NE(status.state, RecurringState::stopped);
}

TEST_F(PeriodicTest, ASlowRunNeverOverlapsTheNextAndSkipsAreCounted) {
    std::atomic<int> concurrent{0};
    std::atomic<int> peak{0};
    std::atomic<int> runs{0};
    Event release;
    PeriodicTask task(loop_.executor(), "slow", 10s, [&]() -> Task<void> {
        ++runs;
        peak = std::max(peak.load(), ++concurrent);
        co_await release.wait();
        --concurrent;
    }, on_clock());
    ASSERT_TRUE(eventually([&] { return task.status().state == RecurringState::running; }));
    clock_->advance(10s);  // the second start comes while the first run goes on
    ASSERT_TRUE(eventually([&] { return task.status().skipped == 1; }));
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return task.status().skipped == 2; }));
    release.set();
    ASSERT_TRUE(eventually([&] { return task.status().state == RecurringState::scheduled; }));
    EXPECT_EQ(task.status().next_run, t0_ + 30s) << "the next slot, not a catch-up run";
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return runs.load() == 2; }));
    EXPECT_EQ(peak.load(), 1);
}

TEST_F(PeriodicTest, TheFirstRunWaitsForTheInitialDelay) {
    std::atomic<int> runs{0};
    PeriodicTask task(loop_.executor(), "delayed", 1h, [&]() -> Task<void> {
        ++runs;
        co_return;
    }, on_clock({.initial_delay = 50s}));
    EXPECT_EQ(task.status().next_run, t0_ + 50s);
    clock_->advance(49s);
    settle(loop_);
    EXPECT_EQ(runs.load(), 0);
    clock_->advance(1s);
    ASSERT_TRUE(eventually([&] { return runs.load() == 1; }));
    EXPECT_TRUE(eventually([&] { return task.status().next_run == t0_ + 50s + 1h; }))
        << "the next run one interval on";
}

TEST_F(PeriodicTest, JitterDelaysEachStartWithinItsBound) {
    std::atomic<int> runs{0};
    PeriodicTask task(loop_.executor(), "jittery", 20s, [&]() -> Task<void> {
        ++runs;
        co_return;
    }, on_clock({.jitter = 10s}));
    for (int k = 0; k < 5; ++k) {
        std::optional<TimePoint> next;
        ASSERT_TRUE(eventually([&] {
            next = task.status().next_run;
            return next.has_value();
        }));
        const auto slot = t0_ + k * 20s;
        EXPECT_GE(*next, slot) << "run " << k << " never starts before its slot";
        EXPECT_LE(*next, slot + 10s) << "run " << k << " starts within the jitter";
        clock_->set(*next);
        ASSERT_TRUE(eventually([&] { return runs.load() == k + 1; })) << k;
        ASSERT_TRUE(eventually([&] {
            auto status = task.status();
            return status.state == RecurringState::scheduled && status.next_run > slot + 10s;
        }));
    }
}

TEST_F(PeriodicTest, StopCancelsARunningFunction) {
    std::atomic<bool> saw_cancel{false};
    auto clock = clock_;
    PeriodicTask task(loop_.executor(), "long", 10s, [&saw_cancel, clock]() -> Task<void> {
        try {
            co_await sleep_for(*clock, 1h);
        } catch (const boost::system::system_error&) {
            saw_cancel = true;
            throw;
        }
    }, on_clock());
    EXPECT_TRUE(eventually([&] { return task.status().state == RecurringState::running; }));
    task.request_stop();
    EXPECT_TRUE(task.wait_stopped(10s));
    EXPECT_TRUE(saw_cancel.load());
    EXPECT_EQ(task.status().state, RecurringState::stopped);
    EXPECT_EQ(task.status().failures, 0u) << "a cancellation at stop is not a failure";
}

TEST_F(PeriodicTest, StopIsAwaitableFromATask) {
    auto clock = clock_;
    PeriodicTask task(loop_.executor(), "long", 10s, [clock]() -> Task<void> {
        co_await sleep_for(*clock, 1h);
    }, on_clock());
    ASSERT_TRUE(eventually([&] { return task.status().state == RecurringState::running; }));
    Service& service = task;
    EXPECT_TRUE(spawn(loop_.executor(), service.stop(std::chrono::steady_clock::now() + 10s)).get());
    EXPECT_EQ(task.status().state, RecurringState::stopped);
}

TEST_F(PeriodicTest, PlainFunctionsRunOnTheBlockingPool) {
    std::atomic<int> runs{0};
    std::atomic<bool> off_loop{true};
    PeriodicTask task(loop_.executor(), "plain", 5s, blocking([&] {
        if (Loop::current()) off_loop = false;
        ++runs;
    }), on_clock());
    ASSERT_TRUE(eventually([&] { return runs.load() == 1; }));
    clock_->advance(5s);
    ASSERT_TRUE(eventually([&] { return runs.load() == 2; }));
    EXPECT_TRUE(off_loop.load());
}

TEST_F(PeriodicTest, BadOptionsAreRejected) {
    auto noop = []() -> Task<void> { co_return; };
    EXPECT_THROW(PeriodicTask(loop_.executor(), "zero", 0ms, noop), std::invalid_argument);
    EXPECT_THROW(PeriodicTask(loop_.executor(), "negative", -5ms, noop), std::invalid_argument);
    EXPECT_THROW(PeriodicTask(loop_.executor(), "jitter", 5ms, noop, {.jitter = -1ms}),
                 std::invalid_argument);
    EXPECT_THROW(PeriodicTask(loop_.executor(), "delay", 5ms, noop, {.initial_delay = -1ms}),
                 std::invalid_argument);
    EXPECT_THROW(PeriodicTask(loop_.executor(), "empty", 5ms, RecurringFunction{}),
                 std::invalid_argument);
}

}  // namespace
}  // namespace afterwork
