// SPDX-License-Identifier: MIT
#include <afterwork/runtime/blocking_pool.hpp>

#include <atomic>
#include <future>
#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include <afterwork/runtime/offload.hpp>
#include <support/run_task.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;

TEST(BlockingPool, RunsEveryItem) {
    BlockingPool pool({.name = "test", .max_threads = 4, .queue_limit = 1000});
    std::atomic<int> count{0};
    for (int i = 0; i < 500; ++i) pool.submit([&] { count.fetch_add(1); });
    ASSERT_TRUE(pool.wait_idle(10s));
    EXPECT_EQ(count.load(), 500);
}

TEST(BlockingPool, RefusesWorkBeyondItsQueueLimit) {
    BlockingPool pool({.name = "small", .max_threads = 1, .queue_limit = 2});
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::latch started(1);
    pool.submit([&] {
        started.count_down();
        gate.wait();
    });
    started.wait();  // the only thread is busy, so the next two items queue
    pool.submit([gate] { gate.wait(); });
    pool.submit([gate] { gate.wait(); });
    BlockingPool::Work refused = [] {};
    EXPECT_FALSE(pool.try_submit(refused));
    EXPECT_TRUE(static_cast<bool>(refused)) << "a refused item is left to the caller";
    EXPECT_THROW(pool.submit([] {}), PoolOverloaded);
    release.set_value();
    EXPECT_TRUE(pool.wait_idle(10s));
    pool.submit([] {});  // room again
    EXPECT_TRUE(pool.wait_idle(10s));
}

TEST(BlockingPool, AnItemThatThrowsDoesNotStopThePool) {
    BlockingPool pool({.name = "throws", .max_threads = 1, .queue_limit = 10});
    std::atomic<bool> ran{false};
    pool.submit([] { throw std::runtime_error("boom"); });
    pool.submit([&] { ran = true; });
    ASSERT_TRUE(pool.wait_idle(10s));
    EXPECT_TRUE(ran.load());
}

TEST(BlockingPool, ClosedPoolRefusesAndDropPendingReportsCount) {
    BlockingPool pool({.name = "drop", .max_threads = 1, .queue_limit = 10});
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::latch started(1);
    pool.submit([&] {
        started.count_down();
        gate.wait();
    });
    started.wait();
    std::atomic<int> ran{0};
    pool.submit([&] { ++ran; });
    pool.submit([&] { ++ran; });
    EXPECT_EQ(pool.drop_pending(), 2u);
    pool.close();
    EXPECT_THROW(pool.submit([] {}), PoolOverloaded);
    release.set_value();
    EXPECT_TRUE(pool.wait_idle(10s));
    EXPECT_EQ(ran.load(), 0);
}

TEST(BlockingPool, NeverGrowsBeyondMaxThreads) {
    BlockingPool pool({.name = "cap", .max_threads = 3, .queue_limit = 100});
    std::atomic<int> concurrent{0};
    std::atomic<int> peak{0};
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    for (int i = 0; i < 10; ++i) {
        pool.submit([&, gate] {
            int now = ++concurrent;
            int seen = peak.load();
            while (now > seen && !peak.compare_exchange_weak(seen, now)) {
            }
            gate.wait();
            --concurrent;
        });
    }
    // Wait until the pool is saturated: three running, seven queued. A worker counts as running
    // once it took its call, a moment before the call bumps `concurrent`: wait for both, or a
    // release in between lets the first calls end before the last starts (peak 2).
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         (pool.running() < 3 || concurrent.load() < 3) &&
         std::chrono::steady_clock::now() < deadline;) {
        std::this_thread::yield();
    }
    EXPECT_EQ(pool.running(), 3u);
    EXPECT_EQ(pool.queued(), 7u);
    release.set_value();
    ASSERT_TRUE(pool.wait_idle(10s));
    EXPECT_EQ(peak.load(), 3);
}

TEST(ToThread, ReturnsTheResultOnTheCallersThread) {
    BlockingPool pool({.name = "offload", .max_threads = 2, .queue_limit = 10});
    auto result = testing::run_task([](BlockingPool& p) -> Task<std::pair<bool, int>> {
        auto caller = std::this_thread::get_id();
        std::thread::id worker;
        int value = co_await to_thread(p, [&worker](int a, int b) {
            worker = std::this_thread::get_id();
            return a + b;
        }, 40, 2);
        co_return std::pair{worker != caller && std::this_thread::get_id() == caller, value};
    }(pool));
    EXPECT_TRUE(result.first);
    EXPECT_EQ(result.second, 42);
}

TEST(ToThread, RethrowsTheCallsException) {
    BlockingPool pool({.name = "offload", .max_threads = 1, .queue_limit = 10});
    EXPECT_THROW(testing::run_task([](BlockingPool& p) -> Task<void> {
                     co_await to_thread(p, [] { throw std::invalid_argument("bad"); });
                 }(pool)),
                 std::invalid_argument);
}

TEST(ToThread, FailsClearlyWhenThePoolIsFull) {
    BlockingPool pool({.name = "full", .max_threads = 1, .queue_limit = 1});
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::latch started(1);
    pool.submit([&] {
        started.count_down();
        gate.wait();
    });
    started.wait();
    pool.submit([gate] { gate.wait(); });
    EXPECT_THROW(testing::run_task([](BlockingPool& p) -> Task<void> {
                     co_await to_thread(p, [] {});
                 }(pool)),
                 PoolOverloaded);
    release.set_value();
    EXPECT_TRUE(pool.wait_idle(10s));
}

}  // namespace
}  // namespace afterwork
