// SPDX-License-Identifier: MIT
// CronExpression: every field form, names, macros, L, the Vixie day-of-month/day-of-week rule,
// calendar edges (leap years, short months, year ends), the seconds field, and the errors.
// All fire times are in UTC here; time zones are in time_zone_test.cpp.

#include <afterwork/schedule/cron_expression.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "unit/schedule/schedule_test_support.hpp"

namespace afterwork {
namespace {

using testing::at;
using testing::next_fires;
using Strings = std::vector<std::string>;

std::uint64_t bits_of(std::initializer_list<int> values) {
    std::uint64_t bits = 0;
    for (int v : values) bits |= std::uint64_t{1} << v;
    return bits;
}

std::uint64_t range_bits(int lo, int hi, int step = 1) {
    std::uint64_t bits = 0;
    for (int v = lo; v <= hi; v += step) bits |= std::uint64_t{1} << v;
    return bits;
}

std::uint64_t field(std::string_view expression, CronField f) {
    return CronExpression::parse(expression).bits(f);
}

TEST(CronExpression, StarSelectsTheWholeRange) {
    const auto e = CronExpression::parse("* * * * *");
    EXPECT_EQ(e.bits(CronField::second), 1u);  // five fields: second 0
    EXPECT_EQ(e.bits(CronField::minute), range_bits(0, 59));
    EXPECT_EQ(e.bits(CronField::hour), range_bits(0, 23));
    EXPECT_EQ(e.bits(CronField::day_of_month), range_bits(1, 31));
    EXPECT_EQ(e.bits(CronField::month), range_bits(1, 12));
    EXPECT_EQ(e.bits(CronField::day_of_week), range_bits(0, 6));
    EXPECT_TRUE(e.day_of_month_star());
    EXPECT_TRUE(e.day_of_week_star());
    EXPECT_FALSE(e.has_seconds());
}

TEST(CronExpression, ValuesRangesListsAndSteps) {
    EXPECT_EQ(field("7 * * * *", CronField::minute), bits_of({7}));
    EXPECT_EQ(field("10-14 * * * *", CronField::minute), range_bits(10, 14));
    EXPECT_EQ(field("1,5,9 * * * *", CronField::minute), bits_of({1, 5, 9}));
    EXPECT_EQ(field("*/15 * * * *", CronField::minute), bits_of({0, 15, 30, 45}));
    EXPECT_EQ(field("10-50/5 * * * *", CronField::minute), range_bits(10, 50, 5));
    EXPECT_EQ(field("5/10 * * * *", CronField::minute), range_bits(5, 55, 10));
    EXPECT_EQ(field("0 */6 * * *", CronField::hour), bits_of({0, 6, 12, 18}));
    EXPECT_EQ(field("*/90 * * * *", CronField::minute), bits_of({0}));  // step past the range
    EXPECT_EQ(field("1-5,20-22,40/10 * * * *", CronField::minute),
              range_bits(1, 5) | range_bits(20, 22) | bits_of({40, 50}));
    EXPECT_EQ(field("0 0 */10 * *", CronField::day_of_month), bits_of({1, 11, 21, 31}));
    EXPECT_EQ(field("0 0 1 */4 *", CronField::month), bits_of({1, 5, 9}));
    EXPECT_EQ(field("05 07 * * *", CronField::minute), bits_of({5}));  // leading zeros
}

TEST(CronExpression, MonthAndWeekdayNamesInAnyCase) {
    EXPECT_EQ(field("0 0 1 JAN *", CronField::month), bits_of({1}));
    EXPECT_EQ(field("0 0 1 jan,Jul,DEC *", CronField::month), bits_of({1, 7, 12}));
    EXPECT_EQ(field("0 0 1 MAR-may *", CronField::month), range_bits(3, 5));
    EXPECT_EQ(field("0 0 1 JAN-DEC/3 *", CronField::month), bits_of({1, 4, 7, 10}));
    EXPECT_EQ(field("0 0 * * mon", CronField::day_of_week), bits_of({1}));
    EXPECT_EQ(field("0 0 * * MON-FRI", CronField::day_of_week), range_bits(1, 5));
    EXPECT_EQ(field("0 0 * * Sun,sat", CronField::day_of_week), bits_of({0, 6}));
}

TEST(CronExpression, SevenIsSundayToo) {
    EXPECT_EQ(field("0 0 * * 7", CronField::day_of_week), bits_of({0}));
    EXPECT_EQ(field("0 0 * * 5-7", CronField::day_of_week), bits_of({0, 5, 6}));
    EXPECT_EQ(field("0 0 * * FRI-SUN", CronField::day_of_week), bits_of({0, 5, 6}));
    EXPECT_EQ(field("0 0 * * 0-7", CronField::day_of_week), range_bits(0, 6));
    // For steps `*` in day-of-week is 0-7 (Vixie cron, croniter): */2 is Sun Tue Thu Sat.
    EXPECT_EQ(field("0 0 * * */2", CronField::day_of_week), bits_of({0, 2, 4, 6}));
    EXPECT_EQ(field("0 0 * * 1/2", CronField::day_of_week), bits_of({0, 1, 3, 5}));
    // 2026-03-01 is a Sunday.
    EXPECT_EQ(next_fires("0 12 * * 7", "2026-02-26T00:00:00Z", 2),
              (Strings{"2026-03-01T12:00:00+00:00", "2026-03-08T12:00:00+00:00"}));
}

TEST(CronExpression, Macros) {
    struct Case {
        const char* macro;
        const char* fields;
    };
    for (const auto& c : {Case{"@yearly", "0 0 1 1 *"},
                          Case{"@annually", "0 0 1 1 *"},
                          Case{"@monthly", "0 0 1 * *"},
                          Case{"@weekly", "0 0 * * 0"},
                          Case{"@daily", "0 0 * * *"},
                          Case{"@midnight", "0 0 * * *"},
                          Case{"@hourly", "0 * * * *"},
                          Case{"@DAILY", "0 0 * * *"}}) {
        const auto macro = CronExpression::parse(c.macro);
        const auto fields = CronExpression::parse(c.fields);
        EXPECT_EQ(macro.text(), c.macro);
        for (auto f : {CronField::second,
                       CronField::minute,
                       CronField::hour,
                       CronField::day_of_month,
                       CronField::month,
                       CronField::day_of_week}) {
            EXPECT_EQ(macro.bits(f), fields.bits(f)) << c.macro;
        }
        EXPECT_EQ(macro.days_or(), fields.days_or()) << c.macro;
    }
    EXPECT_EQ(next_fires("@weekly", "2026-11-22T10:00:00Z", 2),  // a Sunday
              (Strings{"2026-11-29T00:00:00+00:00", "2026-12-06T00:00:00+00:00"}));
    EXPECT_EQ(next_fires("@yearly", "2026-11-22T10:00:00Z", 1),
              (Strings{"2027-01-01T00:00:00+00:00"}));
}

TEST(CronExpression, TextCollapsesBlanks) {
    EXPECT_EQ(CronExpression::parse("  0\t9  * *   MON-FRI ").text(), "0 9 * * MON-FRI");
    EXPECT_EQ(CronExpression::parse("0 9 * * *"), CronExpression::parse(" 0 9 * * * "));
    EXPECT_NE(CronExpression::parse("0 9 * * *"), CronExpression::parse("0 10 * * *"));
}

TEST(CronExpression, NextFireIsStrictlyAfter) {
    EXPECT_EQ(next_fires("0 9 * * *", "2026-11-22T10:00:00Z", 3),
              (Strings{"2026-11-23T09:00:00+00:00",
                       "2026-11-24T09:00:00+00:00",
                       "2026-11-25T09:00:00+00:00"}));
    // Exactly on a fire time: the next one. A fraction before: that one.
    EXPECT_EQ(next_fires("0 9 * * *", "2026-11-23T09:00:00Z", 1),
              (Strings{"2026-11-24T09:00:00+00:00"}));
    EXPECT_EQ(next_fires("0 9 * * *", "2026-11-23T08:59:59.999Z", 1),
              (Strings{"2026-11-23T09:00:00+00:00"}));
    EXPECT_EQ(next_fires("0 9 * * *", "2026-11-23T09:00:00.5Z", 1),
              (Strings{"2026-11-24T09:00:00+00:00"}));
    EXPECT_EQ(next_fires("*/15 * * * *", "2026-11-22T23:50:00Z", 3),
              (Strings{"2026-11-23T00:00:00+00:00",
                       "2026-11-23T00:15:00+00:00",
                       "2026-11-23T00:30:00+00:00"}));
}

TEST(CronExpression, LastDayOfMonth) {
    EXPECT_TRUE(CronExpression::parse("0 0 L * *").has_last_day_of_month());
    EXPECT_EQ(next_fires("0 0 L * *", "2024-01-15T00:00:00Z", 5),
              (Strings{"2024-01-31T00:00:00+00:00",
                       "2024-02-29T00:00:00+00:00",
                       "2024-03-31T00:00:00+00:00",
                       "2024-04-30T00:00:00+00:00",
                       "2024-05-31T00:00:00+00:00"}));
    EXPECT_EQ(next_fires("0 0 L 2 *", "2025-01-01T00:00:00Z", 2),
              (Strings{"2025-02-28T00:00:00+00:00", "2026-02-28T00:00:00+00:00"}));
    EXPECT_EQ(next_fires("30 18 1,L * *", "2026-04-15T00:00:00Z", 3),
              (Strings{"2026-04-30T18:30:00+00:00",
                       "2026-05-01T18:30:00+00:00",
                       "2026-05-31T18:30:00+00:00"}));
    // N-L: through the last day.
    EXPECT_EQ(field("0 0 28-L * *", CronField::day_of_month), range_bits(28, 31));
    EXPECT_EQ(next_fires("0 0 28-L * *", "2026-02-27T00:00:00Z", 3),
              (Strings{"2026-02-28T00:00:00+00:00",
                       "2026-03-28T00:00:00+00:00",
                       "2026-03-29T00:00:00+00:00"}));
    // L with a restricted day-of-week: either matches (OR).
    EXPECT_EQ(next_fires("0 0 L * MON", "2026-11-24T00:00:00Z", 3),
              (Strings{"2026-11-30T00:00:00+00:00",
                       "2026-12-07T00:00:00+00:00",
                       "2026-12-14T00:00:00+00:00"}));
}

// Vixie cron: when neither day field starts with `*`, a day matches if either matches.
TEST(CronExpression, DayOfMonthOrDayOfWeekWhenBothRestricted) {
    const auto e = CronExpression::parse("0 0 1,15 * MON");
    EXPECT_TRUE(e.days_or());
    // 2026-06: the 1st is a Monday; Mondays 1, 8, 15, 22, 29.
    EXPECT_EQ(next_fires("0 0 1,15 * MON", "2026-05-31T00:00:00Z", 6),
              (Strings{"2026-06-01T00:00:00+00:00",
                       "2026-06-08T00:00:00+00:00",
                       "2026-06-15T00:00:00+00:00",
                       "2026-06-22T00:00:00+00:00",
                       "2026-06-29T00:00:00+00:00",
                       "2026-07-01T00:00:00+00:00"}));
    // 1-31 does not start with `*`: every day matches day-of-month, so every day fires.
    EXPECT_EQ(next_fires("0 0 1-31 * MON", "2026-06-01T12:00:00Z", 3),
              (Strings{"2026-06-02T00:00:00+00:00",
                       "2026-06-03T00:00:00+00:00",
                       "2026-06-04T00:00:00+00:00"}));
}

TEST(CronExpression, DayFieldStartingWithStarMakesTheOtherDecide) {
    // `*/2` starts with `*`: both must match — odd days that are Mondays (cronie's DOM_STAR).
    const auto e = CronExpression::parse("0 0 */2 * MON");
    EXPECT_FALSE(e.days_or());
    EXPECT_EQ(next_fires("0 0 */2 * MON", "2026-06-01T12:00:00Z", 4),
              (Strings{"2026-06-15T00:00:00+00:00",
                       "2026-06-29T00:00:00+00:00",
                       "2026-07-13T00:00:00+00:00",
                       "2026-07-27T00:00:00+00:00"}));
    EXPECT_EQ(next_fires("0 0 13 * *", "2026-01-01T00:00:00Z", 2),
              (Strings{"2026-01-13T00:00:00+00:00", "2026-02-13T00:00:00+00:00"}));
    EXPECT_EQ(next_fires("0 0 * * FRI", "2026-11-22T00:00:00Z", 2),
              (Strings{"2026-11-27T00:00:00+00:00", "2026-12-04T00:00:00+00:00"}));
    // Friday the 13th needs both: `*`-led day-of-month is not how to say it in cron, and the
    // OR rule makes `0 0 13 * FRI` fire on every 13th and every Friday.
    EXPECT_EQ(next_fires("0 0 13 * FRI", "2026-11-22T00:00:00Z", 3),
              (Strings{"2026-11-27T00:00:00+00:00",
                       "2026-12-04T00:00:00+00:00",
                       "2026-12-11T00:00:00+00:00"}));
}

TEST(CronExpression, LeapDayFiresOnlyInLeapYears) {
    EXPECT_EQ(next_fires("0 0 29 2 *", "2026-01-01T00:00:00Z", 4),
              (Strings{"2028-02-29T00:00:00+00:00",
                       "2032-02-29T00:00:00+00:00",
                       "2036-02-29T00:00:00+00:00",
                       "2040-02-29T00:00:00+00:00"}));
    // 2100 is not a leap year: eight years between two.
    EXPECT_EQ(next_fires("0 0 29 2 *", "2096-03-01T00:00:00Z", 1),
              (Strings{"2104-02-29T00:00:00+00:00"}));
    // 2000 was one (divisible by 400).
    EXPECT_EQ(next_fires("0 0 29 2 *", "1999-01-01T00:00:00Z", 1),
              (Strings{"2000-02-29T00:00:00+00:00"}));
}

TEST(CronExpression, MonthsWithoutTheDayAreSkipped) {
    EXPECT_EQ(next_fires("0 0 31 * *", "2026-01-31T00:00:00Z", 6),
              (Strings{"2026-03-31T00:00:00+00:00",
                       "2026-05-31T00:00:00+00:00",
                       "2026-07-31T00:00:00+00:00",
                       "2026-08-31T00:00:00+00:00",
                       "2026-10-31T00:00:00+00:00",
                       "2026-12-31T00:00:00+00:00"}));
    EXPECT_EQ(next_fires("0 0 30 * *", "2026-01-30T00:00:00Z", 2),
              (Strings{"2026-03-30T00:00:00+00:00", "2026-04-30T00:00:00+00:00"}));
    // Croniter 1.3.5 skips March 1 here (see croniter_diff_test.cpp); cron does not.
    EXPECT_EQ(next_fires("0 0 1,30 * *", "2023-02-27T12:00:00Z", 2),
              (Strings{"2023-03-01T00:00:00+00:00", "2023-03-30T00:00:00+00:00"}));
}

TEST(CronExpression, YearBoundaries) {
    EXPECT_EQ(next_fires("59 23 31 12 *", "2026-12-31T23:59:00Z", 1),
              (Strings{"2027-12-31T23:59:00+00:00"}));
    EXPECT_EQ(next_fires("0 0 1 1 *", "2026-12-31T23:59:59.999Z", 1),
              (Strings{"2027-01-01T00:00:00+00:00"}));
    EXPECT_EQ(next_fires("*/20 * * * *", "2026-12-31T23:45:00Z", 2),
              (Strings{"2027-01-01T00:00:00+00:00", "2027-01-01T00:20:00+00:00"}));
    EXPECT_EQ(next_fires("0 12 * DEC,JAN MON", "2026-12-28T13:00:00Z", 2),
              (Strings{"2027-01-04T12:00:00+00:00", "2027-01-11T12:00:00+00:00"}));
}

TEST(CronExpression, SecondsField) {
    const auto e = CronExpression::parse("*/20 * * * * *");
    EXPECT_TRUE(e.has_seconds());
    EXPECT_EQ(e.bits(CronField::second), bits_of({0, 20, 40}));
    EXPECT_EQ(next_fires("*/20 * * * * *", "2026-11-22T10:00:05Z", 4),
              (Strings{"2026-11-22T10:00:20+00:00",
                       "2026-11-22T10:00:40+00:00",
                       "2026-11-22T10:01:00+00:00",
                       "2026-11-22T10:01:20+00:00"}));
    EXPECT_EQ(next_fires("30 0 9 * * MON-FRI", "2026-11-20T09:00:30Z", 2),  // a Friday
              (Strings{"2026-11-23T09:00:30+00:00", "2026-11-24T09:00:30+00:00"}));
    EXPECT_EQ(next_fires("59 59 23 31 12 *", "2026-06-01T00:00:00Z", 1),
              (Strings{"2026-12-31T23:59:59+00:00"}));
}

TEST(CronExpression, MatchesWallClockTimes) {
    const auto e = CronExpression::parse("0 9 * * MON-FRI");
    auto local = [](std::string_view iso) {
        return std::chrono::local_seconds(
            std::chrono::floor<std::chrono::seconds>(at(iso)).time_since_epoch());
    };
    EXPECT_TRUE(e.matches(local("2026-11-23T09:00:00Z")));   // Monday
    EXPECT_FALSE(e.matches(local("2026-11-22T09:00:00Z")));  // Sunday
    EXPECT_FALSE(e.matches(local("2026-11-23T09:01:00Z")));
    EXPECT_FALSE(e.matches(local("2026-11-23T09:00:01Z")));
    const auto next = e.next_local(local("2026-11-21T00:00:00Z"));
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, local("2026-11-23T09:00:00Z"));
}

TEST(CronExpression, BeforeTheEpoch) {
    EXPECT_EQ(next_fires("0 0 1 1 *", "1969-06-01T00:00:00Z", 2),
              (Strings{"1970-01-01T00:00:00+00:00", "1971-01-01T00:00:00+00:00"}));
}

TEST(CronExpression, NothingPastTheClockRange) {
    // system_clock counts nanoseconds in 64 bits: the last instant is in April 2262.
    const auto e = CronExpression::parse("0 0 1 1 *");
    EXPECT_TRUE(e.next_after(at("2261-06-01T00:00:00Z")).has_value());
    EXPECT_FALSE(e.next_after(at("2262-01-02T00:00:00Z")).has_value());
}

struct BadExpression {
    const char* text;
    const char* message;
};

class CronExpressionErrors : public ::testing::TestWithParam<BadExpression> {};

TEST_P(CronExpressionErrors, NameTheFieldAndTheToken) {
    const auto& c = GetParam();
    const auto r = CronExpression::try_parse(c.text);
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.error().code(), ScheduleErrc::invalid_cron);
    EXPECT_EQ(r.error().error_code(), make_error_code(ScheduleErrc::invalid_cron));
    EXPECT_STREQ(r.error().what(), c.message);
    try {
        (void)CronExpression::parse(c.text);
        ADD_FAILURE() << "parse did not throw for " << c.text;
    } catch (const ScheduleError& e) {
        EXPECT_STREQ(e.what(), c.message);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cron,
    CronExpressionErrors,
    ::testing::Values(BadExpression{"0 25 * * *", "hour: \"25\" is out of range 0-23"},
                      BadExpression{"0 0 * * FUNDAY", "day-of-week: unknown name \"FUNDAY\""},
                      BadExpression{"60 * * * *", "minute: \"60\" is out of range 0-59"},
                      BadExpression{"61 * * * * *", "second: \"61\" is out of range 0-59"},
                      BadExpression{"0 0 0 * *", "day-of-month: \"0\" is out of range 1-31"},
                      BadExpression{"0 0 32 * *", "day-of-month: \"32\" is out of range 1-31"},
                      BadExpression{"0 0 * 13 *", "month: \"13\" is out of range 1-12"},
                      BadExpression{"0 0 * 0 *", "month: \"0\" is out of range 1-12"},
                      BadExpression{"0 0 * * 8", "day-of-week: \"8\" is out of range 0-7"},
                      BadExpression{"0 0 * JANUARY *", "month: unknown name \"JANUARY\""},
                      BadExpression{"0 0 * MON *", "month: unknown name \"MON\""},
                      BadExpression{"MON * * * *", "minute: \"MON\" is not a number"},
                      BadExpression{"0 9a * * *", "hour: \"9a\" is not a number"},
                      BadExpression{"0 0 * * 1x", "day-of-week: \"1x\" is not a number or a name"},
                      BadExpression{"-5 * * * *", "minute: \"-5\" is not a number (no signs)"},
                      BadExpression{"1,,2 * * * *", "minute: empty item in list \"1,,2\""},
                      BadExpression{"1, * * * *", "minute: empty item in list \"1,\""},
                      BadExpression{"*/0 * * * *", "minute: step must be at least 1 in \"*/0\""},
                      BadExpression{"5/ * * * *", "minute: missing step after \"/\" in \"5/\""},
                      BadExpression{"/5 * * * *", "minute: missing value before \"/\" in \"/5\""},
                      BadExpression{"*/x * * * *", "minute: step \"x\" in \"*/x\" is not a number"},
                      BadExpression{"1-2-3 * * * *", "minute: \"2-3\" is not a number"},
                      BadExpression{"0 5-1 * * *",
                                    "hour: range \"5-1\" is reversed (5 > 1); write the two "
                                    "parts instead, e.g. \"5-23,0-1\""},
                      BadExpression{"0 0 * NOV-FEB *",
                                    "month: range \"NOV-FEB\" is reversed (11 > 2); write "
                                    "the two parts instead, e.g. \"NOV-DEC,JAN-FEB\""},
                      BadExpression{"0 0 * * 5-0",
                                    "day-of-week: range \"5-0\" is reversed (5 > 0); write "
                                    "the two parts instead, e.g. \"5-7\""},
                      BadExpression{"0 23-1 * * *",
                                    "hour: range \"23-1\" is reversed (23 > 1); write the "
                                    "two parts instead, e.g. \"23,0-1\""},
                      BadExpression{"0 0 L/2 * *", "day-of-month: \"L/2\": L cannot take a step"},
                      BadExpression{"0 0 L-5 * *",
                                    "day-of-month: \"L-5\": L (the last day of the month) can "
                                    "only stand alone or end a range"},
                      BadExpression{"0 0 LW * *", "day-of-month: \"LW\" is not a number"},
                      BadExpression{"0 0 * * L", "day-of-week: unknown name \"L\""},
                      BadExpression{"0 L * * *", "hour: \"L\" is not a number"},
                      BadExpression{"0 0 30 2 *",
                                    "day-of-month: \"30\" never occurs in month \"2\", so the "
                                    "expression would never fire"},
                      BadExpression{
                          "0 0 31 APR,JUN,SEP,NOV *",
                          "day-of-month: \"31\" never occurs in month \"APR,JUN,SEP,NOV\", so the "
                          "expression would never fire"},
                      BadExpression{"", "empty cron expression"},
                      BadExpression{"   ", "empty cron expression"},
                      BadExpression{"* * * *",
                                    "expected 5 fields (minute hour day-of-month month "
                                    "day-of-week) or 6 (a leading second, then those five), got 4 "
                                    "in \"* * * *\""},
                      BadExpression{"* * * * * * *",
                                    "expected 5 fields (minute hour day-of-month month "
                                    "day-of-week) or 6 (a leading second, then those five), "
                                    "got 7 in \"* * * * * * *\""},
                      BadExpression{"@fortnightly",
                                    "unknown macro \"@fortnightly\" (known: @yearly @annually "
                                    "@monthly @weekly @daily @midnight @hourly)"},
                      BadExpression{"@daily 5",
                                    "unknown macro \"@daily 5\" (known: @yearly @annually "
                                    "@monthly @weekly @daily @midnight @hourly)"}));

// Never-firing is decided on the months that have the day at all: February 29 is fine, and
// with day-of-week restricted too a day matches through the OR rule.
TEST(CronExpression, PossibleOnlyInSomeMonthsIsAccepted) {
    EXPECT_TRUE(CronExpression::try_parse("0 0 29 2 *"));
    EXPECT_TRUE(CronExpression::try_parse("0 0 31 1-4 *"));
    EXPECT_TRUE(CronExpression::try_parse("0 0 30 2 MON"));  // Mondays in February
    EXPECT_TRUE(CronExpression::try_parse("0 0 L 2 *"));
}

}  // namespace
}  // namespace afterwork
