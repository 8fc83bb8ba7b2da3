// SPDX-License-Identifier: MIT
#include <afterwork/http/app.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/sleep.hpp>
#include <afterwork/testing/test_client.hpp>
#include <reference_service.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;
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
