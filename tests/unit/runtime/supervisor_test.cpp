// SPDX-License-Identifier: MIT
// Supervisor on a real loop with a manual clock: restarts with growing backoff, the reset
// after a healthy run, giving up, a coroutine that returns, stopping while running or backing
// off, and bad options. Backoffs pass when the test moves the clock, never by sleeping.

#include <afterwork/runtime/recurring.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>

#include "support/eventually.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class SupervisorTest : public ::testing::Test {
protected:
    SupervisorTest() { loop_.start(); }

    SupervisorOptions on_clock(SupervisorOptions options = {}) {
        options.clock = clock_;
        return options;
    }

    // Waits until `supervisor` backs off after its `restarts`-th restart and sleeps on the
    // clock (so the next `advance` reaches it); returns how long it will back off.
    std::optional<std::chrono::system_clock::duration> backing_off(const Supervisor& supervisor,
                                                                   std::uint64_t restarts) {
        std::optional<std::chrono::system_clock::duration> backoff;
        const bool reached = eventually([&] {
            auto status = supervisor.status();
            if (status.state != RecurringState::backing_off || status.restarts != restarts ||
                clock_->sleepers() != 1 || !status.next_run) {
                return false;
            }
            backoff = *status.next_run - clock_->now();
            return true;
        });
        return reached ? backoff : std::nullopt;
    }

    const TimePoint t0_ = TimePoint(std::chrono::hours(24 * 365 * 56));
    std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(t0_);
    Loop loop_{"supervisor-test"};
};

Task<void> crash() {
    co_await yield();
    throw std::runtime_error("crash");
}

TEST_F(SupervisorTest, RestartsWithGrowingBackoffThenGivesUp) {
    std::mutex mutex;
    std::vector<TimePoint> starts;
    auto clock = clock_;
    Supervisor supervisor(loop_.executor(), "crashy", [&mutex, &starts, clock]() -> Task<void> {
        {
            std::lock_guard lock(mutex);
            starts.push_back(clock->now());
        }
        co_await crash();
    }, on_clock({.initial_backoff = 10s, .max_backoff = 25s, .multiplier = 2.0,
                 .max_restarts = 3, .within = 1h}));
    const std::chrono::system_clock::duration expected[] = {10s, 20s, 25s};
    for (std::uint64_t restart = 0; restart < 3; ++restart) {
        auto backoff = backing_off(supervisor, restart);
        ASSERT_TRUE(backoff.has_value()) << restart;
        EXPECT_EQ(*backoff, expected[restart]) << "grows by the multiplier up to the cap";
        clock_->advance(*backoff - 1s);
        EXPECT_EQ(supervisor.status().restarts, restart) << "not before the backoff";
        clock_->advance(1s);
    }
    ASSERT_TRUE(eventually([&] { return supervisor.status().state == RecurringState::failed; }));
    auto status = supervisor.status();
    EXPECT_EQ(status.kind, RecurringKind::supervised);
    EXPECT_EQ(status.restarts, 3u);
    EXPECT_EQ(status.failures, 4u);
    EXPECT_EQ(status.runs, 4u);
    EXPECT_EQ(status.last_error, "crash");
    std::lock_guard lock(mutex);
    EXPECT_EQ(starts, (std::vector<TimePoint>{t0_, t0_ + 10s, t0_ + 30s, t0_ + 55s}));
}

TEST_F(SupervisorTest, AHealthyRunResetsTheBackoff) {
    std::atomic<int> run{0};
    auto clock = clock_;
    Supervisor supervisor(loop_.executor(), "flaky", [&run, clock]() -> Task<void> {
        // The third run stays up for a while before it crashes.
        if (++run == 3) co_await sleep_for(*clock, 10s);
        co_await crash();
    }, on_clock({.initial_backoff = 1s, .max_backoff = 1min, .multiplier = 2.0,
                 .max_restarts = 10, .within = 1h, .healthy_after = 10s}));
    auto first = backing_off(supervisor, 0);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(*first, 1s);
    clock_->advance(1s);
    auto second = backing_off(supervisor, 1);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(*second, 2s);
    clock_->advance(2s);
    ASSERT_TRUE(eventually([&] {
        return supervisor.status().state == RecurringState::running && clock_->sleepers() == 1;
    }));
    clock_->advance(10s);  // the run lasted healthy_after
    auto third = backing_off(supervisor, 2);
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(*third, 1s) << "back to the initial backoff";
}

TEST_F(SupervisorTest, DoesNotRestartACoroutineThatReturns) {
    std::atomic<int> runs{0};
    Supervisor supervisor(loop_.executor(), "once", [&]() -> Task<void> {
        ++runs;
        co_return;
    }, on_clock());
    EXPECT_TRUE(eventually([&] { return supervisor.status().state == RecurringState::completed; }));
    EXPECT_EQ(runs.load(), 1);
    EXPECT_TRUE(supervisor.wait_stopped(10s));
}

TEST_F(SupervisorTest, StopsCleanlyWhileRunningOrBackingOff) {
    auto clock = clock_;
    Supervisor running(loop_.executor(), "warm", [clock]() -> Task<void> {
        co_await sleep_for(*clock, 1h);
    }, on_clock());
    Supervisor backing_off(loop_.executor(), "flaky", crash,
                           on_clock({.initial_backoff = 1h, .max_backoff = 2h}));
    EXPECT_TRUE(eventually([&] { return running.status().state == RecurringState::running; }));
    EXPECT_TRUE(eventually(
        [&] { return backing_off.status().state == RecurringState::backing_off; }));
    EXPECT_EQ(backing_off.status().next_run, t0_ + 1h);
    running.request_stop();
    backing_off.request_stop();
    EXPECT_TRUE(running.wait_stopped(10s));
    EXPECT_TRUE(backing_off.wait_stopped(10s));
    EXPECT_EQ(running.status().state, RecurringState::stopped);
    EXPECT_EQ(backing_off.status().state, RecurringState::stopped);
    EXPECT_FALSE(backing_off.status().next_run.has_value());
}

TEST_F(SupervisorTest, StopIsAwaitableFromATask) {
    auto clock = clock_;
    Supervisor supervisor(loop_.executor(), "warm", [clock]() -> Task<void> {
        co_await sleep_for(*clock, 1h);
    }, on_clock());
    ASSERT_TRUE(eventually([&] { return supervisor.status().state == RecurringState::running; }));
    Service& service = supervisor;
    EXPECT_TRUE(spawn(loop_.executor(), service.stop(std::chrono::steady_clock::now() + 10s)).get());
    EXPECT_EQ(supervisor.status().state, RecurringState::stopped);
}

TEST_F(SupervisorTest, BadOptionsAreRejected) {
    auto noop = []() -> Task<void> { co_return; };
    EXPECT_THROW(Supervisor(loop_.executor(), "s", noop, {.initial_backoff = 0ms}),
                 std::invalid_argument);
    EXPECT_THROW(Supervisor(loop_.executor(), "s", noop, {.multiplier = 0.5}),
                 std::invalid_argument);
    EXPECT_THROW(Supervisor(loop_.executor(), "s", noop,
                            {.initial_backoff = 2s, .max_backoff = 1s}),
                 std::invalid_argument);
    EXPECT_THROW(Supervisor(loop_.executor(), "s", noop, {.max_restarts = -1}),
                 std::invalid_argument);
    EXPECT_THROW(Supervisor(loop_.executor(), "s", RecurringFunction{}), std::invalid_argument);
}

}  // namespace
}  // namespace afterwork
