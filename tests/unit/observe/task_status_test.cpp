// SPDX-License-Identifier: MIT
// mount_task_status on a minimal app with one periodic, one failing periodic and one supervised
// task.

#include <afterwork/observe/task_status.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <afterwork/runtime/sleep.hpp>
#include <afterwork/testing/test_client.hpp>

#include "support/eventually.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::TestClient;

Task<void> tick() { co_return; }

Task<void> fail_to_connect() {
    throw std::runtime_error("database unreachable");
    co_return;
}

Task<void> wait_forever() {
    for (;;) co_await sleep_for(1h);
}

class TaskStatus : public ::testing::Test {
protected:
    TaskStatus() {
        app_.every(1h, "tick", tick);
        app_.every(90min, "broken", fail_to_connect);
        app_.supervise("listener", [] { return wait_forever(); });
        mount_task_status(app_);
        client_.emplace(app_);
    }

    boost::json::array tasks() {
        auto response = client_->get("/tasks");
        EXPECT_EQ(response.status, 200) << response.body;
        return response.json().as_array();
    }

    App app_;
    std::optional<TestClient> client_;
};

TEST_F(TaskStatus, ListsPeriodicAndSupervisedTasksInTheOrderAdded) {
    ASSERT_TRUE(eventually([&] {
        auto list = tasks();
        return list.size() == 3 && list.at(0).at("runs") == 1 && list.at(1).at("failures") == 1;
    }));
    auto list = tasks();
    const auto& periodic = list.at(0).as_object();
    EXPECT_EQ(periodic.at("name"), "tick");
    EXPECT_EQ(periodic.at("kind"), "periodic");
    EXPECT_EQ(periodic.at("interval_seconds"), 3600.0);
    EXPECT_EQ(periodic.at("failures"), 0);
    EXPECT_EQ(periodic.at("restarts"), 0);
    EXPECT_TRUE(periodic.at("last_error").is_null());
    // UTC with milliseconds: "2026-03-01T09:00:00.000Z".
    const std::string last_run(periodic.at("last_run").as_string());
    EXPECT_EQ(last_run.size(), 24u) << last_run;
    EXPECT_EQ(last_run.back(), 'Z') << last_run;
    EXPECT_TRUE(periodic.at("next_run").is_string());

    const auto& broken = list.at(1).as_object();
    EXPECT_EQ(broken.at("name"), "broken");
    EXPECT_EQ(broken.at("interval_seconds"), 5400.0);
    EXPECT_EQ(broken.at("last_error"), "database unreachable");

    const auto& supervised = list.at(2).as_object();
    EXPECT_EQ(supervised.at("name"), "listener");
    EXPECT_EQ(supervised.at("kind"), "supervised");
    EXPECT_FALSE(supervised.contains("interval_seconds"));
    EXPECT_EQ(supervised.size(), 10u);
    EXPECT_EQ(periodic.size(), 11u);
}

TEST_F(TaskStatus, RefusesOtherMethods) {
    auto response = client_->del("/tasks");
    EXPECT_EQ(response.status, 405);
    EXPECT_EQ(response.header("Allow"), "GET");
}

TEST(TaskStatusMount, AnAppWithoutTasksListsNone) {
    App app;
    mount_task_status(app, "/status/tasks");
    TestClient client(app);
    auto response = client.get("/status/tasks");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "[]");
}

}  // namespace
}  // namespace afterwork
