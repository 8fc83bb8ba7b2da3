// SPDX-License-Identifier: MIT
// The reference service's tracked report jobs and its periodic and supervised tasks, driven
// through the TestClient.
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/http/app.hpp>
#include <afterwork/schedule/time_zone.hpp>
#include <afterwork/schedule/trigger.hpp>
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

TEST_F(ReferenceReports, JobsListsTheArticlesCronJobsInKolkataTime) {
    const auto before = std::chrono::system_clock::now();
    auto response = client_->get("/jobs");
    const auto after = std::chrono::system_clock::now();
    ASSERT_EQ(response.status, 200);
    auto list = response.json().as_array();
    ASSERT_EQ(list.size(), 3u);
    const std::map<std::string, std::string> expressions = {
        {"daily_digest", "0 9 * * *"}, {"hourly_cleanup", "0 * * * *"},
        {"weekly_report", "0 8 * * mon"}};
    std::set<std::string> seen;
    for (const auto& item : list) {
        const auto& job = item.as_object();
        EXPECT_EQ(job.size(), 3u);
        const std::string id(job.at("id").as_string());
        ASSERT_TRUE(expressions.contains(id)) << id;
        seen.insert(id);
        const std::string next_run(job.at("next_run").as_string());
        EXPECT_TRUE(next_run.ends_with("+05:30")) << next_run;  // Kolkata has no DST
        CronTrigger trigger(expressions.at(id), "Asia/Kolkata");
        const auto next = parse_iso8601(next_run);
        EXPECT_TRUE(next == trigger.next_after(before) || next == trigger.next_after(after))
            << id << " " << next_run;
    }
    EXPECT_EQ(seen.size(), 3u);
    // Ordered by next run (the offsets are all the same, so the text orders as the instant).
    for (std::size_t i = 1; i < list.size(); ++i) {
        EXPECT_LE(list.at(i - 1).at("next_run").as_string(), list.at(i).at("next_run").as_string());
    }

    auto schedules = client_->get("/schedules").json().as_array();
    ASSERT_EQ(schedules.size(), 3u);
    boost::json::object hourly;
    for (const auto& item : schedules) {
        if (item.at("id") == "hourly_cleanup") hourly = item.as_object();
    }
    EXPECT_EQ(hourly.at("trigger"), "cron:0 * * * *@Asia/Kolkata");
    EXPECT_EQ(hourly.at("time_zone"), "Asia/Kolkata");
    EXPECT_EQ(hourly.at("last_outcome"), "none");
    EXPECT_TRUE(hourly.at("last_run").is_null());
    EXPECT_EQ(hourly.at("paused"), false);
    EXPECT_EQ(hourly.at("misfire_grace_seconds"), 60.0);
}

TEST(ReferenceService, CronTimeZoneIsASetting) {
    App app;
    apps::ReferenceOptions options;
    options.data_dir = std::filesystem::temp_directory_path() /
                       ("afterwork-cron-tz-" + std::to_string(::getpid()));
    options.cron_time_zone = "America/New_York";
    apps::build_reference_service(app, options);
    {
        TestClient client(app);
        auto list = client.get("/jobs").json().as_array();
        ASSERT_EQ(list.size(), 3u);
        for (const auto& item : list) {
            const std::string next_run(item.at("next_run").as_string());
            EXPECT_TRUE(next_run.ends_with("-05:00") || next_run.ends_with("-04:00")) << next_run;
        }
    }
    std::filesystem::remove_all(options.data_dir);

    App bad;
    apps::ReferenceOptions wrong;
    wrong.cron_time_zone = "Mars/Olympus";
    EXPECT_THROW(apps::build_reference_service(bad, wrong), ScheduleError);
}

}  // namespace
}  // namespace afterwork
