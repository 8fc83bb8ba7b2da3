// SPDX-License-Identifier: MIT
#include <afterwork/http/background_tasks.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <afterwork/http/app.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/testing/test_client.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::TestClient;

// A thread-safe record of what the tasks did, in order.
class Journal {
public:
    void add(std::string entry) {
        std::lock_guard lock(mutex_);
        entries_.push_back(std::move(entry));
    }
    std::vector<std::string> entries() const {
        std::lock_guard lock(mutex_);
        return entries_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> entries_;
};

Task<void> record_later(Journal& journal, std::string entry) {
    co_await sleep_for(1ms);
    journal.add(std::move(entry));
}

void record_now(Journal& journal, std::string entry) { journal.add(std::move(entry)); }

TEST(BackgroundTasks, RunInTheOrderAddedMixingCoroutinesAndPlainFunctions) {
    Journal journal;
    App app;
    app.post("/work", [&journal](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(record_later, std::ref(journal), "1 coroutine");
        tasks.add(record_now, std::ref(journal), "2 plain");
        tasks.add(record_later, std::ref(journal), "3 coroutine");
        tasks.add(record_now, std::ref(journal), "4 plain");
        co_return json_response({{"queued", tasks.size()}});
    });
    TestClient client(app);
    EXPECT_EQ(client.post("/work").json().at("queued"), 4);
    ASSERT_TRUE(client.wait_background());
    EXPECT_EQ(journal.entries(), (std::vector<std::string>{"1 coroutine", "2 plain",
                                                           "3 coroutine", "4 plain"}));
    auto stats = app.background_stats();
    EXPECT_EQ(stats.scheduled, 4u);
    EXPECT_EQ(stats.succeeded, 4u);
    EXPECT_EQ(stats.pending, 0u);
}

TEST(BackgroundTasks, StartOnlyAfterTheHandlerHasAnswered) {
    std::atomic<bool> answered{false};
    std::atomic<bool> seen_answered{false};
    App app;
    app.post("/after", [&](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add([&] { seen_answered = answered.load(); });
        co_await sleep_for(20ms);  // a task started early would run during this
        answered = true;
        co_return empty_response(204);
    });
    TestClient client(app);
    EXPECT_EQ(client.post("/after").status, 204);
    ASSERT_TRUE(client.wait_background());
    EXPECT_TRUE(seen_answered.load());
}

TEST(BackgroundTasks, AFailingTaskIsCountedAndTheNextOnesStillRun) {
    Journal journal;
    App app;
    app.post("/fragile", [&journal](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(record_now, std::ref(journal), "before");
        tasks.add([]() -> Task<void> {
            co_await sleep_for(0ms);
            throw std::runtime_error("mail server down");
        });
        tasks.add([] { throw std::runtime_error("disk full"); });
        tasks.add(record_later, std::ref(journal), "after");
        co_return json_response({{"ok", true}});
    });
    TestClient client(app);
    auto response = client.post("/fragile");
    EXPECT_EQ(response.status, 200);
    ASSERT_TRUE(client.wait_background());
    EXPECT_EQ(journal.entries(), (std::vector<std::string>{"before", "after"}));
    auto stats = app.background_stats();
    EXPECT_EQ(stats.failed, 2u);
    EXPECT_EQ(stats.succeeded, 2u);
}

TEST(BackgroundTasks, OwnTheirArgumentsSoNothingDangles) {
    Journal journal;
    App app;
    app.post("/own", [&journal](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        std::string local = "local " + std::string(request.body());
        // A coroutine taking a reference reads the task's own copy, and a view of the body is
        // stored as a string: both outlive the handler and the request (ASan checks this).
        tasks.add(
            [](Journal& j, const std::string& text) -> Task<void> {
                co_await sleep_for(5ms);
                j.add(text);
            },
            std::ref(journal), local);
        tasks.add([](Journal& j, std::string_view body) { j.add(std::string(body)); },
                  std::ref(journal), request.body());
        local.assign(100, 'x');
        co_return empty_response(204);
    });
    TestClient client(app);
    client.post("/own", "payload");
    ASSERT_TRUE(client.wait_background());
    EXPECT_EQ(journal.entries(), (std::vector<std::string>{"local payload", "payload"}));
}

TEST(BackgroundTasks, AreDroppedWhenTheHandlerThrowsUnlessAddedAlways) {
    Journal journal;
    App app;
    app.post("/fails", [&journal](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(record_now, std::ref(journal), "work of the failed request");
        tasks.add_always(record_now, std::ref(journal), "clean-up");
        throw HttpError(409, "conflict");
        co_return empty_response(204);
    });
    app.post("/crashes", [&journal](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(record_now, std::ref(journal), "dropped too");
        tasks.add_always(record_later, std::ref(journal), "clean-up after crash");
        throw std::runtime_error("bug");
        co_return empty_response(204);
    });
    TestClient client(app);
    EXPECT_EQ(client.post("/fails").status, 409);
    EXPECT_EQ(client.post("/crashes").status, 500);
    ASSERT_TRUE(client.wait_background());
    auto entries = journal.entries();  // two requests: their tasks may interleave
    std::sort(entries.begin(), entries.end());
    EXPECT_EQ(entries, (std::vector<std::string>{"clean-up", "clean-up after crash"}));
    EXPECT_EQ(app.background_stats().dropped, 2u);
}

TEST(BackgroundTasks, PlainTasksHaveTheirOwnPoolSoSyncHandlersKeepAnswering) {
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::latch blocked(1);
    App app;
    app.post("/heavy", [&, gate](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add([&blocked, gate] {
            blocked.count_down();
            gate.wait();
        });
        co_return empty_response(202);
    });
    app.get("/sync", [](Request&) { return json_response({{"ok", true}}); });
    auto options = TestClient::default_options();
    options.background_threads = 1;
    options.handler_threads = 1;
    TestClient client(app, options);
    EXPECT_EQ(client.post("/heavy").status, 202);
    blocked.wait();  // the only background thread is now busy
    EXPECT_EQ(client.post("/heavy").status, 202);  // queued behind it
    EXPECT_EQ(client.get("/sync").status, 200) << "the handler pool is not the background pool";
    EXPECT_EQ(app.background_stats().pending, 2u);
    release.set_value();
    ASSERT_TRUE(client.wait_background());
    EXPECT_EQ(app.background_stats().succeeded, 2u);
}

TEST(BackgroundTasks, RefuseNewWorkWith503AtTheLimit) {
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    App app;
    app.post("/task", [gate](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add([gate] { gate.wait(); });
        co_return empty_response(202);
    });
    auto options = TestClient::default_options();
    options.background_threads = 1;
    options.background_queue_limit = 2;
    TestClient client(app, options);
    EXPECT_EQ(client.post("/task").status, 202);
    EXPECT_EQ(client.post("/task").status, 202);
    auto refused = client.post("/task");
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.header("Retry-After"), "1");
    release.set_value();
    ASSERT_TRUE(client.wait_background());
    EXPECT_EQ(client.post("/task").status, 202);
    ASSERT_TRUE(client.wait_background());
}

TEST(BackgroundTasks, StillRunningAtTheDrainDeadlineAreCancelledAndCounted) {
    std::atomic<bool> saw_cancellation{false};
    App app;
    app.post("/slow", [&](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add([&saw_cancellation]() -> Task<void> {
            try {
                co_await sleep_for(1h);
            } catch (const boost::system::system_error&) {
                saw_cancellation = true;
                throw;
            }
        });
        co_return empty_response(202);
    });
    auto options = TestClient::default_options();
    options.drain_timeout = 100ms;
    {
        TestClient client(app, options);
        EXPECT_EQ(client.post("/slow").status, 202);
    }  // stop: drain deadline, then cancel
    EXPECT_TRUE(saw_cancellation.load());
    auto stats = app.background_stats();
    EXPECT_EQ(stats.abandoned, 1u);
    EXPECT_EQ(stats.pending, 0u);
}

TEST(BackgroundTasks, QueuedPlainTasksAreAbandonedAtTheDeadline) {
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::latch blocked(1);
    std::atomic<int> ran{0};
    App app;
    app.post("/block", [&, gate](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add([&blocked, gate] {
            blocked.count_down();
            gate.wait();
        });
        co_return empty_response(202);
    });
    app.post("/queued", [&ran](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add([&ran] { ++ran; });
        tasks.add([&ran] { ++ran; });
        co_return empty_response(202);
    });
    auto options = TestClient::default_options();
    options.background_threads = 1;
    options.drain_timeout = 100ms;
    std::thread releaser;
    {
        TestClient client(app, options);
        client.post("/block");
        blocked.wait();
        client.post("/queued");
        // Release the blocked task only once stop has dropped the queue.
        releaser = std::thread([&] {
            while (app.background_stats().abandoned < 2) std::this_thread::yield();
            release.set_value();
        });
    }
    releaser.join();
    EXPECT_EQ(ran.load(), 0);
    EXPECT_EQ(app.background_stats().abandoned, 2u);
    EXPECT_EQ(app.background_stats().succeeded, 1u);
}

}  // namespace
}  // namespace afterwork
