// SPDX-License-Identifier: MIT
#include <afterwork/runtime/recurring.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <support/eventually.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using testing::eventually;

class RecurringTest : public ::testing::Test {
protected:
    void SetUp() override { loop_.start(); }
    Loop loop_{"recurring"};
};

TEST_F(RecurringTest, PeriodicRunsAgainAndAgainUntilStopped) {
    std::atomic<int> runs{0};
    PeriodicTask task(loop_.executor(), "tick", 5ms, [&runs]() -> Task<void> {
        ++runs;
        co_return;
    });
    EXPECT_TRUE(eventually([&] { return runs.load() >= 3; }));
    auto status = task.status();
    EXPECT_EQ(status.name, "tick");
    EXPECT_EQ(status.kind, "periodic");
    EXPECT_EQ(status.interval, 5ms);
    EXPECT_GE(status.runs, 3u);
    EXPECT_TRUE(status.last_run.has_value());
    task.request_stop();
    EXPECT_TRUE(task.wait_stopped(10s));
    EXPECT_EQ(task.status().state, "stopped");
    const int after_stop = runs.load();
    std::this_thread::sleep_for(20ms);  // checking that nothing happens: a lower bound only
    EXPECT_EQ(runs.load(), after_stop);
}

TEST_F(RecurringTest, AFunctionThatAlwaysThrowsIsIsolatedAndCounted) {
    PeriodicTask task(loop_.executor(), "broken", 2ms, []() -> Task<void> {
        co_await sleep_for(0ms);
        throw std::runtime_error("upstream down");
    });
    EXPECT_TRUE(eventually([&] { return task.status().failures >= 3; }));
    auto status = task.status();
    EXPECT_EQ(status.last_error, "upstream down");
    EXPECT_GE(status.runs, status.failures);
    EXPECT_NE(status.state, "stopped");
}

TEST_F(RecurringTest, ASlowRunNeverOverlapsTheNextAndSkipsAreCounted) {
    std::atomic<int> concurrent{0};
    std::atomic<int> peak{0};
    PeriodicTask task(loop_.executor(), "slow", 10ms, [&]() -> Task<void> {
        peak = std::max(peak.load(), ++concurrent);
        co_await sleep_for(35ms);
        --concurrent;
    });
    EXPECT_TRUE(eventually([&] { return task.status().runs >= 3; }));
    EXPECT_EQ(peak.load(), 1);
    EXPECT_GE(task.status().skipped, 2u) << "each 35 ms run overruns at least two 10 ms slots";
}

TEST_F(RecurringTest, TheFirstRunWaitsForTheInitialDelay) {
    const auto created = Clock::now();
    std::atomic<long long> first_run_ns{0};
    PeriodicTask task(loop_.executor(), "delayed", 1h, [&]() -> Task<void> {
        first_run_ns = (Clock::now() - created).count();
        co_return;
    }, {.initial_delay = 50ms});
    EXPECT_TRUE(eventually([&] { return first_run_ns.load() != 0; }));
    EXPECT_GE(std::chrono::nanoseconds(first_run_ns.load()), 50ms);
    auto next = task.status().next_run;
    ASSERT_TRUE(next.has_value());
    EXPECT_GT(*next, std::chrono::system_clock::now() + 30min) << "next run one interval on";
}

TEST_F(RecurringTest, JitterDelaysStartsWithinItsBound) {
    std::mutex mutex;
    std::vector<Clock::time_point> starts;
    const auto created = Clock::now();
    PeriodicTask task(loop_.executor(), "jittery", 20ms, [&]() -> Task<void> {
        std::lock_guard lock(mutex);
        starts.push_back(Clock::now());
        co_return;
    }, {.jitter = 10ms});
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return starts.size() >= 4;
    }));
    task.request_stop();
    task.wait_stopped(10s);
    std::lock_guard lock(mutex);
    for (std::size_t k = 0; k < starts.size(); ++k) {
        EXPECT_GE(starts[k] - created, k * 20ms) << "run " << k << " never starts before its slot";
    }
}

TEST_F(RecurringTest, StopCancelsARunningFunction) {
    std::atomic<bool> saw_cancel{false};
    PeriodicTask task(loop_.executor(), "long", 10ms, [&]() -> Task<void> {
        try {
            co_await sleep_for(1h);
        } catch (const boost::system::system_error&) {
            saw_cancel = true;
            throw;
        }
    });
    EXPECT_TRUE(eventually([&] { return task.status().state == "running"; }));
    task.request_stop();
    EXPECT_TRUE(task.wait_stopped(10s));
    EXPECT_TRUE(saw_cancel.load());
    EXPECT_EQ(task.status().state, "stopped");
}

TEST_F(RecurringTest, PlainFunctionsRunOnTheBlockingPool) {
    std::atomic<int> runs{0};
    std::atomic<bool> off_loop{true};
    PeriodicTask task(loop_.executor(), "plain", 5ms, blocking([&] {
        if (Loop::current()) off_loop = false;
        ++runs;
    }));
    EXPECT_TRUE(eventually([&] { return runs.load() >= 2; }));
    EXPECT_TRUE(off_loop.load());
}

TEST_F(RecurringTest, BadOptionsAreRejected) {
    auto noop = []() -> Task<void> { co_return; };
    EXPECT_THROW(PeriodicTask(loop_.executor(), "zero", 0ms, noop), std::invalid_argument);
    EXPECT_THROW(PeriodicTask(loop_.executor(), "negative", -5ms, noop), std::invalid_argument);
    EXPECT_THROW(PeriodicTask(loop_.executor(), "jitter", 5ms, noop, {.jitter = -1ms}),
                 std::invalid_argument);
    EXPECT_THROW(PeriodicTask(loop_.executor(), "empty", 5ms, RecurringFunction{}),
                 std::invalid_argument);
    EXPECT_THROW(Supervisor(loop_.executor(), "s", noop, {.initial_backoff = 0ms}),
                 std::invalid_argument);
    EXPECT_THROW(Supervisor(loop_.executor(), "s", noop, {.multiplier = 0.5}),
                 std::invalid_argument);
    EXPECT_THROW(Supervisor(loop_.executor(), "s", RecurringFunction{}), std::invalid_argument);
}

TEST_F(RecurringTest, SupervisorRestartsWithGrowingBackoffThenGivesUp) {
    std::mutex mutex;
    std::vector<Clock::time_point> starts;
    Supervisor supervisor(loop_.executor(), "crashy", [&]() -> Task<void> {
        {
            std::lock_guard lock(mutex);
            starts.push_back(Clock::now());
        }
        co_await sleep_for(0ms);
        throw std::runtime_error("crash");
    }, {.initial_backoff = 10ms, .max_backoff = 1s, .multiplier = 2.0, .max_restarts = 3,
        .within = 1min});
    EXPECT_TRUE(eventually([&] { return supervisor.status().state == "failed"; }));
    auto status = supervisor.status();
    EXPECT_EQ(status.kind, "supervised");
    EXPECT_EQ(status.restarts, 3u);
    EXPECT_EQ(status.failures, 4u);
    EXPECT_EQ(status.runs, 4u);
    EXPECT_EQ(status.last_error, "crash");
    std::lock_guard lock(mutex);
    ASSERT_EQ(starts.size(), 4u);
    EXPECT_GE(starts[1] - starts[0], 10ms);
    EXPECT_GE(starts[2] - starts[1], 20ms);
    EXPECT_GE(starts[3] - starts[2], 40ms);
}

TEST_F(RecurringTest, SupervisorDoesNotRestartACoroutineThatReturns) {
    std::atomic<int> runs{0};
    Supervisor supervisor(loop_.executor(), "once", [&]() -> Task<void> {
        ++runs;
        co_return;
    });
    EXPECT_TRUE(eventually([&] { return supervisor.status().state == "completed"; }));
    EXPECT_EQ(runs.load(), 1);
    EXPECT_TRUE(supervisor.wait_stopped(10s));
}

TEST_F(RecurringTest, SupervisorStopsCleanlyWhileRunningOrBackingOff) {
    Supervisor running(loop_.executor(), "warm", []() -> Task<void> { co_await sleep_for(1h); });
    Supervisor backing_off(loop_.executor(), "flaky", []() -> Task<void> {
        co_await sleep_for(0ms);
        throw std::runtime_error("x");
    }, {.initial_backoff = 1h, .max_backoff = 2h});
    EXPECT_TRUE(eventually([&] { return running.status().state == "running"; }));
    EXPECT_TRUE(eventually([&] { return backing_off.status().state == "backing_off"; }));
    EXPECT_TRUE(backing_off.status().next_run.has_value());
    running.request_stop();
    backing_off.request_stop();
    EXPECT_TRUE(running.wait_stopped(10s));
    EXPECT_TRUE(backing_off.wait_stopped(10s));
    EXPECT_EQ(running.status().state, "stopped");
    EXPECT_EQ(backing_off.status().state, "stopped");
}

}  // namespace
}  // namespace afterwork
