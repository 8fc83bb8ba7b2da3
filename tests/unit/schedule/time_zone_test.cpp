// SPDX-License-Identifier: MIT
// TimeZone and cron fire times across daylight-saving changes, by Vixie cron's rule: a
// wall-clock time the clock skips fires once at the first valid instant after it; one it
// passes twice fires at its first occurrence only for a fixed-time job, and in both passes for
// a wildcard job (minute or hour field starting with `*`). America/New_York, Europe/Berlin and
// Europe/Athens (one-hour shifts at 02:00, 03:00 and 04:00), Australia/Lord_Howe (a 30-minute
// shift), Asia/Kolkata (none), dates after 2037, past the transitions the zone files list, and
// a minute-by-minute walk of real time as the reference. Plus ISO 8601 formatting and parsing.

#include <afterwork/schedule/time_zone.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <afterwork/schedule/cron_expression.hpp>

#include "unit/schedule/schedule_test_support.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using std::chrono::local_seconds;
using std::chrono::seconds;
using std::chrono::sys_seconds;
using testing::at;
using testing::next_fires;
using Strings = std::vector<std::string>;

sys_seconds sys(std::string_view iso) { return std::chrono::floor<seconds>(at(iso)); }

// A wall-clock time written as ISO without offset, e.g. "2026-03-08T02:30:00".
local_seconds wall(std::string iso) { return local_seconds(sys(iso + "Z").time_since_epoch()); }

TEST(TimeZone, DefaultIsUtc) {
    const TimeZone utc;
    EXPECT_TRUE(utc.is_utc());
    EXPECT_EQ(utc.name(), "UTC");
    EXPECT_EQ(utc, TimeZone::locate("UTC"));
    EXPECT_EQ(utc.offset_at(sys("2026-07-01T00:00:00Z")), 0s);
    const auto etc = TimeZone::locate("Etc/UTC");
    EXPECT_TRUE(etc.is_utc());
    EXPECT_EQ(etc.name(), "Etc/UTC");
}

TEST(TimeZone, UnknownZonesAreClearErrors) {
    auto r = TimeZone::try_locate("Mars/Olympus");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ScheduleErrc::unknown_time_zone);
    EXPECT_STREQ(r.error().what(), "unknown time zone \"Mars/Olympus\"");

    r = TimeZone::try_locate("asia/kolkata");
    ASSERT_FALSE(r);
    EXPECT_STREQ(r.error().what(),
                 "unknown time zone \"asia/kolkata\" (did you mean \"Asia/Kolkata\"?)");

    for (const char* bad : {"", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "Asia/Kolkata "}) {
        r = TimeZone::try_locate(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), ScheduleErrc::unknown_time_zone);
    }
    EXPECT_THROW((void)TimeZone::locate("Nowhere/Special"), ScheduleError);
}

TEST(TimeZone, OffsetsAndLocalTime) {
    const auto kolkata = TimeZone::locate("Asia/Kolkata");
    EXPECT_EQ(kolkata.name(), "Asia/Kolkata");
    EXPECT_FALSE(kolkata.is_utc());
    EXPECT_EQ(kolkata.offset_at(sys("2026-01-01T00:00:00Z")), 5h + 30min);
    EXPECT_EQ(kolkata.offset_at(sys("2026-07-01T00:00:00Z")), 5h + 30min);
    EXPECT_EQ(kolkata.to_local(sys("2026-11-22T04:30:00Z")), wall("2026-11-22T10:00:00"));

    const auto ny = TimeZone::locate("America/New_York");
    EXPECT_EQ(ny.offset_at(sys("2026-01-15T12:00:00Z")), -5h);
    EXPECT_EQ(ny.offset_at(sys("2026-07-15T12:00:00Z")), -4h);
    EXPECT_EQ(ny.offset_at(sys("2026-03-08T06:59:59Z")), -5h);
    EXPECT_EQ(ny.offset_at(sys("2026-03-08T07:00:00Z")), -4h);
    EXPECT_EQ(TimeZone::locate("US/Eastern").offset_at(sys("2026-07-15T12:00:00Z")), -4h);
    EXPECT_NE(ny, kolkata);
    EXPECT_EQ(ny, TimeZone::locate("America/New_York"));
}

TEST(TimeZone, LookupSaysSkippedAndRepeatedTimes) {
    const auto ny = TimeZone::locate("America/New_York");

    auto info = ny.lookup(wall("2026-03-08T02:30:00"));
    EXPECT_EQ(info.kind, LocalTimeInfo::Kind::nonexistent);
    EXPECT_EQ(info.instant, sys("2026-03-08T07:00:00Z"));  // 03:00 EDT
    EXPECT_EQ(info.transition, sys("2026-03-08T07:00:00Z"));
    EXPECT_EQ(info.offset_before, -5h);
    EXPECT_EQ(info.offset_after, -4h);

    info = ny.lookup(wall("2026-11-01T01:30:00"));
    EXPECT_EQ(info.kind, LocalTimeInfo::Kind::ambiguous);
    EXPECT_EQ(info.instant, sys("2026-11-01T05:30:00Z"));  // 01:30 EDT
    EXPECT_EQ(info.second, sys("2026-11-01T06:30:00Z"));   // 01:30 EST
    EXPECT_EQ(info.transition, sys("2026-11-01T06:00:00Z"));

    info = ny.lookup(wall("2026-07-04T12:00:00"));
    EXPECT_EQ(info.kind, LocalTimeInfo::Kind::unique);
    EXPECT_EQ(info.instant, sys("2026-07-04T16:00:00Z"));
    EXPECT_EQ(ny.resolve(wall("2026-07-04T12:00:00")), sys("2026-07-04T16:00:00Z"));
}

// --- America/New_York: spring forward 2026-03-08 02:00 EST -> 03:00 EDT ------------------

TEST(CronDaylightSaving, NewYorkSkippedTimeFiresAtTheChange) {
    EXPECT_EQ(next_fires("30 2 * * *", "2026-03-06T12:00:00-05:00", 3, "America/New_York"),
              (Strings{"2026-03-07T02:30:00-05:00",
                       "2026-03-08T03:00:00-04:00",
                       "2026-03-09T02:30:00-04:00"}));
}

TEST(CronDaylightSaving, NewYorkSeveralSkippedTimesFireOnce) {
    EXPECT_EQ(next_fires("*/15 2 * * *", "2026-03-08T00:00:00-05:00", 3, "America/New_York"),
              (Strings{"2026-03-08T03:00:00-04:00",
                       "2026-03-09T02:00:00-04:00",
                       "2026-03-09T02:15:00-04:00"}));
    // 02:00, 02:30 and 03:00 all land on 03:00 EDT: one firing.
    EXPECT_EQ(next_fires("0,30 2,3 * * *", "2026-03-08T00:00:00-05:00", 3, "America/New_York"),
              (Strings{"2026-03-08T03:00:00-04:00",
                       "2026-03-08T03:30:00-04:00",
                       "2026-03-09T02:00:00-04:00"}));
    EXPECT_EQ(next_fires("0 * * * *", "2026-03-08T00:30:00-05:00", 3, "America/New_York"),
              (Strings{"2026-03-08T01:00:00-05:00",
                       "2026-03-08T03:00:00-04:00",
                       "2026-03-08T04:00:00-04:00"}));
    // Asked from the change itself, the skipped times are already spent.
    EXPECT_EQ(next_fires("30 2 * * *", "2026-03-08T03:00:00-04:00", 1, "America/New_York"),
              (Strings{"2026-03-09T02:30:00-04:00"}));
}

// --- America/New_York: fall back 2026-11-01 02:00 EDT -> 01:00 EST -------------------------

TEST(CronDaylightSaving, NewYorkRepeatedTimeFiresOnceForAFixedTimeJob) {
    EXPECT_EQ(next_fires("30 1 * * *", "2026-10-31T12:00:00-04:00", 2, "America/New_York"),
              (Strings{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}));
}

TEST(CronDaylightSaving, NewYorkRepeatedTimeFiresInBothPassesForAWildcardJob) {
    EXPECT_EQ(next_fires("*/30 * * * *", "2026-11-01T00:45:00-04:00", 6, "America/New_York"),
              (Strings{"2026-11-01T01:00:00-04:00",
                       "2026-11-01T01:30:00-04:00",
                       "2026-11-01T01:00:00-05:00",
                       "2026-11-01T01:30:00-05:00",
                       "2026-11-01T02:00:00-05:00",
                       "2026-11-01T02:30:00-05:00"}));
}

TEST(CronDaylightSaving, NewYorkAskedDuringTheSecondPass) {
    // A wildcard job goes on with the second pass; a fixed-time one has had its turn.
    EXPECT_EQ(next_fires("*/30 * * * *", "2026-11-01T01:10:00-05:00", 3, "America/New_York"),
              (Strings{"2026-11-01T01:30:00-05:00",
                       "2026-11-01T02:00:00-05:00",
                       "2026-11-01T02:30:00-05:00"}));
    EXPECT_EQ(next_fires("*/30 * * * *", "2026-11-01T01:00:00-05:00", 1, "America/New_York"),
              (Strings{"2026-11-01T01:30:00-05:00"}));
    EXPECT_EQ(next_fires("30 1 * * *", "2026-11-01T01:10:00-05:00", 1, "America/New_York"),
              (Strings{"2026-11-02T01:30:00-05:00"}));
    EXPECT_EQ(next_fires("0,30 1 * * *", "2026-11-01T01:00:00-05:00", 1, "America/New_York"),
              (Strings{"2026-11-02T01:00:00-05:00"}));
    // From the last second of the first pass, the clock goes back to 01:00:00.
    EXPECT_EQ(next_fires("* * * * * *", "2026-11-01T01:59:59-04:00", 2, "America/New_York"),
              (Strings{"2026-11-01T01:00:00-05:00", "2026-11-01T01:00:01-05:00"}));
    EXPECT_EQ(next_fires("* * * * * *", "2026-11-01T01:59:59-05:00", 2, "America/New_York"),
              (Strings{"2026-11-01T02:00:00-05:00", "2026-11-01T02:00:01-05:00"}));
    // Fractions of a second: strictly after, never the same instant again.
    EXPECT_EQ(next_fires("* * * * * *", "2026-11-01T01:59:59.5-04:00", 1, "America/New_York"),
              (Strings{"2026-11-01T01:00:00-05:00"}));
}

// --- Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET -

TEST(CronDaylightSaving, Berlin) {
    EXPECT_EQ(next_fires("30 2 * * *", "2026-03-28T12:00:00+01:00", 2, "Europe/Berlin"),
              (Strings{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}));
    EXPECT_EQ(next_fires("30 2 * * *", "2026-10-24T12:00:00+02:00", 2, "Europe/Berlin"),
              (Strings{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}));
    EXPECT_EQ(next_fires("0 9 * * MON-FRI", "2026-03-27T10:00:00+01:00", 2, "Europe/Berlin"),
              (Strings{"2026-03-30T09:00:00+02:00", "2026-03-31T09:00:00+02:00"}));
}

// --- Australia/Lord_Howe: half-hour shifts. 2026-04-05 02:00 (+11) -> 01:30 (+10:30);
//     2026-10-04 02:00 (+10:30) -> 02:30 (+11). ---------------------------------------------

TEST(CronDaylightSaving, LordHoweHalfHourGap) {
    EXPECT_EQ(next_fires("15 2 * * *", "2026-10-03T12:00:00+10:30", 2, "Australia/Lord_Howe"),
              (Strings{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}));
    EXPECT_EQ(next_fires("45 2 * * *", "2026-10-03T12:00:00+10:30", 1, "Australia/Lord_Howe"),
              (Strings{"2026-10-04T02:45:00+11:00"}));
    EXPECT_EQ(next_fires("0 * * * *", "2026-10-04T00:30:00+10:30", 3, "Australia/Lord_Howe"),
              (Strings{"2026-10-04T01:00:00+10:30",
                       "2026-10-04T02:30:00+11:00",
                       "2026-10-04T03:00:00+11:00"}));
}

TEST(CronDaylightSaving, LordHoweHalfHourRepeat) {
    EXPECT_EQ(next_fires("45 1 * * *", "2026-04-04T12:00:00+11:00", 2, "Australia/Lord_Howe"),
              (Strings{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}));
    EXPECT_EQ(next_fires("*/10 * * * *", "2026-04-05T01:25:00+11:00", 7, "Australia/Lord_Howe"),
              (Strings{"2026-04-05T01:30:00+11:00",
                       "2026-04-05T01:40:00+11:00",
                       "2026-04-05T01:50:00+11:00",
                       "2026-04-05T01:30:00+10:30",
                       "2026-04-05T01:40:00+10:30",
                       "2026-04-05T01:50:00+10:30",
                       "2026-04-05T02:00:00+10:30"}));
}

// --- The 2024 changes back, by zone: wildcard jobs in both passes, fixed-time jobs once -----

// America/New_York 2024-11-03 02:00 EDT -> 01:00 EST: 01:00-01:59 twice.
TEST(CronRepeatedHour, NewYork) {
    const char* ny = "America/New_York";
    EXPECT_EQ(next_fires("0 * * * *", "2024-11-03T00:30:00-04:00", 4, ny),
              (Strings{"2024-11-03T01:00:00-04:00",
                       "2024-11-03T01:00:00-05:00",
                       "2024-11-03T02:00:00-05:00",
                       "2024-11-03T03:00:00-05:00"}));
    EXPECT_EQ(next_fires("*/30 * * * *", "2024-11-03T00:30:00-04:00", 6, ny),
              (Strings{"2024-11-03T01:00:00-04:00",
                       "2024-11-03T01:30:00-04:00",
                       "2024-11-03T01:00:00-05:00",
                       "2024-11-03T01:30:00-05:00",
                       "2024-11-03T02:00:00-05:00",
                       "2024-11-03T02:30:00-05:00"}));
    EXPECT_EQ(next_fires("*/15 * * * *", "2024-11-03T00:50:00-04:00", 10, ny),
              (Strings{"2024-11-03T01:00:00-04:00",
                       "2024-11-03T01:15:00-04:00",
                       "2024-11-03T01:30:00-04:00",
                       "2024-11-03T01:45:00-04:00",
                       "2024-11-03T01:00:00-05:00",
                       "2024-11-03T01:15:00-05:00",
                       "2024-11-03T01:30:00-05:00",
                       "2024-11-03T01:45:00-05:00",
                       "2024-11-03T02:00:00-05:00",
                       "2024-11-03T02:15:00-05:00"}));
    EXPECT_EQ(next_fires("15 * * * *", "2024-11-03T00:30:00-04:00", 4, ny),
              (Strings{"2024-11-03T01:15:00-04:00",
                       "2024-11-03T01:15:00-05:00",
                       "2024-11-03T02:15:00-05:00",
                       "2024-11-03T03:15:00-05:00"}));
    EXPECT_EQ(next_fires("0 */20 * * * *", "2024-11-03T00:50:00-04:00", 8, ny),
              (Strings{"2024-11-03T01:00:00-04:00",
                       "2024-11-03T01:20:00-04:00",
                       "2024-11-03T01:40:00-04:00",
                       "2024-11-03T01:00:00-05:00",
                       "2024-11-03T01:20:00-05:00",
                       "2024-11-03T01:40:00-05:00",
                       "2024-11-03T02:00:00-05:00",
                       "2024-11-03T02:20:00-05:00"}));
    // Fixed-time: the minute and hour fields do not start with `*`, lists and ranges included.
    EXPECT_EQ(next_fires("30 1 * * *", "2024-11-02T12:00:00-04:00", 3, ny),
              (Strings{"2024-11-03T01:30:00-04:00",
                       "2024-11-04T01:30:00-05:00",
                       "2024-11-05T01:30:00-05:00"}));
    EXPECT_EQ(next_fires("0,30 1 * * *", "2024-11-02T12:00:00-04:00", 4, ny),
              (Strings{"2024-11-03T01:00:00-04:00",
                       "2024-11-03T01:30:00-04:00",
                       "2024-11-04T01:00:00-05:00",
                       "2024-11-04T01:30:00-05:00"}));
    EXPECT_EQ(next_fires("0 1-3 * * *", "2024-11-02T12:00:00-04:00", 4, ny),
              (Strings{"2024-11-03T01:00:00-04:00",
                       "2024-11-03T02:00:00-05:00",
                       "2024-11-03T03:00:00-05:00",
                       "2024-11-04T01:00:00-05:00"}));
    // Six fields: the seconds field does not count, minute and hour decide.
    EXPECT_EQ(next_fires("*/20 30 1 * * *", "2024-11-03T01:29:50-04:00", 4, ny),
              (Strings{"2024-11-03T01:30:00-04:00",
                       "2024-11-03T01:30:20-04:00",
                       "2024-11-03T01:30:40-04:00",
                       "2024-11-04T01:30:00-05:00"}));
    // @hourly is `0 * * * *`: a wildcard job, as cronie flags it.
    EXPECT_EQ(next_fires("@hourly", "2024-11-03T00:30:00-04:00", 3, ny),
              (Strings{"2024-11-03T01:00:00-04:00",
                       "2024-11-03T01:00:00-05:00",
                       "2024-11-03T02:00:00-05:00"}));
}

// Europe/Berlin 2024-10-27 03:00 CEST -> 02:00 CET: 02:00-02:59 twice.
TEST(CronRepeatedHour, Berlin) {
    const char* berlin = "Europe/Berlin";
    EXPECT_EQ(next_fires("0 * * * *", "2024-10-27T01:30:00+02:00", 4, berlin),
              (Strings{"2024-10-27T02:00:00+02:00",
                       "2024-10-27T02:00:00+01:00",
                       "2024-10-27T03:00:00+01:00",
                       "2024-10-27T04:00:00+01:00"}));
    EXPECT_EQ(next_fires("*/30 * * * *", "2024-10-27T01:30:00+02:00", 5, berlin),
              (Strings{"2024-10-27T02:00:00+02:00",
                       "2024-10-27T02:30:00+02:00",
                       "2024-10-27T02:00:00+01:00",
                       "2024-10-27T02:30:00+01:00",
                       "2024-10-27T03:00:00+01:00"}));
    EXPECT_EQ(next_fires("*/15 * * * *", "2024-10-27T01:50:00+02:00", 10, berlin),
              (Strings{"2024-10-27T02:00:00+02:00",
                       "2024-10-27T02:15:00+02:00",
                       "2024-10-27T02:30:00+02:00",
                       "2024-10-27T02:45:00+02:00",
                       "2024-10-27T02:00:00+01:00",
                       "2024-10-27T02:15:00+01:00",
                       "2024-10-27T02:30:00+01:00",
                       "2024-10-27T02:45:00+01:00",
                       "2024-10-27T03:00:00+01:00",
                       "2024-10-27T03:15:00+01:00"}));
    EXPECT_EQ(next_fires("15 * * * *", "2024-10-27T01:30:00+02:00", 4, berlin),
              (Strings{"2024-10-27T02:15:00+02:00",
                       "2024-10-27T02:15:00+01:00",
                       "2024-10-27T03:15:00+01:00",
                       "2024-10-27T04:15:00+01:00"}));
    EXPECT_EQ(next_fires("0 */20 * * * *", "2024-10-27T01:50:00+02:00", 8, berlin),
              (Strings{"2024-10-27T02:00:00+02:00",
                       "2024-10-27T02:20:00+02:00",
                       "2024-10-27T02:40:00+02:00",
                       "2024-10-27T02:00:00+01:00",
                       "2024-10-27T02:20:00+01:00",
                       "2024-10-27T02:40:00+01:00",
                       "2024-10-27T03:00:00+01:00",
                       "2024-10-27T03:20:00+01:00"}));
    EXPECT_EQ(next_fires("30 2 * * *", "2024-10-26T12:00:00+02:00", 2, berlin),
              (Strings{"2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"}));
    EXPECT_EQ(next_fires("0,30 2 * * *", "2024-10-26T12:00:00+02:00", 4, berlin),
              (Strings{"2024-10-27T02:00:00+02:00",
                       "2024-10-27T02:30:00+02:00",
                       "2024-10-28T02:00:00+01:00",
                       "2024-10-28T02:30:00+01:00"}));
    // 01:30 is not repeated in Berlin: once a day, as always.
    EXPECT_EQ(next_fires("30 1 * * *", "2024-10-26T12:00:00+02:00", 2, berlin),
              (Strings{"2024-10-27T01:30:00+02:00", "2024-10-28T01:30:00+01:00"}));
}

// Europe/Athens 2024-10-27 04:00 EEST -> 03:00 EET: 03:00-03:59 twice.
TEST(CronRepeatedHour, Athens) {
    const char* athens = "Europe/Athens";
    EXPECT_EQ(next_fires("0 * * * *", "2024-10-27T02:30:00+03:00", 4, athens),
              (Strings{"2024-10-27T03:00:00+03:00",
                       "2024-10-27T03:00:00+02:00",
                       "2024-10-27T04:00:00+02:00",
                       "2024-10-27T05:00:00+02:00"}));
    EXPECT_EQ(next_fires("*/30 * * * *", "2024-10-27T02:30:00+03:00", 6, athens),
              (Strings{"2024-10-27T03:00:00+03:00",
                       "2024-10-27T03:30:00+03:00",
                       "2024-10-27T03:00:00+02:00",
                       "2024-10-27T03:30:00+02:00",
                       "2024-10-27T04:00:00+02:00",
                       "2024-10-27T04:30:00+02:00"}));
    EXPECT_EQ(next_fires("15 * * * *", "2024-10-27T02:30:00+03:00", 4, athens),
              (Strings{"2024-10-27T03:15:00+03:00",
                       "2024-10-27T03:15:00+02:00",
                       "2024-10-27T04:15:00+02:00",
                       "2024-10-27T05:15:00+02:00"}));
    EXPECT_EQ(next_fires("30 3 * * *", "2024-10-26T12:00:00+03:00", 2, athens),
              (Strings{"2024-10-27T03:30:00+03:00", "2024-10-28T03:30:00+02:00"}));
    EXPECT_EQ(next_fires("0,30 3 * * *", "2024-10-26T12:00:00+03:00", 4, athens),
              (Strings{"2024-10-27T03:00:00+03:00",
                       "2024-10-27T03:30:00+03:00",
                       "2024-10-28T03:00:00+02:00",
                       "2024-10-28T03:30:00+02:00"}));
    // A `*` minute is enough: every minute of 03:00-03:59, in both passes.
    EXPECT_EQ(next_fires("* 3 * * *", "2024-10-27T03:58:00+03:00", 4, athens),
              (Strings{"2024-10-27T03:59:00+03:00",
                       "2024-10-27T03:00:00+02:00",
                       "2024-10-27T03:01:00+02:00",
                       "2024-10-27T03:02:00+02:00"}));
    EXPECT_EQ(next_fires("* 3 * * *", "2024-10-27T03:58:00+02:00", 3, athens),
              (Strings{"2024-10-27T03:59:00+02:00",
                       "2024-10-28T03:00:00+02:00",
                       "2024-10-28T03:01:00+02:00"}));
    // `0-59` selects the same minutes as `*` but does not start with it: fixed-time.
    EXPECT_EQ(next_fires("0-59 3 * * *", "2024-10-27T03:58:00+03:00", 3, athens),
              (Strings{"2024-10-27T03:59:00+03:00",
                       "2024-10-28T03:00:00+02:00",
                       "2024-10-28T03:01:00+02:00"}));
}

// Australia/Lord_Howe 2024-04-07 02:00 (+11) -> 01:30 (+10:30): only 01:30-01:59 twice.
TEST(CronRepeatedHour, LordHoweHalfHour) {
    const char* lord_howe = "Australia/Lord_Howe";
    // No full hour falls in the repeated half hour.
    EXPECT_EQ(next_fires("0 * * * *", "2024-04-07T00:50:00+11:00", 3, lord_howe),
              (Strings{"2024-04-07T01:00:00+11:00",
                       "2024-04-07T02:00:00+10:30",
                       "2024-04-07T03:00:00+10:30"}));
    EXPECT_EQ(next_fires("*/30 * * * *", "2024-04-07T00:50:00+11:00", 5, lord_howe),
              (Strings{"2024-04-07T01:00:00+11:00",
                       "2024-04-07T01:30:00+11:00",
                       "2024-04-07T01:30:00+10:30",
                       "2024-04-07T02:00:00+10:30",
                       "2024-04-07T02:30:00+10:30"}));
    EXPECT_EQ(next_fires("*/15 * * * *", "2024-04-07T00:50:00+11:00", 7, lord_howe),
              (Strings{"2024-04-07T01:00:00+11:00",
                       "2024-04-07T01:15:00+11:00",
                       "2024-04-07T01:30:00+11:00",
                       "2024-04-07T01:45:00+11:00",
                       "2024-04-07T01:30:00+10:30",
                       "2024-04-07T01:45:00+10:30",
                       "2024-04-07T02:00:00+10:30"}));
    EXPECT_EQ(next_fires("15 * * * *", "2024-04-07T00:50:00+11:00", 3, lord_howe),
              (Strings{"2024-04-07T01:15:00+11:00",
                       "2024-04-07T02:15:00+10:30",
                       "2024-04-07T03:15:00+10:30"}));
    EXPECT_EQ(next_fires("45 * * * *", "2024-04-07T00:50:00+11:00", 3, lord_howe),
              (Strings{"2024-04-07T01:45:00+11:00",
                       "2024-04-07T01:45:00+10:30",
                       "2024-04-07T02:45:00+10:30"}));
    EXPECT_EQ(next_fires("0 */20 * * * *", "2024-04-07T01:10:00+11:00", 5, lord_howe),
              (Strings{"2024-04-07T01:20:00+11:00",
                       "2024-04-07T01:40:00+11:00",
                       "2024-04-07T01:40:00+10:30",
                       "2024-04-07T02:00:00+10:30",
                       "2024-04-07T02:20:00+10:30"}));
    EXPECT_EQ(next_fires("30 1 * * *", "2024-04-06T12:00:00+11:00", 2, lord_howe),
              (Strings{"2024-04-07T01:30:00+11:00", "2024-04-08T01:30:00+10:30"}));
    // 01:00 is not repeated, 01:30 is: each once.
    EXPECT_EQ(next_fires("0,30 1 * * *", "2024-04-06T12:00:00+11:00", 4, lord_howe),
              (Strings{"2024-04-07T01:00:00+11:00",
                       "2024-04-07T01:30:00+11:00",
                       "2024-04-08T01:00:00+10:30",
                       "2024-04-08T01:30:00+10:30"}));
}

// The 2024 changes forward keep firing once, at the first valid instant after a skipped time,
// for either kind of job.
TEST(CronSkippedHour, FiresOnceAtTheChangeIn2024) {
    // America/New_York 2024-03-10 02:00 EST -> 03:00 EDT.
    EXPECT_EQ(next_fires("30 2 * * *", "2024-03-09T12:00:00-05:00", 2, "America/New_York"),
              (Strings{"2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"}));
    EXPECT_EQ(next_fires("*/30 * * * *", "2024-03-10T01:00:00-05:00", 3, "America/New_York"),
              (Strings{"2024-03-10T01:30:00-05:00",
                       "2024-03-10T03:00:00-04:00",
                       "2024-03-10T03:30:00-04:00"}));
    EXPECT_EQ(next_fires("15 * * * *", "2024-03-10T01:00:00-05:00", 3, "America/New_York"),
              (Strings{"2024-03-10T01:15:00-05:00",
                       "2024-03-10T03:00:00-04:00",
                       "2024-03-10T03:15:00-04:00"}));
    // Europe/Berlin 2024-03-31 02:00 CET -> 03:00 CEST.
    EXPECT_EQ(next_fires("0 * * * *", "2024-03-31T00:30:00+01:00", 3, "Europe/Berlin"),
              (Strings{"2024-03-31T01:00:00+01:00",
                       "2024-03-31T03:00:00+02:00",
                       "2024-03-31T04:00:00+02:00"}));
    EXPECT_EQ(next_fires("*/15 * * * *", "2024-03-31T01:30:00+01:00", 4, "Europe/Berlin"),
              (Strings{"2024-03-31T01:45:00+01:00",
                       "2024-03-31T03:00:00+02:00",
                       "2024-03-31T03:15:00+02:00",
                       "2024-03-31T03:30:00+02:00"}));
    // Europe/Athens 2024-03-31 03:00 EET -> 04:00 EEST.
    EXPECT_EQ(next_fires("30 3 * * *", "2024-03-30T12:00:00+02:00", 2, "Europe/Athens"),
              (Strings{"2024-03-31T04:00:00+03:00", "2024-04-01T03:30:00+03:00"}));
    // Australia/Lord_Howe 2024-10-06 02:00 (+10:30) -> 02:30 (+11).
    EXPECT_EQ(next_fires("15 2 * * *", "2024-10-05T12:00:00+10:30", 2, "Australia/Lord_Howe"),
              (Strings{"2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"}));
    EXPECT_EQ(next_fires("*/15 * * * *", "2024-10-06T01:50:00+10:30", 3, "Australia/Lord_Howe"),
              (Strings{"2024-10-06T02:30:00+11:00",
                       "2024-10-06T02:45:00+11:00",
                       "2024-10-06T03:00:00+11:00"}));
}

// The rule stated on real time, checked minute by minute: walking forward, an instant fires
// when its wall-clock time matches, except for a fixed-time job in a second pass (a wall-clock
// time already seen); an instant where the clock jumped forward also fires when a wall-clock
// time it skipped matches. Only offset_at is used, not lookup or next_local. Zones with one-
// and two-hour changes (Antarctica/Troll), half-hour ones, changes at midnight
// (America/Santiago) and negative daylight saving (Europe/Dublin), 2024 and 2025.
std::vector<sys_seconds> walked_fires(const CronExpression& cron,
                                      const TimeZone& zone,
                                      sys_seconds from,
                                      sys_seconds to) {
    std::vector<sys_seconds> out;
    auto local = [&](sys_seconds u) { return zone.to_local(u); };
    const sys_seconds start = std::chrono::floor<std::chrono::minutes>(from - 24h);
    local_seconds seen = local(start);
    for (sys_seconds u = start + 1min; u <= to; u += 1min) {
        const local_seconds here = local(u);
        const local_seconds before = local(u - 1min);
        bool fires = false;
        if (here > seen) {
            fires = cron.matches(here);
            for (auto skipped = before + 1min; skipped < here && !fires; skipped += 1min) {
                fires = cron.matches(skipped);
            }
        } else {
            fires = cron.minute_or_hour_star() && cron.matches(here);
        }
        seen = std::max(seen, here);
        if (fires && u > from) out.push_back(u);
    }
    return out;
}

TEST(CronDaylightSaving, AgreesWithAMinuteByMinuteWalkOfRealTime) {
    const std::vector<std::string> zones = {"America/New_York",
                                            "Europe/Berlin",
                                            "Europe/Athens",
                                            "Australia/Lord_Howe",
                                            "Pacific/Chatham",
                                            "America/Santiago",
                                            "Europe/Dublin",
                                            "Antarctica/Troll",
                                            "America/St_Johns"};
    const std::vector<std::string> expressions = {"0 * * * *",
                                                  "*/30 * * * *",
                                                  "*/15 * * * *",
                                                  "15 * * * *",
                                                  "45 * * * *",
                                                  "* * * * *",
                                                  "*/7 0-4 * * *",
                                                  "5 */2 * * *",
                                                  "* 2 * * *",
                                                  "30 1 * * *",
                                                  "0,30 1 * * *",
                                                  "0 1-3 * * *",
                                                  "0,15,30,45 * * * *",
                                                  "0-59/20 0-5 * * *",
                                                  "30 2 * * *",
                                                  "0 0 * * *",
                                                  "59 23 * * *",
                                                  "@hourly"};
    int changes = 0;
    for (const auto& name : zones) {
        const auto zone = TimeZone::locate(name);
        // Each change of offset in 2024-2025, found hour by hour, then a day either side of it.
        for (sys_seconds h = sys("2024-01-01T00:00:00Z"); h < sys("2026-01-01T00:00:00Z");
             h += 1h) {
            if (zone.offset_at(h) == zone.offset_at(h + 1h)) continue;
            ++changes;
            const sys_seconds from = h - 24h - 30s;  // odd seconds: never on a fire time
            const sys_seconds to = h + 24h;
            for (const auto& text : expressions) {
                const auto cron = CronExpression::parse(text);
                std::vector<sys_seconds> ours;
                for (auto t = std::optional<std::chrono::system_clock::time_point>(from);;) {
                    t = cron.next_after(*t, zone);
                    if (!t || *t > to) break;
                    ours.push_back(std::chrono::floor<seconds>(*t));
                }
                const auto expected = walked_fires(cron, zone, from, to);
                if (ours != expected) {
                    // From the first difference on, a few of each.
                    const auto [a, b] =
                        std::mismatch(ours.begin(), ours.end(), expected.begin(), expected.end());
                    auto some = [&](auto it, auto end) {
                        std::string out;
                        for (int i = 0; i < 4 && it != end; ++i, ++it) {
                            out += format_iso8601(*it, zone) + " ";
                        }
                        return out;
                    };
                    ADD_FAILURE() << name << " \"" << text << "\" around "
                                  << format_iso8601(h, zone)
                                  << "\n  ours:   " << some(a, ours.end())
                                  << "\n  walked: " << some(b, expected.end());
                }
            }
        }
    }
    EXPECT_GE(changes, 30);
}

// --- Asia/Kolkata: +05:30 all year, nothing skipped or repeated ---------------------------

TEST(CronDaylightSaving, KolkataHasNone) {
    EXPECT_EQ(next_fires("0 9 * * *", "2026-11-22T10:00:00+05:30", 3, "Asia/Kolkata"),
              (Strings{"2026-11-23T09:00:00+05:30",
                       "2026-11-24T09:00:00+05:30",
                       "2026-11-25T09:00:00+05:30"}));
    EXPECT_EQ(next_fires("30 2 * * *", "2026-03-07T12:00:00+05:30", 2, "Asia/Kolkata"),
              (Strings{"2026-03-08T02:30:00+05:30", "2026-03-09T02:30:00+05:30"}));
    EXPECT_EQ(next_fires("0 8 * * MON", "2026-11-22T10:00:00+05:30", 1, "Asia/Kolkata"),
              (Strings{"2026-11-23T08:00:00+05:30"}));
}

// --- After 2037: Debian's zone files list transitions up to 2037; the POSIX rule at the end
//     of each file takes over after that. ---------------------------------------------------

TEST(TimeZone, DaylightSavingContinuesAfter2037) {
    const auto ny = TimeZone::locate("America/New_York");
    EXPECT_EQ(ny.offset_at(sys("2040-07-01T12:00:00Z")), -4h);
    EXPECT_EQ(ny.offset_at(sys("2040-03-11T06:59:59Z")), -5h);
    EXPECT_EQ(ny.offset_at(sys("2040-03-11T07:00:00Z")), -4h);
    EXPECT_EQ(ny.offset_at(sys("2040-11-04T05:59:59Z")), -4h);
    EXPECT_EQ(ny.offset_at(sys("2040-11-04T06:00:00Z")), -5h);
    EXPECT_EQ(ny.offset_at(sys("2200-07-01T12:00:00Z")), -4h);
    EXPECT_EQ(next_fires("30 2 * * *", "2040-03-10T12:00:00-05:00", 2, "America/New_York"),
              (Strings{"2040-03-11T03:00:00-04:00", "2040-03-12T02:30:00-04:00"}));
    EXPECT_EQ(next_fires("30 1 * * *", "2040-11-03T12:00:00-04:00", 2, "America/New_York"),
              (Strings{"2040-11-04T01:30:00-04:00", "2040-11-05T01:30:00-05:00"}));
    EXPECT_EQ(next_fires("0 * * * *", "2040-11-04T00:30:00-04:00", 3, "America/New_York"),
              (Strings{"2040-11-04T01:00:00-04:00",
                       "2040-11-04T01:00:00-05:00",
                       "2040-11-04T02:00:00-05:00"}));

    const auto lord_howe = TimeZone::locate("Australia/Lord_Howe");
    EXPECT_EQ(lord_howe.offset_at(sys("2040-01-15T00:00:00Z")), 11h);
    EXPECT_EQ(lord_howe.offset_at(sys("2040-07-15T00:00:00Z")), 10h + 30min);

    const auto berlin = TimeZone::locate("Europe/Berlin");
    EXPECT_EQ(berlin.offset_at(sys("2045-03-26T00:59:59Z")), 1h);
    EXPECT_EQ(berlin.offset_at(sys("2045-03-26T01:00:00Z")), 2h);
    EXPECT_EQ(berlin.lookup(wall("2045-03-26T02:30:00")).kind, LocalTimeInfo::Kind::nonexistent);
    EXPECT_EQ(berlin.lookup(wall("2045-10-29T02:30:00")).kind, LocalTimeInfo::Kind::ambiguous);
}

// --- ISO 8601 ------------------------------------------------------------------------------

TEST(Iso8601, Formats) {
    EXPECT_EQ(format_iso8601(at("2026-12-01T09:00:00Z")), "2026-12-01T09:00:00Z");
    EXPECT_EQ(format_iso8601(at("2026-12-01T09:00:00.5Z")), "2026-12-01T09:00:00.5Z");
    EXPECT_EQ(format_iso8601(at("2026-12-01T09:00:00.123456789Z")),
              "2026-12-01T09:00:00.123456789Z");
    EXPECT_EQ(format_iso8601(at("2026-11-23T03:30:00Z"), TimeZone::locate("Asia/Kolkata")),
              "2026-11-23T09:00:00+05:30");
    EXPECT_EQ(format_iso8601(at("2026-11-23T03:30:00Z"), TimeZone()), "2026-11-23T03:30:00+00:00");
    EXPECT_EQ(format_iso8601(at("2026-01-01T00:00:00Z"), TimeZone::locate("America/St_Johns")),
              "2025-12-31T20:30:00-03:30");
    EXPECT_EQ(format_iso8601(at("1960-06-01T00:00:00Z")), "1960-06-01T00:00:00Z");
}

TEST(Iso8601, Parses) {
    const auto expected = at("2026-12-01T03:30:00Z");
    for (const char* text : {"2026-12-01T09:00:00+05:30",
                             "2026-12-01T09:00+05:30",
                             "2026-12-01t03:30:00z",
                             "2026-12-01 03:30:00Z",
                             "2026-12-01T09:00:00+0530",
                             "2026-12-01T08:30:00+05",
                             "2026-11-30T22:30:00-05:00",
                             "2026-12-01T03:30:00.000Z"}) {
        const auto r = try_parse_iso8601(text);
        ASSERT_TRUE(r) << text << ": " << r.error().what();
        EXPECT_EQ(*r, expected) << text;
    }
    EXPECT_EQ(parse_iso8601("2026-12-01T03:30:00,25Z") - expected, 250ms);
    EXPECT_EQ(format_iso8601(parse_iso8601("2026-12-01T03:30:00.1234567891Z")),
              "2026-12-01T03:30:00.123456789Z");
}

TEST(Iso8601, RejectsWithAReason) {
    struct Case {
        const char* text;
        const char* message;
    };
    for (const auto& c : {
             Case{"2026-12-01T09:00:00",
                  "invalid time \"2026-12-01T09:00:00\": it has no UTC offset; add Z or one such "
                  "as +05:30"},
             Case{"2026-13-01T09:00:00Z",
                  "invalid time \"2026-13-01T09:00:00Z\": month 13 is out of range 1-12"},
             Case{"2026-02-29T09:00:00Z",
                  "invalid time \"2026-02-29T09:00:00Z\": day 29 is out of range 1-28"},
             Case{"2026-12-01T24:00:00Z",
                  "invalid time \"2026-12-01T24:00:00Z\": hour 24 is out of range 0-23"},
             Case{"2026-12-01T09:00:00+25:00",
                  "invalid time \"2026-12-01T09:00:00+25:00\": its UTC offset is out of range"},
             Case{"tomorrow",
                  "invalid time \"tomorrow\": expected ISO 8601 like 2026-12-01T09:00:00Z or "
                  "2026-12-01T09:00:00+05:30"},
             Case{"2026-12-01T09:00:00Zjunk",
                  "invalid time \"2026-12-01T09:00:00Zjunk\": expected ISO 8601 like "
                  "2026-12-01T09:00:00Z or 2026-12-01T09:00:00+05:30"},
             Case{"2300-01-01T00:00:00Z",
                  "invalid time \"2300-01-01T00:00:00Z\": it is outside the range this clock "
                  "can represent (1678-2261)"},
         }) {
        const auto r = try_parse_iso8601(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code(), ScheduleErrc::invalid_time);
        EXPECT_STREQ(r.error().what(), c.message);
    }
    EXPECT_THROW((void)parse_iso8601("nope"), ScheduleError);
}

}  // namespace
}  // namespace afterwork
