// SPDX-License-Identifier: MIT
#include <afterwork/detail/waiter.hpp>

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using detail::SteadyTime;

// A timer queue whose time moves only when the test says so.
class TestTimers final : public detail::TimerQueue {
public:
    SteadyTime now() const noexcept override { return now_; }
    void advance_to(SteadyTime instant) {
        now_ = instant;
        fire_due(instant);
    }

private:
    void earliest_changed(SteadyTime) override {}
    SteadyTime now_{};
};

Task<void> wait_for_event(Event* event, detail::TimerQueue* timers, SteadyTime deadline) {
    co_await event->wait_until(*timers, deadline);
}

// Regression: a wait that was woken but had not resumed when its context was destroyed left
// its node in the timer heap, inside a destroyed frame; the next advance fired it.
TEST(Waiter, AWokenWaitDestroyedWithItsContextLeavesItsTimerQueue) {
    TestTimers timers;
    Event event;
    auto context = std::make_unique<boost::asio::io_context>(1);
    auto handle =
        spawn(context->get_executor(), wait_for_event(&event, &timers, SteadyTime{} + 1h));
    context->poll();  // the task starts and waits
    ASSERT_EQ(timers.size(), 1u);
    event.set();      // claims the wait and posts its resumption, which never runs
    context.reset();  // the suspended frame is destroyed with the context
    EXPECT_EQ(handle.state(), TaskState::cancelled);
    EXPECT_EQ(handle.cancel_reason(), CancelReason::abandoned);
    ASSERT_EQ(timers.size(), 0u);
    timers.advance_to(SteadyTime{} + 2h);  // fires nothing
}

// A pending wait destroyed with its context leaves both its event and its timer queue.
TEST(Waiter, APendingWaitDestroyedWithItsContextLeavesItsQueues) {
    TestTimers timers;
    Event event;
    auto context = std::make_unique<boost::asio::io_context>(1);
    auto handle =
        spawn(context->get_executor(), wait_for_event(&event, &timers, SteadyTime{} + 1h));
    context->poll();
    ASSERT_EQ(timers.size(), 1u);
    context.reset();
    EXPECT_EQ(handle.state(), TaskState::cancelled);
    EXPECT_EQ(timers.size(), 0u);
    event.set();  // wakes nobody
}

}  // namespace
}  // namespace afterwork
