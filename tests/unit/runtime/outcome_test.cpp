// SPDX-License-Identifier: MIT
// run_guarded, the boundary for user code: each way a run can end, the result kept, the time
// limit on a manual clock, and a user's own timed_out error told apart from the limit.

#include <afterwork/runtime/outcome.hpp>

#include <memory>
#include <stdexcept>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>

#include "support/eventually.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class OutcomeTest : public ::testing::Test {
protected:
    OutcomeTest() { loop_.start(); }

    template <class T>
    RunOutcome guarded(Task<T> task, GuardOptions options = {}) {
        return spawn(loop_.executor(), run_guarded(std::move(task), options)).get();
    }

    std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(TimePoint{});
    Loop loop_{"outcome-test"};
};

Task<void> succeed() { co_return; }

Task<void> fail(std::string message) {
    co_await yield();
    throw std::runtime_error(message);
}

Task<void> own_timeout() {
    co_await yield();
    throw boost::system::system_error(boost::asio::error::timed_out, "upstream");
}

Task<int> answer() {
    co_await yield();
    co_return 42;
}

TEST_F(OutcomeTest, ASuccessfulRun) {
    const auto run = guarded(succeed());
    EXPECT_TRUE(run.succeeded());
    EXPECT_EQ(run.message(), "");
    EXPECT_EQ(to_string(run.outcome), "succeeded");
}

TEST_F(OutcomeTest, AFailedRunKeepsItsException) {
    const auto run = guarded(fail("disk full"));
    EXPECT_TRUE(run.failed());
    ASSERT_TRUE(run.error);
    EXPECT_EQ(run.message(), "disk full");
    EXPECT_EQ(run.reason, CancelReason::none);
}

TEST_F(OutcomeTest, TheUsersOwnTimedOutErrorIsAFailureNotTheLimit) {
    const auto run = guarded(own_timeout(), {.time_limit = 1h, .clock = clock_.get()});
    EXPECT_TRUE(run.failed()) << run.message();
}

TEST_F(OutcomeTest, TheResultIsKept) {
    std::optional<int> result;
    const auto run =
        spawn(loop_.executor(), run_guarded(answer(), result)).get();
    EXPECT_TRUE(run.succeeded());
    EXPECT_EQ(result, 42);
}

TEST_F(OutcomeTest, ACancelledCallerEndsItCancelledWithTheReason) {
    Event never;
    auto wait = [](Event* event) -> Task<void> { co_await event->wait(); };
    auto handle = spawn(loop_.executor(), run_guarded(wait(&never)));
    handle.cancel(CancelReason::shutdown);
    const auto run = handle.get();
    EXPECT_TRUE(run.cancelled());
    EXPECT_EQ(run.reason, CancelReason::shutdown);
    EXPECT_EQ(run.message(), "cancelled (shutdown)");
}

TEST_F(OutcomeTest, TheTimeLimitCancelsTheRunWithReasonDeadline) {
    auto cleaned_up = std::make_shared<std::atomic<bool>>(false);
    auto clock = clock_;
    auto slow = [](std::shared_ptr<ManualClock> manual,
                   std::shared_ptr<std::atomic<bool>> cleaned) -> Task<void> {
        try {
            co_await sleep_for(*manual, 1h);
        } catch (...) {
            *cleaned = true;
            throw;
        }
    };
    auto handle = spawn(loop_.executor(),
                        run_guarded(slow(clock, cleaned_up),
                                    {.time_limit = 30s, .clock = clock_.get()}));
    // Both the run's sleep and the limit wait on the clock.
    ASSERT_TRUE(eventually([&] { return clock_->sleepers() == 2; }));
    clock_->advance(29s);
    EXPECT_FALSE(handle.done());
    clock_->advance(1s);
    const auto run = handle.get();
    EXPECT_TRUE(run.cancelled());
    EXPECT_EQ(run.reason, CancelReason::deadline);
    EXPECT_TRUE(cleaned_up->load()) << "the run was cancelled and awaited to its end";
}

TEST_F(OutcomeTest, ARunThatEndsBeforeTheLimitReportsItsOwnOutcome) {
    const auto run = guarded(fail("early"), {.time_limit = 1h, .clock = clock_.get()});
    EXPECT_TRUE(run.failed());
    EXPECT_EQ(run.message(), "early");
}

}  // namespace
}  // namespace afterwork
