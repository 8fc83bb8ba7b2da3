// SPDX-License-Identifier: MIT
#include <afterwork/http/app.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <afterwork/jobs/memory_store.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/testing/test_client.hpp>
#include <reference_service.hpp>

#include "support/eventually.hpp"
#include "support/socket_client.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::SocketClient;
using testing::TestClient;

class Events {
public:
    void add(std::string event) {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    std::vector<std::string> list() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    /// Where `event` was added; the size of the list when it was not.
    std::size_t position(const std::string& event) const {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::find(events_.begin(), events_.end(), event) -
                                        events_.begin());
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> events_;
};

TEST(Lifespan, RunsStartupInOrderAndShutdownInReverseAroundServing) {
    Events events;
    App app;
    app.lifespan([&events](App& self) -> Task<void> {
        events.add("lifespan startup");
        co_await self.serving();
        events.add("lifespan shutdown");
    });
    app.on_startup([&events](App&) { events.add("startup 1"); });
    app.on_startup([&events](App&) -> Task<void> {
        co_await sleep_for(1ms);
        events.add("startup 2");
    });
    app.on_shutdown([&events](App&) { events.add("shutdown 1"); });
    app.on_shutdown([&events](App&) -> Task<void> {
        co_await sleep_for(1ms);
        events.add("shutdown 2");
    });
    app.post("/work", [&events](Request&, BackgroundTasks& tasks) -> Task<Response> {
        events.add("request");
        tasks.add([&events]() -> Task<void> {
            co_await sleep_for(20ms);
            events.add("background task");
        });
        co_return empty_response(202);
    });
    {
        TestClient client(app);
        client.post("/work");
    }
    EXPECT_EQ(events.list(),
              (std::vector<std::string>{"lifespan startup", "startup 1", "startup 2", "request",
                                        "background task", "shutdown 2", "shutdown 1",
                                        "lifespan shutdown"}));
}

TEST(Lifespan, AFailingStartupHookStopsTheStartAndLetsTheLifespanCleanUp) {
    Events events;
    App app;
    app.lifespan([&events](App& self) -> Task<void> {
        events.add("open pool");
        co_await self.serving();
        events.add("close pool");
    });
    app.on_startup([](App&) { throw std::runtime_error("database unreachable"); });
    app.on_shutdown([&events](App&) { events.add("shutdown hook"); });
    try {
        TestClient client(app);
        FAIL() << "the start should have failed";
    } catch (const StartupError& e) {
        EXPECT_NE(std::string(e.what()).find("database unreachable"), std::string::npos);
    }
    EXPECT_EQ(events.list(), (std::vector<std::string>{"open pool", "close pool"}));
}

TEST(Lifespan, ALifespanThatThrowsBeforeServingFailsTheStart) {
    App app;
    app.lifespan([](App&) -> Task<void> {
        throw std::runtime_error("no config");
        co_return;
    });
    EXPECT_THROW(TestClient client(app), StartupError);
}

TEST(Lifespan, ALifespanThatNeverServesFailsTheStartClearly) {
    App app;
    app.lifespan([](App&) -> Task<void> { co_return; });
    try {
        TestClient client(app);
        FAIL();
    } catch (const StartupError& e) {
        EXPECT_NE(std::string(e.what()).find("serving"), std::string::npos) << e.what();
    }
}

TEST(Lifespan, RunReturnsOneWhenStartupFails) {
    App app;
    app.on_startup([](App&) { throw std::runtime_error("boom"); });
    ServeOptions options;
    options.port = 0;
    options.handle_signals = false;
    EXPECT_EQ(app.run(options), 1);
}

TEST(Lifespan, RunServesUntilAStopIsRequestedAndReturnsZero) {
    App app;
    std::promise<void> started;
    app.on_startup([&started](App&) { started.set_value(); });
    ServeOptions options;
    options.port = 0;
    options.threads = 1;
    options.handle_signals = false;
    auto exit_code = std::async(std::launch::async, [&] { return app.run(options); });
    started.get_future().wait();
    app.request_stop();
    EXPECT_EQ(exit_code.get(), 0);
}

TEST(Lifespan, AShutdownHookThatThrowsDoesNotStopTheOthers) {
    Events events;
    App app;
    app.on_shutdown([&events](App&) { events.add("first added, runs last"); });
    app.on_shutdown([](App&) { throw std::runtime_error("flaky close"); });
    { TestClient client(app); }
    EXPECT_EQ(events.list(), (std::vector<std::string>{"first added, runs last"}))
        << "each shutdown hook runs even when an earlier one failed (the failure is logged)";
}

// Sleeps until cancelled, then adds `event`: work that only the shutdown ends.
Task<void> until_cancelled(Events* events, std::string event) {
    try {
        co_await sleep_for(1h);
    } catch (const boost::system::system_error&) {
        events->add(std::move(event));
        throw;
    }
}

Events* g_job_events = nullptr;

bool refuses_connections(std::uint16_t port) {
    auto client = SocketClient::connect(port);
    return !client && client.error() == boost::system::errc::connection_refused;
}

// The shutdown's order, seen from inside: each service has stopped before the next one's turn,
// and all of them before the shutdown hooks, which run before the lifespan's tail.
TEST(AppShutdown, StopsTheServicesInOrderBeforeTheShutdownHooks) {
    Events events;
    g_job_events = &events;
    Event release_background;
    auto store = std::make_shared<MemoryStore>();
    App app;
    app.configure_jobs({.store = store});
    app.jobs().define(
        "held",
        [](JobContext&, boost::json::value) -> Task<void> {
            co_await until_cancelled(g_job_events, "job cancelled");
        },
        {.max_attempts = 1});
    app.supervise("supervised", [&events]() -> Task<void> {
        events.add("supervised started");
        co_await until_cancelled(&events, "supervised cancelled");
    });
    app.post("/work", [&](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add([&events, &release_background]() -> Task<void> {
            events.add("background started");
            try {
                co_await release_background.wait();
                events.add("background ended");
            } catch (const boost::system::system_error&) {
                events.add("background ended");  // cancelled: the test was slow to release it
                throw;
            }
        });
        co_return empty_response(202);
    });
    std::uint16_t port = 0;
    JobId job = 0;
    struct SeenByTheHook {
        bool refused = false;
        std::uint64_t background_pending = 1;
        JobState job_state = JobState::running;
        int job_attempt = -1;
    } seen;
    app.on_shutdown([&](App& self) {
        seen.refused = refuses_connections(port);
        seen.background_pending = self.background_stats().pending;
        auto record = store->get(job).value();
        seen.job_state = record.state;
        seen.job_attempt = record.attempt;
        events.add("shutdown hook");
    });
    app.lifespan([&events](App& self) -> Task<void> {
        co_await self.serving();
        events.add("lifespan tail");
    });
    auto options = TestClient::default_options();
    options.listen = true;
    options.port = 0;
    options.drain_timeout = 2s;  // for the background task; the others wait for their cancel
    app.start(options);
    port = app.port();

    auto answer = testing::http_request(port, "POST", "/work");
    ASSERT_TRUE(answer) << answer.error().message();
    EXPECT_EQ(answer->status, 202);
    (void)app.spawn(until_cancelled(&events, "spawned task cancelled"));
    job = app.jobs().enqueue("held", nullptr).value().id;
    ASSERT_TRUE(eventually([&] {
        return store->get(job).value().state == JobState::running &&
               events.position("background started") < events.list().size() &&
               events.position("supervised started") < events.list().size();
    }));

    auto stopped = std::async(std::launch::async, [&app] { app.stop(); });
    // The server goes first; the background task it is waiting for then ends on its own.
    EXPECT_TRUE(eventually([&] { return refuses_connections(port); }));
    release_background.set();
    ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready) << "stop() did not return";

    EXPECT_TRUE(seen.refused) << "the server still accepted during the shutdown hooks";
    EXPECT_EQ(seen.background_pending, 0u);
    EXPECT_EQ(seen.job_state, JobState::queued) << "the lease was not released before the hooks";
    EXPECT_EQ(seen.job_attempt, 0);
    const auto at = [&](const char* event) { return events.position(event); };
    const auto end = events.list().size();
    ASSERT_LT(at("background ended"), end);
    ASSERT_LT(at("spawned task cancelled"), end);
    ASSERT_LT(at("job cancelled"), end);
    ASSERT_LT(at("supervised cancelled"), end);
    ASSERT_LT(at("shutdown hook"), end);
    ASSERT_LT(at("lifespan tail"), end);
    // Background and tracked tasks, then durable jobs, then recurring work, then the hooks.
    EXPECT_LT(at("background ended"), at("job cancelled"));
    EXPECT_LT(at("spawned task cancelled"), at("job cancelled"));
    EXPECT_LT(at("job cancelled"), at("supervised cancelled"));
    EXPECT_LT(at("supervised cancelled"), at("shutdown hook"));
    EXPECT_LT(at("shutdown hook"), at("lifespan tail"));
    g_job_events = nullptr;
}

// A second SIGTERM while the drain waits for a request and a background task that would take
// an hour: both are cancelled at once, and they still get to clean up.
TEST(AppShutdown, ASecondSignalStopsWaitingForRequestsAndBackgroundTasks) {
    Events events;
    std::atomic<bool> handler_entered{false};
    App app;
    app.get("/hang", [&](Request&) -> Task<Response> {
        handler_entered = true;
        co_await until_cancelled(&events, "request cancelled");
        co_return empty_response(204);
    });
    app.post("/work", [&events](Request&, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(until_cancelled, &events, std::string("background cancelled"));
        co_return empty_response(202);
    });
    auto options = TestClient::default_options();
    options.listen = true;
    options.port = 0;
    options.handle_signals = true;
    options.drain_timeout = 1h;
    app.start(options);

    auto answer = testing::http_request(app.port(), "POST", "/work");
    ASSERT_TRUE(answer) << answer.error().message();
    SocketClient hanging(app.port());
    ASSERT_TRUE(hanging.send(testing::format_request("GET", "/hang")));
    ASSERT_TRUE(eventually([&] { return handler_entered.load(); }));

    ASSERT_EQ(std::raise(SIGTERM), 0);
    app.wait();  // the first signal asks for the graceful stop
    auto stopped = std::async(std::launch::async, [&app] { app.stop(); });
    // The signal set listens until the drain is over, which needs this second signal.
    ASSERT_EQ(std::raise(SIGTERM), 0);
    ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready)
        << "a second signal did not end the drain";
    const auto end = events.list().size();
    EXPECT_LT(events.position("request cancelled"), end);
    EXPECT_LT(events.position("background cancelled"), end);
    auto stats = app.background_stats();
    EXPECT_EQ(stats.abandoned, 1u);
    EXPECT_EQ(stats.pending, 0u);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ReferenceService, AnswersAndWritesItsFilesInTheBackground) {
    auto dir = std::filesystem::temp_directory_path() /
               ("afterwork-ref-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    App app;
    apps::build_reference_service(app, {.data_dir = dir});
    {
        TestClient client(app);
        auto sent = client.post("/send-notification/a@example.com");
        EXPECT_EQ(sent.status, 200);
        EXPECT_EQ(sent.json().at("message"), "Notification sent in the background");
        EXPECT_EQ(client.post("/send-notification/b@example.com?sync=1").status, 200);
        EXPECT_EQ(client.post("/send-notification/c@example.com?delay=-1").status, 422);
        EXPECT_EQ(client.post("/send-notification/c@example.com?delay=abc").status, 422);
        auto signup = client.post_json("/signup", {{"email", "x@y.z"}, {"name", "X"}});
        EXPECT_EQ(signup.status, 201);
        EXPECT_EQ(signup.json(), boost::json::parse(R"({"user_id":42,"email":"x@y.z"})"));
        auto missing = client.post_json("/signup", {{"email", "x@y.z"}});
        EXPECT_EQ(missing.status, 422);
        EXPECT_EQ(client.get("/healthz").json().at("status"), "ok");
        ASSERT_TRUE(client.wait_background());
        auto metrics = client.get("/metrics").json();
        EXPECT_EQ(metrics.at("requests"), 8);
        EXPECT_EQ(metrics.at("errors"), 0);
        EXPECT_EQ(metrics.at("background_tasks").at("succeeded"), 4);
    }
    // Two requests: one task on a loop, one on the background pool. Tasks of one request run
    // in order; tasks of different requests have no order between them.
    auto log = read_file(dir / "log.txt");
    EXPECT_TRUE(log == "notification for a@example.com: some notification\n"
                       "notification for b@example.com: some notification\n" ||
                log == "notification for b@example.com: some notification\n"
                       "notification for a@example.com: some notification\n")
        << log;
    EXPECT_EQ(read_file(dir / "emails.txt"), "welcome email to x@y.z (X)\n");
    EXPECT_EQ(read_file(dir / "signups.txt"), "signup user_id=42 source=organic\n");
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace afterwork
