// SPDX-License-Identifier: MIT
// The app's durable job queue: `app.jobs()`, its in-process worker, and
// `BackgroundTasks::enqueue` committing a job before the response is sent.

#include <atomic>
#include <string>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/http/app.hpp>
#include <afterwork/jobs/memory_store.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/testing/test_client.hpp>

#include "support/eventually.hpp"

namespace afterwork {

struct Signup {
    std::string email;
};
BOOST_DESCRIBE_STRUCT(Signup, (), (email))

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using testing::eventually;
using testing::TestClient;

Event g_never;  // never set: a job waiting on it runs until cancelled
std::atomic<int> g_cancelled{0};

json::value welcome(JobContext& job, Signup args) {
    return json::value{{"sent_to", args.email}, {"attempt", job.attempt()}};
}

Task<void> held(JobContext&, json::value) {
    try {
        co_await g_never.wait();
    } catch (const boost::system::system_error&) {
        ++g_cancelled;
        throw;
    }
}

TEST(AppJobs, BackgroundEnqueueIsStoredBeforeTheResponseAndRunByTheAppsWorker) {
    auto store = std::make_shared<MemoryStore>();
    App app;
    app.configure_jobs({.store = store});
    app.jobs().define("welcome", welcome);
    app.post("/signup", [](Request& request, BackgroundTasks& bg) -> Task<Response> {
        auto body = request.json<Signup>();
        std::string name = "welcome";
        auto outcome = co_await bg.enqueue(std::move(name), body);
        co_return json_response(202, {{"job_id", outcome.id}});
    });
    TestClient client(app);
    auto response = client.post_json("/signup", {{"email", "a@b.c"}});
    ASSERT_EQ(response.status, 202);
    const JobId id = response.json().at("job_id").as_int64();
    // Committed before the response: the job exists (in some state) the moment it arrives.
    ASSERT_TRUE(store->get(id).has_value());
    ASSERT_TRUE(eventually([&] { return store->get(id).value().state == JobState::succeeded; }));
    EXPECT_EQ(json::parse(*store->get(id).value().result),
              (json::value{{"sent_to", "a@b.c"}, {"attempt", 1}}));
    ASSERT_NE(app.jobs_worker(), nullptr);
}

TEST(AppJobs, AFailedEnqueueFailsTheRequestInsteadOfLosingTheJob) {
    App app;
    app.jobs().define("welcome", welcome);
    app.post("/bad", [](Request&, BackgroundTasks& bg) -> Task<Response> {
        // Named locals: g++ 12 mishandles temporaries in co_await expressions.
        std::string name = "welcome";
        json::value args{{"nope", 1}};  // email missing
        co_await bg.enqueue(std::move(name), std::move(args));
        co_return empty_response(204);
    });
    app.post("/unknown", [](Request&, BackgroundTasks& bg) -> Task<Response> {
        std::string name = "no_such_job";
        co_await bg.enqueue(std::move(name), json::value());
        co_return empty_response(204);
    });
    TestClient client(app);
    EXPECT_EQ(client.post("/bad").status, 500);
    EXPECT_EQ(client.post("/unknown").status, 500);
    EXPECT_EQ(app.jobs().counts().value().size(), 0u);
}

TEST(AppJobs, ShutdownReleasesRunningJobsBackToTheStore) {
    g_cancelled = 0;
    auto store = std::make_shared<MemoryStore>();
    JobId id = 0;
    {
        App app;
        app.configure_jobs({.store = store});
        app.jobs().define("held", held, {.max_attempts = 1});
        auto options = TestClient::default_options();
        options.drain_timeout = 50ms;
        TestClient client(app, options);
        id = app.jobs().enqueue("held", nullptr).value().id;
        ASSERT_TRUE(
            eventually([&] { return store->get(id).value().state == JobState::running; }));
    }
    EXPECT_EQ(g_cancelled.load(), 1);
    auto job = store->get(id).value();
    EXPECT_EQ(job.state, JobState::queued);
    EXPECT_EQ(job.attempt, 0);
}

TEST(AppJobs, NoDefinitionsNoWorker) {
    App app;
    app.get("/", [](Request&) -> Task<Response> { co_return empty_response(204); });
    TestClient client(app);
    EXPECT_EQ(app.jobs_worker(), nullptr);
    app.configure_jobs({});  // allowed until the queue is first used
    app.jobs();
    EXPECT_THROW(app.configure_jobs({}), std::logic_error);
}

}  // namespace
}  // namespace afterwork
