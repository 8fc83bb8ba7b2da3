// SPDX-License-Identifier: MIT
#include <afterwork/runtime/use_task.hpp>

#include <latch>
#include <stdexcept>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;

// An operation that cannot start: it registers for cancellation, then throws.
struct ThrowingInitiation {
    template <class Handler>
    void operator()(Handler handler, bool* cancel_reached) const {
        boost::asio::get_associated_cancellation_slot(handler).assign(
            [cancel_reached](boost::asio::cancellation_type) { *cancel_reached = true; });
        throw std::runtime_error("cannot start");
    }
};

auto start_throwing(bool* cancel_reached) {
    return boost::asio::async_initiate<const UseTask&, void(boost::system::error_code)>(
        ThrowingInitiation{}, use_task, cancel_reached);
}

Task<void> wait_for(Event* event) { co_await event->wait(); }

Task<void> fail_to_start_then_wait(bool* cancel_reached, std::latch* waiting,
                                   TaskHandle<void> other) {
    try {
        co_await start_throwing(cancel_reached);
    } catch (const std::runtime_error&) {
    }
    waiting->count_down();
    co_await other.wait_shielded();  // a wait that leaves cancellation alone
}

// Regression: an initiation that threw left the task's suspension point on the awaiter it had
// destroyed, so a later cancellation called into it (a use after free of its signal).
TEST(UseTask, AnOperationThatFailsToStartIsNotWhereALaterCancellationGoes) {
    Loop loop;
    loop.start();
    Event release;
    auto other = spawn(loop.executor(), wait_for(&release));
    bool cancel_reached = false;
    std::latch waiting(1);
    auto task =
        spawn(loop.executor(), fail_to_start_then_wait(&cancel_reached, &waiting, other));
    waiting.wait();
    task.cancel();  // delivered on the loop before `release` wakes anyone
    release.set();
    ASSERT_TRUE(task.wait_for(10s));
    EXPECT_FALSE(cancel_reached);
}

}  // namespace
}  // namespace afterwork
