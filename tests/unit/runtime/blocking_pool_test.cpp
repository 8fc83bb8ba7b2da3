// SPDX-License-Identifier: MIT
#include <afterwork/runtime/blocking_pool.hpp>

#include <atomic>
#include <future>
#include <latch>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/require.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/task_handle.hpp>
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

// An io_context's executor that counts the posts made through it from other threads than
// `owner` (the pool thread's post that resumes a caller of to_thread).
class CountingExecutor {
public:
    CountingExecutor(boost::asio::io_context& context, std::thread::id owner,
                     std::atomic<int>& foreign_posts) noexcept
        : context_(&context), owner_(owner), foreign_posts_(&foreign_posts) {}

    boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
        return *context_;
    }
    static constexpr boost::asio::execution::blocking_t::never_t query(
        boost::asio::execution::blocking_t) noexcept {
        return {};
    }
    CountingExecutor require(boost::asio::execution::blocking_t::never_t) const noexcept {
        return *this;
    }
    template <class Function>
    void execute(Function&& function) const {
        if (std::this_thread::get_id() != owner_) foreign_posts_->fetch_add(1);
        boost::asio::require(context_->get_executor(), boost::asio::execution::blocking.never)
            .execute(std::forward<Function>(function));
    }
    friend bool operator==(const CountingExecutor& a, const CountingExecutor& b) noexcept {
        return a.context_ == b.context_;
    }
    friend bool operator!=(const CountingExecutor& a, const CountingExecutor& b) noexcept {
        return !(a == b);
    }

private:
    boost::asio::io_context* context_;
    std::thread::id owner_;
    std::atomic<int>* foreign_posts_;
};

// An argument that records, when destroyed, how many resumptions had been posted by then.
class Probe {
public:
    Probe(const std::atomic<int>& posts, std::atomic<int>& seen) noexcept
        : posts_(&posts), seen_(&seen) {}
    Probe(Probe&& other) noexcept
        : posts_(std::exchange(other.posts_, nullptr)), seen_(other.seen_) {}
    Probe& operator=(Probe&&) = delete;
    ~Probe() {
        if (posts_) seen_->store(posts_->load());
    }

private:
    const std::atomic<int>* posts_;
    std::atomic<int>* seen_;
};

Task<void> call_with_probe(BlockingPool& pool, Probe probe, boost::asio::io_context* context) {
    co_await to_thread(pool, [](Probe&) {}, std::move(probe));
    context->stop();
}

// Regression: the pool destroyed a call and its arguments only after the call had resumed
// its caller, so they could hold the last reference to something the caller had already
// torn down (a worker's state, its strand belonging to a destroyed loop).
TEST(ToThread, DestroysTheCallAndItsArgumentsBeforeTheCallerResumes) {
    BlockingPool pool({.name = "probe", .max_threads = 1, .queue_limit = 10});
    boost::asio::io_context context(1);
    std::atomic<int> resumptions_posted{0};
    std::atomic<int> posted_when_destroyed{-1};
    const CountingExecutor executor(context, std::this_thread::get_id(), resumptions_posted);
    auto handle = spawn(Executor(executor),
                        call_with_probe(pool, Probe(resumptions_posted, posted_when_destroyed),
                                        &context));
    {
        auto guard = boost::asio::make_work_guard(context);
        context.run();
    }
    ASSERT_EQ(handle.state(), TaskState::succeeded);
    ASSERT_TRUE(pool.wait_idle(10s));
    EXPECT_EQ(resumptions_posted.load(), 1);
    EXPECT_EQ(posted_when_destroyed.load(), 0);
}

}  // namespace
}  // namespace afterwork
