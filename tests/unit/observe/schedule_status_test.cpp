// SPDX-License-Identifier: MIT
// mount_schedule_status and mount_schedule_listing on a minimal app whose scheduler runs on a
// driven clock.

#include <afterwork/observe/schedule_status.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>

#include <gtest/gtest.h>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/schedule/time_zone.hpp>
#include <afterwork/testing/test_client.hpp>

#include "support/eventually.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::TestClient;

Task<void> fail_to_send() {
    throw std::runtime_error("smtp refused");
    co_return;
}

class ScheduleStatus : public ::testing::Test {
protected:
    ScheduleStatus() {
        app_.configure_scheduler({.clock = clock_});
        app_.cron("0 9 * * *", "digest", [] {}, {.tz = "Asia/Kolkata"});
        app_.schedule(IntervalTrigger(1min), "mailer", fail_to_send, {.id = "mail-1"});
        app_.cron("0 8 * * mon", "weekly", [] {}, {.tz = "UTC", .schedule = {.paused = true}});
        mount_schedule_status(app_);
        mount_schedule_listing(app_, "/schedules/next");
        client_.emplace(app_);
    }

    boost::json::array get(std::string_view path) {
        auto response = client_->get(path);
        EXPECT_EQ(response.status, 200) << response.body;
        return response.json().as_array();
    }

    std::shared_ptr<ManualClock> clock_ =
        std::make_shared<ManualClock>(parse_iso8601("2026-06-01T08:59:00Z"));
    App app_;
    std::optional<TestClient> client_;
};

TEST_F(ScheduleStatus, ListsEverySchedulesStatusByNextRun) {
    clock_->advance(1min);
    ASSERT_TRUE(eventually([&] { return get("/schedules").at(0).at("failures") == 1; }));
    auto list = get("/schedules");
    ASSERT_EQ(list.size(), 3u);

    const auto& mailer = list.at(0).as_object();
    EXPECT_EQ(mailer.at("id"), "mail-1");
    EXPECT_EQ(mailer.at("name"), "mailer");
    EXPECT_EQ(mailer.at("trigger"), "interval:60s");
    EXPECT_EQ(mailer.at("time_zone"), "UTC");
    EXPECT_EQ(mailer.at("last_outcome"), "failed");
    EXPECT_EQ(mailer.at("last_error"), "smtp refused");
    EXPECT_EQ(mailer.at("runs"), 1);
    EXPECT_EQ(mailer.at("running"), 0);
    EXPECT_EQ(mailer.at("misfire_grace_seconds"), 60.0);
    EXPECT_TRUE(mailer.at("last_run").is_string());
    EXPECT_EQ(mailer.size(), 16u);

    const auto& digest = list.at(1).as_object();
    EXPECT_EQ(digest.at("id"), "digest");
    EXPECT_EQ(digest.at("trigger"), "cron:0 9 * * *@Asia/Kolkata");
    EXPECT_EQ(digest.at("description"), "At 09:00 every day (Asia/Kolkata)");
    EXPECT_EQ(digest.at("time_zone"), "Asia/Kolkata");
    EXPECT_EQ(digest.at("next_run"), "2026-06-02T09:00:00+05:30");
    EXPECT_TRUE(digest.at("last_run").is_null());
    EXPECT_EQ(digest.at("last_outcome"), "none");
    EXPECT_TRUE(digest.at("last_error").is_null());
    EXPECT_EQ(digest.at("paused"), false);

    const auto& weekly = list.at(2).as_object();
    EXPECT_EQ(weekly.at("id"), "weekly");
    EXPECT_EQ(weekly.at("paused"), true);
    EXPECT_TRUE(weekly.at("next_run").is_null());
}

TEST_F(ScheduleStatus, ListingHasIdNameAndNextRunOnly) {
    auto list = get("/schedules/next");
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list.at(1), (boost::json::value{{"id", "digest"},
                                             {"name", "digest"},
                                             {"next_run", "2026-06-02T09:00:00+05:30"}}));
    for (const auto& item : list) EXPECT_EQ(item.as_object().size(), 3u);
    EXPECT_TRUE(list.at(2).at("next_run").is_null()) << "paused";
}

TEST_F(ScheduleStatus, RefusesOtherMethods) {
    for (auto path : {"/schedules", "/schedules/next"}) {
        auto response = client_->post(path);
        EXPECT_EQ(response.status, 405) << path;
        EXPECT_EQ(response.header("Allow"), "GET") << path;
    }
}

TEST(ScheduleStatusMount, AnAppWithoutSchedulesListsNone) {
    App app;
    mount_schedule_status(app);
    mount_schedule_listing(app, "/jobs");
    EXPECT_THROW(mount_schedule_listing(app, "/jobs"), std::invalid_argument);
    TestClient client(app);
    EXPECT_EQ(client.get("/schedules").body, "[]");
    EXPECT_EQ(client.get("/jobs").body, "[]");
}

}  // namespace
}  // namespace afterwork
