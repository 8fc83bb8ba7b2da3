// SPDX-License-Identifier: MIT
// explain(): the common shapes read naturally, and the rest stay exact.

#include <afterwork/schedule/cron_expression.hpp>

#include <gtest/gtest.h>

namespace afterwork {
namespace {

struct Case {
    const char* expression;
    const char* sentence;
};

class Explain : public ::testing::TestWithParam<Case> {};

TEST_P(Explain, SaysWhenItFires) {
    EXPECT_EQ(explain(CronExpression::parse(GetParam().expression)), GetParam().sentence)
        << GetParam().expression;
}

INSTANTIATE_TEST_SUITE_P(
    CommonShapes,
    Explain,
    ::testing::Values(
        Case{"0 9 * * *", "At 09:00 every day"},
        Case{"*/15 * * * *", "Every 15 minutes"},
        Case{"0/15 * * * *", "Every 15 minutes"},
        Case{"0,15,30,45 * * * *", "Every 15 minutes"},
        Case{"* * * * *", "Every minute"},
        Case{"0 * * * 1-5", "At minute 0 past every hour on Monday through Friday"},
        Case{"0 8 * * 1", "At 08:00 on Monday"},
        Case{"0 8 * * MON", "At 08:00 on Monday"},
        Case{"0 0 L * *", "At 00:00 on the last day of the month"},
        Case{"@hourly", "At minute 0 past every hour"},
        Case{"@daily", "At 00:00 every day"},
        Case{"@weekly", "At 00:00 on Sunday"},
        Case{"@monthly", "At 00:00 on day 1 of the month"},
        Case{"@yearly", "At 00:00 on January 1"},
        Case{"0 0 29 2 *", "At 00:00 on February 29"},
        Case{"30 18 * * 5", "At 18:30 on Friday"},
        Case{"0 9 * * MON-FRI", "At 09:00 on Monday through Friday"},
        Case{"0 22 * * 1-5", "At 22:00 on Monday through Friday"},
        Case{"0 0 * * SAT,SUN", "At 00:00 on Saturday and Sunday"},
        Case{"0 0 * * FRI-SUN", "At 00:00 on Friday through Sunday"},
        Case{"0 5 * * 2,4,6", "At 05:00 on Tuesday, Thursday and Saturday"},
        Case{"0 9,13,17 * * *", "At 09:00, 13:00 and 17:00 every day"},
        Case{"30 */6 * * *", "At 00:30, 06:30, 12:30 and 18:30 every day"},
        Case{"0 */2 * * *", "Every 2 hours"},
        Case{"0 9-17 * * MON-FRI", "Every hour from 09:00 through 17:00 on Monday through Friday"},
        Case{"*/15 9-17 * * 1-5",
             "Every 15 minutes from 09:00 through 17:45 on Monday through Friday"},
        Case{"* 9 * * *", "Every minute from 09:00 through 09:59"},
        Case{"15 14 1 * *", "At 14:15 on day 1 of the month"},
        Case{"0 4 8-14 * *", "At 04:00 on days 8 through 14 of the month"},
        Case{"0 0 1,15 * *", "At 00:00 on days 1 and 15 of the month"},
        Case{"0 0 L,15 * *", "At 00:00 on day 15 of the month and on the last day of the month"},
        Case{"0 12 * JAN,JUL *", "At 12:00 every day in January and July"},
        Case{"0 0 1 */3 *", "At 00:00 on day 1 of the month in January, April, July and October"},
        Case{"0 0 * * */2", "At 00:00 on Tuesday, Thursday, Saturday and Sunday"},
        // Seconds.
        Case{"*/10 * * * * *", "Every 10 seconds"},
        Case{"* * * * * *", "Every second"},
        Case{"0 0 9 * * *", "At 09:00 every day"},
        Case{"30 0 9 * * *", "At 09:00:30 every day"},
        Case{"0,30 * * * * *", "At seconds 0 and 30 of every minute"},
        Case{"*/10 30 9 * * *", "Every 10 seconds during 09:30"},
        Case{"*/10 * 9 * * *", "Every 10 seconds during hour 9"},
        Case{"*/10 0,5 * * * *", "Every 10 seconds, at minutes 0 and 5 past every hour"}));

// The day rule is spelled out, never guessed.
INSTANTIATE_TEST_SUITE_P(
    DayRule,
    Explain,
    ::testing::Values(
        Case{"0 0 1,15 * MON", "At 00:00 on days 1 and 15 of the month and on every Monday"},
        Case{"0 0 */2 * MON",
             "At 00:00 on every 2nd day of the month from day 1 through 31 if that day is "
             "Monday"},
        Case{"0 0 1-7 * */7", "At 00:00 on days 1 through 7 of the month if that day is Sunday"},
        Case{"0 0 1-31 * 1", "At 00:00 every day"},
        Case{"0 0 * * 0-7", "At 00:00 every day"}));

// Shapes without a short phrase: exact, if long.
INSTANTIATE_TEST_SUITE_P(
    Exact,
    Explain,
    ::testing::Values(
        Case{"*/7 * * * *", "Every 7 minutes from minute 0 through 56 past every hour"},
        Case{"5/10 * * * *", "Every 10 minutes from minute 5 through 55 past every hour"},
        Case{"10-50/5 * * * *", "Every 5 minutes from minute 10 through 50 past every hour"},
        Case{"23 0-20/2 * * *", "At minute 23 past every 2nd hour from hour 0 through 20"},
        Case{"0 0 */5 * *", "At 00:00 on every 5th day of the month from day 1 through 31"},
        Case{"0,30 0,8,9,12,16,18,20 * * *",
             "At minutes 0 and 30 past hours 0, 8, 9, 12, 16, 18 and 20"},
        Case{"1,2,3,5,20-25 23 31 12 5",
             "At minutes 1 through 3, 5 and 20 through 25 past hour 23 on day 31 of the month "
             "and on every Friday in December"}));

}  // namespace
}  // namespace afterwork
