// SPDX-License-Identifier: MIT
// The reference service's tracked report jobs and its periodic and supervised tasks, driven
// through the TestClient.
#include <filesystem>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/http/app.hpp>
#include <afterwork/testing/test_client.hpp>
#include <support/eventually.hpp>
#include <reference_service.hpp>

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::TestClient;

using testing::eventually;

class ReferenceReports : public ::testing::Test {
protected:
    ReferenceReports() {
        dir_ = std::filesystem::temp_directory_path() /
               ("afterwork-reports-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        apps::ReferenceOptions options;
        options.data_dir = dir_;
        options.session_cleanup_interval = 5ms;
        options.exchange_rates_interval = 7ms;
        options.analytics_interval = 11ms;
        options.cache_warm_interval = 5ms;
        options.report_ttl = 200ms;
        apps::build_reference_service(app_, options);
        client_.emplace(app_);
    }
    ~ReferenceReports() override {
        client_.reset();
        std::filesystem::remove_all(dir_);
    }

    std::string status_of(const std::string& id) {
        auto response = client_->get("/reports/" + id + "/status");
        if (response.status != 200) return "http " + std::to_string(response.status);
        return std::string(response.json().at("status").as_string());
    }

    std::filesystem::path dir_;
    App app_;
    std::optional<TestClient> client_;
};

TEST_F(ReferenceReports, AJobRunsToCompleteAndWritesItsReport) {
    auto started = client_->post("/reports/generate?seconds=0.05");
    ASSERT_EQ(started.status, 200);
    auto id = std::string(started.json().at("job_id").as_string());
    EXPECT_EQ(started.json().at("status"), "running");
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(eventually([&] { return status_of(id) == "complete"; }));
    EXPECT_TRUE(std::filesystem::exists(dir_ / "reports" / (id + ".json")));
}

TEST_F(ReferenceReports, DeleteCancelsARunningJob) {
    auto id = std::string(
        client_->post("/reports/generate?seconds=3600").json().at("job_id").as_string());
    EXPECT_EQ(status_of(id), "running");
    auto cancelled = client_->del("/reports/" + id);
    EXPECT_EQ(cancelled.status, 200);
    EXPECT_EQ(cancelled.json().at("status"), "cancelled");
    EXPECT_EQ(status_of(id), "cancelled");
    auto again = client_->del("/reports/" + id);  // cancelling a finished job changes nothing
    EXPECT_EQ(again.json().at("status"), "cancelled");
}

TEST_F(ReferenceReports, UnknownIdsAre404AndBadSecondsAre422) {
    EXPECT_EQ(client_->get("/reports/nope/status").status, 404);
    EXPECT_EQ(client_->del("/reports/nope").status, 404);
    EXPECT_EQ(client_->post("/reports/generate?seconds=-1").status, 422);
    EXPECT_EQ(client_->post("/reports/generate?seconds=abc").status, 422);
    EXPECT_EQ(client_->post("/reports/generate?seconds=1e9").status, 422);
}

TEST_F(ReferenceReports, FinishedJobsVanishAfterTheirTimeToLive) {
    auto id = std::string(
        client_->post("/reports/generate?seconds=0").json().at("job_id").as_string());
    EXPECT_TRUE(eventually([&] { return status_of(id) == "complete"; }));
    EXPECT_TRUE(eventually([&] { return status_of(id) == "http 404"; }))
        << "kept 200 ms after it ended, then purged";
}

TEST_F(ReferenceReports, TasksListsThePeriodicAndSupervisedTasks) {
    EXPECT_TRUE(eventually([&] {
        auto list = client_->get("/tasks").json().as_array();
        if (list.size() != 4) return false;
        for (const auto& item : list) {
            // The periodic ones ran again; the supervised warmer runs once, for ever.
            const auto wanted = item.at("kind") == "periodic" ? 2u : 1u;
            if (item.at("runs").to_number<std::uint64_t>() < wanted) return false;
        }
        return true;
    }));
    auto list = client_->get("/tasks").json().as_array();
    std::vector<std::string> names;
    for (const auto& item : list) {
        names.emplace_back(item.at("name").as_string());
        EXPECT_EQ(item.at("failures"), 0);
        EXPECT_TRUE(item.at("last_run").is_string());
    }
    EXPECT_EQ(names, (std::vector<std::string>{"session-cleanup", "exchange-rates", "analytics",
                                               "cache-warmer"}));
    EXPECT_EQ(list.at(3).at("kind"), "supervised");
    EXPECT_EQ(list.at(3).at("state"), "running");
    EXPECT_EQ(list.at(0).at("interval_seconds"), 0.005);
}

}  // namespace
}  // namespace afterwork
