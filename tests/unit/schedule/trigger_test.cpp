// SPDX-License-Identifier: MIT
// CronTrigger, IntervalTrigger, DateTrigger and Trigger: next fire times as pure functions,
// descriptions, the string form a store keeps and its round trip, and bad input.

#include <afterwork/schedule/trigger.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "unit/schedule/schedule_test_support.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::at;

std::string next_text(const Trigger& trigger, std::string_view after) {
    const auto next = trigger.next_after(at(after));
    return next ? format_iso8601(*next, trigger.zone()) : "none";
}

static_assert(std::is_nothrow_move_constructible_v<Trigger>);
static_assert(std::is_nothrow_move_constructible_v<CronTrigger>);
static_assert(std::is_nothrow_move_constructible_v<TimeZone>);

TEST(CronTrigger, FiresInItsZone) {
    const CronTrigger digest("0 9 * * *", "Asia/Kolkata");
    const auto next = digest.next_after(at("2026-11-22T10:00:00+05:30"));
    ASSERT_TRUE(next);
    EXPECT_EQ(format_iso8601(*next, digest.zone()), "2026-11-23T09:00:00+05:30");
    EXPECT_EQ(digest.zone().name(), "Asia/Kolkata");
    EXPECT_EQ(digest.expression().text(), "0 9 * * *");
    EXPECT_EQ(digest.describe(), "At 09:00 every day (Asia/Kolkata)");
    EXPECT_EQ(digest.to_string(), "cron:0 9 * * *@Asia/Kolkata");

    const CronTrigger utc(CronExpression::parse("0 * * * *"));
    EXPECT_EQ(utc.zone().name(), "UTC");
    EXPECT_EQ(utc.to_string(), "cron:0 * * * *@UTC");
}

TEST(CronTrigger, BadExpressionOrZone) {
    auto r = CronTrigger::try_create("0 25 * * *", "UTC");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ScheduleErrc::invalid_cron);
    EXPECT_STREQ(r.error().what(), "hour: \"25\" is out of range 0-23");
    r = CronTrigger::try_create("0 9 * * *", "Asia/Kolkatta");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ScheduleErrc::unknown_time_zone);
    EXPECT_THROW(CronTrigger("0 9 * * *", "Nowhere"), ScheduleError);
}

TEST(IntervalTrigger, WithAStartFiresOnItsGrid) {
    const IntervalTrigger every5(5min, at("2026-12-01T09:00:00Z"));
    EXPECT_EQ(every5.next_after(at("2026-11-30T00:00:00Z")), at("2026-12-01T09:00:00Z"));
    EXPECT_EQ(every5.next_after(at("2026-12-01T08:59:59.999Z")), at("2026-12-01T09:00:00Z"));
    EXPECT_EQ(every5.next_after(at("2026-12-01T09:00:00Z")), at("2026-12-01T09:05:00Z"));
    EXPECT_EQ(every5.next_after(at("2026-12-01T09:07:13Z")), at("2026-12-01T09:10:00Z"));
    // Asked late, it stays on the grid rather than drifting.
    EXPECT_EQ(every5.next_after(at("2026-12-03T17:42:00Z")), at("2026-12-03T17:45:00Z"));
}

TEST(IntervalTrigger, WithoutAStartCountsFromTheInstantAsked) {
    const IntervalTrigger every90s(90s);
    EXPECT_EQ(every90s.next_after(at("2026-12-01T09:00:00Z")), at("2026-12-01T09:01:30Z"));
    EXPECT_EQ(every90s.next_after(at("2026-12-01T09:01:30Z")), at("2026-12-01T09:03:00Z"));
    EXPECT_FALSE(every90s.next_after(TimePoint::max() - 1s));
}

TEST(IntervalTrigger, StopsAtTheEnd) {
    const IntervalTrigger hourly(1h, at("2026-12-01T00:00:00Z"), at("2026-12-01T03:00:00Z"));
    EXPECT_EQ(hourly.next_after(at("2026-12-01T01:30:00Z")), at("2026-12-01T02:00:00Z"));
    EXPECT_EQ(hourly.next_after(at("2026-12-01T02:00:00Z")), at("2026-12-01T03:00:00Z"));
    EXPECT_FALSE(hourly.next_after(at("2026-12-01T03:00:00Z")));
    const IntervalTrigger open_start(1h, std::nullopt, at("2026-12-01T03:00:00Z"));
    EXPECT_EQ(open_start.next_after(at("2026-12-01T02:00:00Z")), at("2026-12-01T03:00:00Z"));
    EXPECT_FALSE(open_start.next_after(at("2026-12-01T02:00:01Z")));
    // Start equal to end: one firing.
    const IntervalTrigger once(1h, at("2026-12-01T00:00:00Z"), at("2026-12-01T00:00:00Z"));
    EXPECT_EQ(once.next_after(at("2026-11-01T00:00:00Z")), at("2026-12-01T00:00:00Z"));
    EXPECT_FALSE(once.next_after(at("2026-12-01T00:00:00Z")));
}

TEST(IntervalTrigger, RejectsBadIntervals) {
    auto r = IntervalTrigger::try_create(0s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ScheduleErrc::invalid_interval);
    EXPECT_STREQ(r.error().what(), "interval must be greater than zero, got 0s");
    r = IntervalTrigger::try_create(-5s);
    ASSERT_FALSE(r);
    EXPECT_STREQ(r.error().what(), "interval must be greater than zero, got -5s");
    r = IntervalTrigger::try_create(1h, at("2026-12-02T00:00:00Z"), at("2026-12-01T00:00:00Z"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ScheduleErrc::invalid_interval);
    EXPECT_STREQ(r.error().what(), "end 2026-12-01T00:00:00Z is before start 2026-12-02T00:00:00Z");
    EXPECT_THROW(IntervalTrigger(-1ms), ScheduleError);
}

TEST(IntervalTrigger, Describes) {
    EXPECT_EQ(IntervalTrigger(5min).describe(), "Every 5 minutes");
    EXPECT_EQ(IntervalTrigger(1h).describe(), "Every hour");
    EXPECT_EQ(IntervalTrigger(90min).describe(), "Every 90 minutes");
    EXPECT_EQ(IntervalTrigger(1500ms).describe(), "Every 1500 milliseconds");
    EXPECT_EQ(IntervalTrigger(24h).describe(), "Every day");
    EXPECT_EQ(
        IntervalTrigger(30s, at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")).describe(),
        "Every 30 seconds from 2026-12-01T00:00:00Z until 2027-01-01T00:00:00Z");
}

TEST(DateTrigger, FiresOnce) {
    const DateTrigger launch(at("2026-12-01T09:00:00Z"));
    EXPECT_EQ(launch.next_after(at("2026-11-30T00:00:00Z")), at("2026-12-01T09:00:00Z"));
    EXPECT_FALSE(launch.next_after(at("2026-12-01T09:00:00Z")));
    EXPECT_FALSE(launch.next_after(at("2027-01-01T00:00:00Z")));
    EXPECT_EQ(launch.describe(), "Once at 2026-12-01T09:00:00Z");
    EXPECT_EQ(launch.to_string(), "date:2026-12-01T09:00:00Z");
}

TEST(Trigger, HoldsAnyKind) {
    const Trigger cron = CronTrigger("0 8 * * MON", "Europe/Berlin");
    const Trigger interval = IntervalTrigger(5min);
    const Trigger date = DateTrigger(at("2026-12-01T09:00:00Z"));
    ASSERT_NE(cron.get_if<CronTrigger>(), nullptr);
    EXPECT_EQ(cron.get_if<IntervalTrigger>(), nullptr);
    EXPECT_EQ(cron.zone().name(), "Europe/Berlin");
    EXPECT_EQ(interval.zone().name(), "UTC");
    EXPECT_EQ(next_text(cron, "2026-11-22T00:00:00Z"), "2026-11-23T08:00:00+01:00");
    EXPECT_EQ(next_text(interval, "2026-11-22T00:00:00Z"), "2026-11-22T00:05:00+00:00");
    EXPECT_EQ(next_text(date, "2026-12-01T09:00:00Z"), "none");
    EXPECT_EQ(cron.describe(), "At 08:00 on Monday (Europe/Berlin)");
    EXPECT_EQ(date.visit([](const auto& t) { return t.to_string(); }), "date:2026-12-01T09:00:00Z");
    EXPECT_NE(cron, interval);
    EXPECT_EQ(cron, Trigger(CronTrigger("0 8 * * MON", "Europe/Berlin")));
}

TEST(Trigger, StringFormRoundTrips) {
    for (const char* text : {
             "cron:0 9 * * *@Asia/Kolkata",
             "cron:*/15 9-17 * * MON-FRI@America/New_York",
             "cron:@daily@UTC",
             "cron:0 0 L * *@Australia/Lord_Howe",
             "cron:30 */10 * * * *@Europe/Berlin",
             "interval:300s",
             "interval:250ms",
             "interval:1us",
             "interval:300s,start=2026-12-01T09:00:00Z",
             "interval:3600s,start=2026-12-01T09:00:00Z,end=2027-01-01T00:00:00.5Z",
             "interval:60s,end=2027-01-01T00:00:00Z",
             "date:2026-12-01T09:00:00Z",
             "date:2026-12-01T09:00:00.123Z",
         }) {
        const auto parsed = Trigger::try_parse(text);
        ASSERT_TRUE(parsed) << text << ": " << parsed.error().what();
        EXPECT_EQ(parsed->to_string(), text);
        EXPECT_EQ(Trigger::parse(parsed->to_string()), *parsed) << text;
    }
}

TEST(Trigger, StringFormAcceptsOtherSpellings) {
    EXPECT_EQ(Trigger::parse("cron:0 9 * * *").to_string(), "cron:0 9 * * *@UTC");
    EXPECT_EQ(Trigger::parse("cron:@hourly").to_string(), "cron:@hourly@UTC");
    EXPECT_EQ(Trigger::parse("cron:  0  9 * * * @Asia/Kolkata").to_string(),
              "cron:0 9 * * *@Asia/Kolkata");
    EXPECT_EQ(Trigger::parse("interval:5m").to_string(), "interval:300s");
    EXPECT_EQ(Trigger::parse("interval:1h30m").to_string(), "interval:5400s");
    EXPECT_EQ(Trigger::parse("interval:1d").to_string(), "interval:86400s");
    EXPECT_EQ(Trigger::parse("date:2026-12-01T14:30:00+05:30").to_string(),
              "date:2026-12-01T09:00:00Z");
    const auto with_start = Trigger::parse("interval:5m,start=2026-12-01T09:00:00Z");
    EXPECT_EQ(with_start, Trigger(IntervalTrigger(5min, at("2026-12-01T09:00:00Z"))));
}

TEST(Trigger, StringFormErrors) {
    struct Case {
        const char* text;
        ScheduleErrc code;
        const char* message;
    };
    for (const auto& c : {
             Case{"weekly",
                  ScheduleErrc::invalid_trigger,
                  "invalid trigger \"weekly\": expected cron:..., interval:... or date:..."},
             Case{"every:5m",
                  ScheduleErrc::invalid_trigger,
                  "invalid trigger \"every:5m\": unknown kind \"every\" (expected cron, "
                  "interval or date)"},
             Case{"cron:0 25 * * *@UTC",
                  ScheduleErrc::invalid_cron,
                  "hour: \"25\" is out of range 0-23"},
             Case{"cron:0 9 * * *@Mars/Olympus",
                  ScheduleErrc::unknown_time_zone,
                  "unknown time zone \"Mars/Olympus\""},
             Case{"interval:0s",
                  ScheduleErrc::invalid_interval,
                  "interval must be greater than zero, got 0s"},
             Case{"interval:",
                  ScheduleErrc::invalid_interval,
                  "missing interval (e.g. 300s, 5m, 1h30m)"},
             Case{"interval:5",
                  ScheduleErrc::invalid_interval,
                  "interval \"5\" needs a unit after 5 (ns, us, ms, s, m, h or d)"},
             Case{"interval:5x",
                  ScheduleErrc::invalid_interval,
                  "interval \"5x\" needs a unit after 5 (ns, us, ms, s, m, h or d)"},
             Case{"interval:-5s",
                  ScheduleErrc::invalid_interval,
                  "interval \"-5s\" is not a duration (e.g. 300s, 5m, 1h30m, 250ms)"},
             Case{"interval:99999999999d",
                  ScheduleErrc::invalid_interval,
                  "interval \"99999999999d\" is too long"},
             Case{"interval:5m,every=1",
                  ScheduleErrc::invalid_trigger,
                  "invalid trigger \"interval:5m,every=1\": unknown option \"every=1\" "
                  "(expected start=ISO-TIME or end=ISO-TIME)"},
             Case{"interval:5m,start=2026-12-02T00:00:00Z,end=2026-12-01T00:00:00Z",
                  ScheduleErrc::invalid_interval,
                  "end 2026-12-01T00:00:00Z is before start 2026-12-02T00:00:00Z"},
             Case{"date:2026-12-01",
                  ScheduleErrc::invalid_time,
                  "invalid time \"2026-12-01\": expected ISO 8601 like 2026-12-01T09:00:00Z or "
                  "2026-12-01T09:00:00+05:30"},
         }) {
        const auto r = Trigger::try_parse(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code(), c.code) << c.text;
        EXPECT_STREQ(r.error().what(), c.message);
    }
    EXPECT_THROW((void)Trigger::parse("nope"), ScheduleError);
}

}  // namespace
}  // namespace afterwork
