// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_group.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <support/eventually.hpp>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {
namespace {

using testing::eventually;

using namespace std::chrono_literals;

Task<void> add_after(std::atomic<int>& counter, std::chrono::milliseconds delay) {
    co_await sleep_for(delay);
    counter.fetch_add(1);
}

Task<void> sleep_and_record(std::atomic<int>& cancelled) {
    try {
        co_await sleep_for(1h);
    } catch (const boost::system::system_error& e) {
        if (e.code() == boost::asio::error::operation_aborted) cancelled.fetch_add(1);
        throw;
    }
}

Task<void> fail_with(std::string message) {
    co_await sleep_for(0ms);
    throw std::runtime_error(message);
}

TEST(TaskGroup, WaitsForEveryTaskOnSeveralLoops) {
    Loop first("a");
    Loop second("b");
    first.start();
    second.start();
    TaskGroup group("test");
    std::atomic<int> counter{0};
    for (int i = 0; i < 50; ++i) {
        group.spawn((i % 2 ? first : second).executor(), add_after(counter, 1ms));
    }
    ASSERT_TRUE(group.wait_for(10s));
    EXPECT_EQ(counter.load(), 50);
    EXPECT_EQ(group.size(), 0u);
}

TEST(TaskGroup, CancelAllReachesEverySuspendedTask) {
    Loop loop;
    loop.start();
    TaskGroup group("cancel");
    std::atomic<int> cancelled{0};
    for (int i = 0; i < 10; ++i) group.spawn(loop.executor(), sleep_and_record(cancelled));
    EXPECT_FALSE(group.wait_for(50ms));
    group.cancel_all();
    ASSERT_TRUE(group.wait_for(10s));
    EXPECT_EQ(cancelled.load(), 10);
}

TEST(TaskGroup, ReportsFailuresButNotCancellations) {
    Loop loop;
    loop.start();
    std::mutex mutex;
    std::vector<std::string> errors;
    TaskGroup group("errors", [&](std::string_view name, std::exception_ptr error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex);
            errors.push_back(std::string(name) + ": " + e.what());
        }
    });
    std::atomic<int> cancelled{0};
    group.spawn(loop.executor(), fail_with("boom"), "failing");
    group.spawn(loop.executor(), sleep_and_record(cancelled), "sleeping");
    // Cancel once only the sleeper is left (the failing task ends on its own) and is running.
    ASSERT_TRUE(eventually([&] {
        auto tasks = group.tasks();
        return tasks.size() == 1 && tasks.front().state == TaskState::running;
    }));
    group.cancel_all();
    ASSERT_TRUE(group.wait_for(10s));
    std::lock_guard lock(mutex);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors.front(), "failing: boom");
    EXPECT_EQ(cancelled.load(), 1);
}

TEST(TaskGroup, ClosedGroupRefusesNewTasks) {
    Loop loop;
    loop.start();
    TaskGroup group("closed");
    group.close();
    std::atomic<int> counter{0};
    EXPECT_THROW(group.spawn(loop.executor(), add_after(counter, 0ms)), std::logic_error);
}

TEST(IsCancellation, RecognisesOnlyOperationAborted) {
    auto aborted = std::make_exception_ptr(
        boost::system::system_error(boost::asio::error::operation_aborted));
    auto other = std::make_exception_ptr(std::runtime_error("x"));
    EXPECT_TRUE(is_cancellation(aborted));
    EXPECT_FALSE(is_cancellation(other));
    EXPECT_FALSE(is_cancellation(nullptr));
}

}  // namespace
}  // namespace afterwork

namespace afterwork {
namespace {

using namespace std::chrono_literals;

Task<void> fail_after(std::chrono::milliseconds delay, std::string message) {
    co_await sleep_for(delay);
    throw std::runtime_error(message);
}

Task<void> count_cancel(std::atomic<int>& cancelled) {
    try {
        co_await sleep_for(1h);
    } catch (const boost::system::system_error&) {
        ++cancelled;
        throw;
    }
}

Task<void> join_group(TaskGroup& group) { co_await group.join(); }

TEST(TaskGroupJoin, WaitsForAllAndRethrowsTheFirstFailure) {
    Loop loop;
    loop.start();
    TaskGroup group("join", [](std::string_view, std::exception_ptr) {});
    std::atomic<int> done{0};
    for (int i = 0; i < 5; ++i) {
        group.spawn(loop.executor(), [](std::atomic<int>& d) -> Task<void> {
            co_await sleep_for(5ms);
            ++d;
        }(done));
    }
    group.spawn(loop.executor(), fail_after(1ms, "first"));
    group.spawn(loop.executor(), fail_after(20ms, "second"));
    auto joiner = spawn(loop.executor(), join_group(group));
    try {
        joiner.get();
        FAIL() << "join rethrows the first failure";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_EQ(done.load(), 5) << "join waited for every task";
    EXPECT_EQ(group.size(), 0u);
}

TEST(TaskGroupJoin, CancelOnFailureStopsTheSiblings) {
    Loop loop;
    loop.start();
    TaskGroup group("fail-fast", [](std::string_view, std::exception_ptr) {}, true);
    std::atomic<int> cancelled{0};
    for (int i = 0; i < 3; ++i) group.spawn(loop.executor(), count_cancel(cancelled));
    auto failing = group.spawn(loop.executor(), fail_after(1ms, "boom"));
    auto joiner = spawn(loop.executor(), join_group(group));
    EXPECT_THROW(joiner.get(), std::runtime_error);
    EXPECT_EQ(cancelled.load(), 3);
    EXPECT_EQ(failing.state(), TaskState::failed);
    EXPECT_EQ(failing.cancel_reason(), CancelReason::none) << "the failure cancels its siblings";
    EXPECT_NE(group.first_failure(), nullptr);
}

TEST(TaskGroupJoin, AnEmptyGroupJoinsAtOnce) {
    Loop loop;
    loop.start();
    TaskGroup group("empty");
    auto joiner = spawn(loop.executor(), join_group(group));
    EXPECT_NO_THROW(joiner.get());
}

}  // namespace
}  // namespace afterwork
