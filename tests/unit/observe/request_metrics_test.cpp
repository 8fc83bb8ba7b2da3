// SPDX-License-Identifier: MIT
// mount_request_metrics on a minimal app: what the middleware counts (404, 405 and 500
// included) and the JSON the endpoint answers.

#include <afterwork/observe/request_metrics.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>

#include <gtest/gtest.h>

#include <afterwork/http/response.hpp>
#include <afterwork/testing/test_client.hpp>

namespace afterwork {
namespace {

using testing::TestClient;

Task<void> record(std::shared_ptr<std::atomic<int>> done) {
    ++*done;
    co_return;
}

class RequestMetrics : public ::testing::Test {
protected:
    RequestMetrics() {
        mount_request_metrics(app_);
        app_.get("/ok", [](Request&) -> Task<Response> { co_return json_response({{"ok", true}}); });
        app_.get("/boom", [](Request&) -> Task<Response> {
            throw std::runtime_error("database unreachable");
            co_return empty_response(204);
        });
        app_.get("/unavailable", [](Request&) -> Task<Response> {
            co_return json_response(503, {{"detail", "try later"}});
        });
        app_.post("/work", [done = done_](Request&, BackgroundTasks& tasks) -> Task<Response> {
            tasks.add(record, done);
            co_return json_response(202, {{"accepted", true}});
        });
        client_.emplace(app_);
    }

    boost::json::object metrics() {
        auto response = client_->get("/metrics");
        EXPECT_EQ(response.status, 200) << response.body;
        return response.json().as_object();
    }

    std::shared_ptr<std::atomic<int>> done_ = std::make_shared<std::atomic<int>>(0);
    App app_;
    std::optional<TestClient> client_;
};

TEST_F(RequestMetrics, CountsEveryRequestItselfIncluded) {
    auto first = metrics();
    EXPECT_EQ(first.at("requests"), 1);
    EXPECT_EQ(first.at("errors"), 0);
    EXPECT_EQ(client_->get("/ok").status, 200);
    EXPECT_EQ(metrics().at("requests"), 3);
}

TEST_F(RequestMetrics, CountsA404AsARequestNotAnError) {
    EXPECT_EQ(client_->get("/nowhere").status, 404);
    auto counts = metrics();
    EXPECT_EQ(counts.at("requests"), 2);
    EXPECT_EQ(counts.at("errors"), 0);
}

TEST_F(RequestMetrics, CountsA500FromAThrowingHandlerAsAnError) {
    EXPECT_EQ(client_->get("/boom").status, 500);
    EXPECT_EQ(client_->get("/unavailable").status, 503);
    auto counts = metrics();
    EXPECT_EQ(counts.at("requests"), 3);
    EXPECT_EQ(counts.at("errors"), 2);
}

TEST_F(RequestMetrics, RefusesOtherMethodsAndCountsThem) {
    auto response = client_->post("/metrics");
    EXPECT_EQ(response.status, 405);
    EXPECT_EQ(response.header("allow"), "GET");
    auto counts = metrics();
    EXPECT_EQ(counts.at("requests"), 2);
    EXPECT_EQ(counts.at("errors"), 0);
}

TEST_F(RequestMetrics, ReportsTheBackgroundTaskCountersAndThePid) {
    EXPECT_EQ(client_->post("/work").status, 202);
    ASSERT_TRUE(client_->wait_background());
    EXPECT_EQ(done_->load(), 1);
    auto counts = metrics();
    const auto& background = counts.at("background_tasks").as_object();
    EXPECT_EQ(background.at("scheduled"), 1);
    EXPECT_EQ(background.at("succeeded"), 1);
    EXPECT_EQ(background.at("failed"), 0);
    EXPECT_EQ(background.at("dropped"), 0);
    EXPECT_EQ(background.at("abandoned"), 0);
    EXPECT_EQ(background.at("pending"), 0);
    EXPECT_EQ(background.size(), 6u);
    EXPECT_EQ(counts.at("pid"), static_cast<std::int64_t>(::getpid()));
    EXPECT_EQ(counts.size(), 4u);
}

TEST(RequestMetricsMount, ATakenPathThrows) {
    App app;
    app.get("/metrics", [](Request&) -> Task<Response> { co_return empty_response(204); });
    EXPECT_THROW(mount_request_metrics(app), std::invalid_argument);
    mount_request_metrics(app, "/stats");
    TestClient client(app);
    EXPECT_EQ(client.get("/metrics").status, 204);
    EXPECT_EQ(client.get("/stats").json().at("requests"), 2);
}

}  // namespace
}  // namespace afterwork
