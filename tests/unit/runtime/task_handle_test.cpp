// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_handle.hpp>

#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/require.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/cancellation.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <support/eventually.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;

bool is_aborted(const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
}

using testing::eventually;

Task<int> answer() {
    co_await sleep_for(1ms);
    co_return 42;
}

Task<int> fail(std::string message) {
    co_await sleep_for(0ms);
    throw std::runtime_error(message);
}

Task<void> sleep_forever(std::atomic<int>* cancelled) {
    try {
        co_await sleep_for(1h);
    } catch (const boost::system::system_error& e) {
        if (cancelled && is_aborted(e)) cancelled->fetch_add(1);
        throw;
    }
}

class TaskHandleTest : public ::testing::Test {
protected:
    void SetUp() override {
        loop_.start();
        other_.start();
    }
    Loop loop_{"tasks"};
    Loop other_{"other"};
};

TEST_F(TaskHandleTest, SucceedsWithItsResultFromAPlainThread) {
    auto handle = spawn(loop_.executor(), answer(), {.name = "answer"});
    EXPECT_EQ(handle.name(), "answer");
    EXPECT_GT(handle.id(), 0u);
    EXPECT_EQ(handle.get(), 42);
    EXPECT_EQ(handle.state(), TaskState::succeeded);
    EXPECT_TRUE(handle.done());
    EXPECT_FALSE(handle.cancel()) << "cancelling a finished task does nothing";
    EXPECT_EQ(handle.state(), TaskState::succeeded);
}

TEST_F(TaskHandleTest, GoesFromPendingToRunningToDone) {
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::latch blocked(1);
    // Keep the loop busy so the task cannot start yet.
    boost::asio::post(loop_.executor(), [&blocked, gate] {
        blocked.count_down();
        gate.wait();
    });
    blocked.wait();
    auto handle = spawn(loop_.executor(), answer());
    EXPECT_EQ(handle.state(), TaskState::pending);
    release.set_value();
    EXPECT_TRUE(eventually([&] { return handle.state() != TaskState::pending; }));
    EXPECT_EQ(handle.get(), 42);
}

TEST_F(TaskHandleTest, AFailureIsRethrownToEveryWaiter) {
    auto handle = spawn(loop_.executor(), fail("disk on fire"));
    EXPECT_THROW(handle.get(), std::runtime_error);
    EXPECT_EQ(handle.state(), TaskState::failed);
    EXPECT_NE(handle.error(), nullptr);
    try {
        handle.get();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "disk on fire");
    }
}

TEST_F(TaskHandleTest, CancelReachesTheSuspensionPointAndAwaitingThrowsAborted) {
    std::atomic<int> cancelled{0};
    auto handle = spawn(loop_.executor(), sleep_forever(&cancelled));
    EXPECT_TRUE(eventually([&] { return handle.state() == TaskState::running; }));
    EXPECT_TRUE(handle.cancel());
    try {
        handle.get();
        FAIL() << "awaiting a cancelled task throws";
    } catch (const boost::system::system_error& e) {
        EXPECT_TRUE(is_aborted(e));
    }
    EXPECT_EQ(handle.state(), TaskState::cancelled);
    EXPECT_EQ(handle.cancel_reason(), CancelReason::user);
    EXPECT_EQ(cancelled.load(), 1) << "the task saw the cancellation and could clean up";
    EXPECT_FALSE(handle.cancel());
}

TEST_F(TaskHandleTest, CancelledBeforeItStartsItStopsAtItsFirstSuspensionPoint) {
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::latch blocked(1);
    boost::asio::post(loop_.executor(), [&blocked, gate] {
        blocked.count_down();
        gate.wait();
    });
    blocked.wait();
    std::atomic<bool> ran{false};
    auto handle = spawn(loop_.executor(), [](std::atomic<bool>& flag) -> Task<void> {
        co_await sleep_for(0ms);
        flag = true;
    }(ran));
    EXPECT_TRUE(handle.cancel(CancelReason::shutdown));
    release.set_value();
    EXPECT_THROW(handle.get(), boost::system::system_error);
    EXPECT_EQ(handle.state(), TaskState::cancelled);
    EXPECT_EQ(handle.cancel_reason(), CancelReason::shutdown);
    EXPECT_FALSE(ran.load());
}

TEST_F(TaskHandleTest, AwaitableFromACoroutineOnAnotherLoop) {
    auto handle = run_on(other_, answer());
    auto waiter = spawn(loop_.executor(), [](TaskHandle<int> h) -> Task<int> {
        int value = co_await h.wait();
        co_return value + 1;
    }(handle));
    EXPECT_EQ(waiter.get(), 43);
}

TEST_F(TaskHandleTest, CancellingAWaiterEndsItsWaitNotTheTask) {
    auto sleeper = spawn(other_.executor(), sleep_forever(nullptr));
    auto waiter = spawn(loop_.executor(), [](TaskHandle<void> h) -> Task<void> {
        co_await h.wait();
    }(sleeper));
    EXPECT_TRUE(eventually([&] { return waiter.state() == TaskState::running; }));
    waiter.cancel();
    EXPECT_THROW(waiter.get(), boost::system::system_error);
    EXPECT_FALSE(sleeper.done());
    sleeper.cancel();
    EXPECT_THROW(sleeper.get(), boost::system::system_error);
}

TEST_F(TaskHandleTest, BlockingWaitOnALoopThreadIsRefused) {
    auto sleeper = spawn(other_.executor(), sleep_forever(nullptr));
    auto misuse = spawn(loop_.executor(), [](TaskHandle<void> h) -> Task<void> {
        h.get();  // would block the loop: refused
        co_return;
    }(sleeper));
    EXPECT_THROW(misuse.get(), std::logic_error);
    sleeper.cancel();
    EXPECT_TRUE(sleeper.wait_for(10s));
}

TEST_F(TaskHandleTest, AnUnobservedFailureIsCounted) {
    const auto before = unobserved_failures();
    {
        auto handle = spawn(loop_.executor(), fail("nobody listens"));
        EXPECT_TRUE(handle.wait_for(10s));
    }  // the last handle goes; the runner let go when the task ended
    EXPECT_TRUE(eventually([&] { return unobserved_failures() == before + 1; }));
    {
        auto handle = spawn(loop_.executor(), fail("observed"));
        EXPECT_TRUE(handle.wait_for(10s));
        EXPECT_NE(handle.error(), nullptr);
    }
    EXPECT_EQ(unobserved_failures(), before + 1) << "an observed failure is not reported";
}

TEST_F(TaskHandleTest, WaitForTimesOutOnARunningTask) {
    auto sleeper = spawn(loop_.executor(), sleep_forever(nullptr));
    EXPECT_FALSE(sleeper.wait_for(10ms));
    sleeper.cancel();
    EXPECT_TRUE(sleeper.wait_for(10s));
}

TEST_F(TaskHandleTest, HandlesAreSafeFromManyThreads) {
    auto sleeper = spawn(loop_.executor(), sleep_forever(nullptr));
    std::vector<std::thread> threads;
    std::atomic<int> cancels{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, copy = sleeper] {
            (void)copy.state();
            if (copy.cancel()) ++cancels;
            copy.wait_for(10s);
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_GE(cancels.load(), 1);
    EXPECT_EQ(sleeper.state(), TaskState::cancelled);
}

TEST_F(TaskHandleTest, WithTimeoutReturnsInTimeAndCancelsTheLateTask) {
    auto quick = spawn(loop_.executor(), with_timeout(answer(), 10s));
    EXPECT_EQ(quick.get(), 42);
    std::atomic<int> cancelled{0};
    auto late = spawn(loop_.executor(), with_timeout(sleep_forever(&cancelled), 10ms));
    try {
        late.get();
        FAIL();
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), boost::asio::error::timed_out);
        EXPECT_FALSE(is_cancellation(std::current_exception()));
    }
    EXPECT_EQ(cancelled.load(), 1);
    EXPECT_EQ(late.state(), TaskState::failed) << "a timeout is a failure, not a cancellation";
    late.error();
}

// The limits below are an hour: if with_timeout waited for the limit instead of the task's own
// end, these waits would not end in time.
TEST_F(TaskHandleTest, WithTimeoutReportsAFailureAsSoonAsTheTaskThrows) {
    auto failing = spawn(loop_.executor(), with_timeout(fail("own error"), 1h));
    ASSERT_TRUE(failing.wait_for(30s));
    try {
        failing.get();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "own error");
    }
}

Task<void> await_cancelled(TaskHandle<void> other) { co_await other.wait(); }

TEST_F(TaskHandleTest, WithTimeoutPassesOnACancellationOfTheTask) {
    std::atomic<int> cancelled{0};
    auto victim = spawn(other_.executor(), sleep_forever(&cancelled));
    auto waiting = spawn(loop_.executor(), with_timeout(await_cancelled(victim), 1h));
    EXPECT_TRUE(eventually([&] { return victim.state() == TaskState::running; }));
    victim.cancel();
    ASSERT_TRUE(waiting.wait_for(30s));
    try {
        waiting.get();
        FAIL();
    } catch (const boost::system::system_error& e) {
        EXPECT_TRUE(is_aborted(e)) << "a cancellation, not a timeout: " << e.what();
    }
}

Task<void> start_then_sleep(std::atomic<bool>* started, std::atomic<int>* cancelled) {
    *started = true;
    co_await sleep_forever(cancelled);
}

TEST_F(TaskHandleTest, CancellingTheCallerOfWithTimeoutCancelsTheTaskAndWaitsForIt) {
    std::atomic<bool> started{false};
    std::atomic<int> cancelled{0};
    auto caller =
        spawn(loop_.executor(), with_timeout(start_then_sleep(&started, &cancelled), 1h));
    EXPECT_TRUE(eventually([&] { return started.load(); }));
    caller.cancel(CancelReason::shutdown);
    ASSERT_TRUE(caller.wait_for(30s));
    EXPECT_EQ(caller.state(), TaskState::cancelled);
    EXPECT_EQ(cancelled.load(), 1) << "the inner task saw the cancellation before the caller ended";
}

TEST_F(TaskHandleTest, ShieldedCleanUpFinishesThoughTheCallerIsCancelled) {
    std::atomic<bool> cleaned{false};
    std::atomic<bool> after_shield{false};
    std::promise<void> entered;
    auto caller = spawn(loop_.executor(), [](std::atomic<bool>& cleaned_up,
                                             std::atomic<bool>& went_on,
                                             std::promise<void>& in) -> Task<void> {
        co_await shielded([](std::atomic<bool>& flag, std::promise<void>& p) -> Task<void> {
            p.set_value();
            co_await sleep_for(50ms);
            flag = true;
        }(cleaned_up, in));
        went_on = true;
        co_await sleep_for(0ms);  // the caller's cancellation lands here at the latest
    }(cleaned, after_shield, entered));
    entered.get_future().wait();
    caller.cancel();
    EXPECT_THROW(caller.get(), boost::system::system_error);
    EXPECT_TRUE(cleaned.load());
}

// Waits on the pool for a call that blocks until `gate` opens.
Task<void> wait_for_gate(BlockingPool& pool, std::shared_future<void> gate,
                         std::atomic<bool>& finished, std::latch& entered) {
    auto call = [gate, &finished, &entered] {
        entered.count_down();
        gate.wait();
        finished = true;
    };
    co_await to_thread(pool, std::move(call));
}

TEST_F(TaskHandleTest, ToThreadCancellationEndsTheWaitAndTheCallFinishesAlone) {
    BlockingPool pool({.name = "slow", .max_threads = 1, .queue_limit = 10});
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::atomic<bool> call_finished{false};
    std::latch started(1);
    auto caller = spawn(loop_.executor(), wait_for_gate(pool, gate, call_finished, started));
    started.wait();
    caller.cancel();
    EXPECT_THROW(caller.get(), boost::system::system_error);
    EXPECT_EQ(caller.state(), TaskState::cancelled);
    EXPECT_FALSE(call_finished.load());
    release.set_value();
    EXPECT_TRUE(pool.wait_idle(10s));
    EXPECT_TRUE(call_finished.load());
}

TEST_F(TaskHandleTest, OnCpuRunsOnTheCpuPool) {
    auto handle = spawn(loop_.executor(), []() -> Task<long> {
        co_return co_await on_cpu([](long n) {
            long sum = 0;
            for (long i = 1; i <= n; ++i) sum += i;
            return sum;
        }, 1000L);
    }());
    EXPECT_EQ(handle.get(), 500500);
}

TEST_F(TaskHandleTest, TheDefaultNameIsTaskAndItsIdFromEveryThread) {
    auto handle = spawn(loop_.executor(), answer());
    const std::string expected = "task-" + std::to_string(handle.id());
    std::vector<std::thread> threads;
    std::vector<const std::string*> seen(4);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        threads.emplace_back([&seen, i, copy = handle] { seen[i] = &copy.name(); });
    }
    for (auto& thread : threads) thread.join();
    for (const auto* name : seen) {
        EXPECT_EQ(name, &handle.name()) << "one name, formed once";
        EXPECT_EQ(*name, expected);
    }
    EXPECT_EQ(handle.get(), 42);
}

Task<int> finish_after(std::chrono::microseconds delay, int value) {
    co_await sleep_for(delay);
    co_return value;
}

Task<int> sum_of(std::vector<TaskHandle<int>> handles) {
    int sum = 0;
    for (const auto& handle : handles) sum += co_await handle.wait();
    co_return sum;
}

// Waiters of many tasks share the wait machinery (striped locks): plain threads and coroutines
// on another loop wait while the tasks finish, each waking exactly when its own task is done.
TEST_F(TaskHandleTest, ManyWaitersOfManyTasksEachSeeTheirTaskEnd) {
    constexpr int kTasks = 300;
    std::vector<TaskHandle<int>> handles;
    for (int i = 0; i < kTasks; ++i) {
        const auto delay = std::chrono::microseconds(i % 7 * 200);
        handles.push_back(spawn(loop_.executor(), finish_after(delay, i)));
    }
    auto coroutine_waiter = spawn(other_.executor(), sum_of(handles));
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = t; i < kTasks; i += 2) {
                const auto& handle = handles[static_cast<std::size_t>(i)];
                if (i % 3 == 0) {
                    if (!handle.wait_for(10s) || !handle.done()) ++wrong;
                } else if (handle.get() != i) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(coroutine_waiter.get(), kTasks * (kTasks - 1) / 2);
    for (const auto& handle : handles) EXPECT_EQ(handle.state(), TaskState::succeeded);
}

// An executor of an io_context whose posts from threads other than `owner` block, once their
// handler is queued, until `gate` opens: a post still under way (as asio::post is while it
// wakes the loop's thread) after its handler may already have run.
class GatedExecutor {
public:
    GatedExecutor(boost::asio::io_context& context, std::thread::id owner,
                  const std::shared_future<void>& gate) noexcept
        : context_(&context), owner_(owner), gate_(&gate) {}

    boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
        return *context_;
    }
    static constexpr boost::asio::execution::blocking_t::never_t query(
        boost::asio::execution::blocking_t) noexcept {
        return {};
    }
    GatedExecutor require(boost::asio::execution::blocking_t::never_t) const noexcept {
        return *this;
    }
    template <class Function>
    void execute(Function&& function) const {
        boost::asio::require(context_->get_executor(), boost::asio::execution::blocking.never)
            .execute(std::forward<Function>(function));
        if (std::this_thread::get_id() != owner_) gate_->wait();
    }
    friend bool operator==(const GatedExecutor& a, const GatedExecutor& b) noexcept {
        return a.context_ == b.context_;
    }
    friend bool operator!=(const GatedExecutor& a, const GatedExecutor& b) noexcept {
        return !(a == b);
    }

private:
    boost::asio::io_context* context_;
    std::thread::id owner_;
    const std::shared_future<void>* gate_;  // an executor is nothrow-copyable
};

Task<void> offload_then_stop(BlockingPool& pool, boost::asio::io_context* context) {
    co_await to_thread(pool, [] {});  // resumed by a post from the pool thread
    context->stop();
}

// A pool thread resumes a task with a post; the task ends and its owner destroys the context
// while that post has not returned yet (regression: the context went, and the pool thread
// then signalled a destroyed condition variable inside it).
TEST(TaskContext, IsDestroyedOnlyOnceAPostIntoItFromAnotherThreadReturned) {
    BlockingPool pool({.name = "poster", .max_threads = 1, .queue_limit = 10});
    std::promise<void> release;
    const std::shared_future<void> gate = release.get_future().share();
    auto context = std::make_unique<boost::asio::io_context>(1);
    const GatedExecutor executor(*context, std::this_thread::get_id(), gate);
    auto handle = spawn(Executor(executor), offload_then_stop(pool, context.get()));
    {
        auto guard = boost::asio::make_work_guard(*context);
        context->run();  // until the task stops it, with the pool thread still in its post
    }
    ASSERT_TRUE(handle.done());
    std::atomic<bool> destroyed{false};
    std::thread destroyer([&] {
        context.reset();
        destroyed = true;
    });
    // Never true while the post is under way; false a while proves nothing more than that.
    EXPECT_FALSE(eventually([&] { return destroyed.load(); }, 50ms));
    release.set_value();
    destroyer.join();
    EXPECT_TRUE(destroyed.load());
    EXPECT_EQ(handle.state(), TaskState::succeeded);
}

TEST(TaskStateNames, AreSpelledAsInJson) {
    EXPECT_EQ(to_string(TaskState::pending), "pending");
    EXPECT_EQ(to_string(TaskState::cancelled), "cancelled");
    EXPECT_EQ(to_string(CancelReason::deadline), "deadline");
}

}  // namespace
}  // namespace afterwork
