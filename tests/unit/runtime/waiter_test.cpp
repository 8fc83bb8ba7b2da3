// SPDX-License-Identifier: MIT
#include <afterwork/detail/waiter.hpp>

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;

Task<void> wait_for_event(Event* event, ManualClock* clock) {
    co_await event->wait_for(*clock, 1h);
}

// Regression: a wait that was woken but had not resumed when its context was destroyed left
// its node in the timer heap, inside a destroyed frame; the next advance fired it.
TEST(Waiter, AWokenWaitDestroyedWithItsContextLeavesItsTimerQueue) {
    ManualClock clock(TimePoint{});
    Event event;
    auto context = std::make_unique<boost::asio::io_context>(1);
    auto handle =
        spawn(context->get_executor(), wait_for_event(&event, &clock));
    context->poll();  // the task starts and waits
    ASSERT_EQ(clock.sleepers(), 1u);
    event.set();      // claims the wait and posts its resumption, which never runs
    context.reset();  // the suspended frame is destroyed with the context
    EXPECT_EQ(handle.state(), TaskState::cancelled);
    EXPECT_EQ(handle.cancel_reason(), CancelReason::abandoned);
    ASSERT_EQ(clock.sleepers(), 0u);
    clock.advance(2h);  // fires nothing
}

// A pending wait destroyed with its context leaves both its event and its timer queue.
TEST(Waiter, APendingWaitDestroyedWithItsContextLeavesItsQueues) {
    ManualClock clock(TimePoint{});
    Event event;
    auto context = std::make_unique<boost::asio::io_context>(1);
    auto handle =
        spawn(context->get_executor(), wait_for_event(&event, &clock));
    context->poll();
    ASSERT_EQ(clock.sleepers(), 1u);
    context.reset();
    EXPECT_EQ(handle.state(), TaskState::cancelled);
    EXPECT_EQ(clock.sleepers(), 0u);
    event.set();  // wakes nobody
}

}  // namespace
}  // namespace afterwork
