// SPDX-License-Identifier: MIT
// `afterwork cron next|explain` as a user runs it: the built binary (AFTERWORK_BINARY) in a
// child process; stdout, stderr and the exit code.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/process.hpp"

#ifndef AFTERWORK_BINARY
#error "AFTERWORK_BINARY must name the afterwork executable"
#endif

namespace afterwork {
namespace {

using namespace std::chrono_literals;

using Run = testing::CommandResult;

Run run(std::vector<std::string> args) {
    return testing::run_command(AFTERWORK_BINARY, std::move(args));
}

int lines(const std::string& text) {
    int n = 0;
    for (char c : text) n += c == '\n';
    return n;
}

TEST(CronCommand, NextPrintsFireTimesInTheZone) {
    const auto r = run({"cron",
                        "next",
                        "0 9 * * *",
                        "--tz",
                        "Asia/Kolkata",
                        "-n",
                        "3",
                        "--after",
                        "2026-11-22T10:00:00+05:30"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out,
              "2026-11-23T09:00:00+05:30\n"
              "2026-11-24T09:00:00+05:30\n"
              "2026-11-25T09:00:00+05:30\n");
    EXPECT_EQ(r.err, "");
}

TEST(CronCommand, NextDefaultsToFiveInUtc) {
    const auto r = run({"cron", "next", "*/15 * * * *", "--after", "2026-01-01T00:00:00Z"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out,
              "2026-01-01T00:15:00+00:00\n"
              "2026-01-01T00:30:00+00:00\n"
              "2026-01-01T00:45:00+00:00\n"
              "2026-01-01T01:00:00+00:00\n"
              "2026-01-01T01:15:00+00:00\n");
}

TEST(CronCommand, NextAcrossDaylightSaving) {
    const auto r = run({"cron",
                        "next",
                        "30 2 * * *",
                        "--tz",
                        "America/New_York",
                        "-n",
                        "2",
                        "--after",
                        "2026-03-07T12:00:00-05:00"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n");
}

TEST(CronCommand, NextThroughTheRepeatedHour) {
    // Europe/Berlin 2024-10-27 03:00 CEST -> 02:00 CET: `0 * * * *` fires every real hour.
    const auto r = run({"cron",
                        "next",
                        "0 * * * *",
                        "--tz",
                        "Europe/Berlin",
                        "-n",
                        "4",
                        "--after",
                        "2024-10-27T01:30:00+02:00"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out,
              "2024-10-27T02:00:00+02:00\n"
              "2024-10-27T02:00:00+01:00\n"
              "2024-10-27T03:00:00+01:00\n"
              "2024-10-27T04:00:00+01:00\n");
}

TEST(CronCommand, NextDefaultsToNow) {
    const auto r = run({"cron", "next", "@hourly"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(lines(r.out), 5) << r.out;
}

TEST(CronCommand, Explain) {
    auto r = run({"cron", "explain", "0 9 * * 1-5"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "At 09:00 on Monday through Friday\n");
    r = run({"cron", "explain", "*/15 * * * *"});
    EXPECT_EQ(r.out, "Every 15 minutes\n");
}

struct BadCall {
    std::vector<std::string> args;
    std::string message;
};

class CronCommandErrors : public ::testing::TestWithParam<BadCall> {};

TEST_P(CronCommandErrors, OneLineOnStderrAndExitTwo) {
    const auto r = run(GetParam().args);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "error: " + GetParam().message + "\n");
}

INSTANTIATE_TEST_SUITE_P(
    Cron,
    CronCommandErrors,
    ::testing::Values(
        BadCall{{"cron", "next", "0 25 * * *"},
                "invalid cron expression \"0 25 * * *\": hour: \"25\" is out of range 0-23"},
        BadCall{{"cron", "explain", "0 0 * * FUNDAY"},
                "invalid cron expression \"0 0 * * FUNDAY\": day-of-week: unknown name "
                "\"FUNDAY\""},
        BadCall{{"cron", "next", "0 9 * * *", "--tz", "Mars/Olympus"},
                "unknown time zone \"Mars/Olympus\""},
        BadCall{{"cron", "next", "0 9 * * *", "-n", "0"},
                "count must be a whole number from 1 to 10000, got \"0\""},
        BadCall{{"cron", "next", "0 9 * * *", "-n", "-3"},
                "count must be a whole number from 1 to 10000, got \"-3\""},
        BadCall{{"cron", "next", "0 9 * * *", "-n", "10001"},
                "count must be a whole number from 1 to 10000, got \"10001\""},
        BadCall{{"cron", "next", "0 9 * * *", "-n", "five"},
                "count must be a whole number from 1 to 10000, got \"five\""},
        BadCall{{"cron", "next", "0 9 * * *", "--after", "2026-11-22T10:00:00"},
                "invalid time \"2026-11-22T10:00:00\": it has no UTC offset; add Z or one such "
                "as +05:30"},
        BadCall{{"cron", "next", "0 9 * * *", "--after", "yesterday"},
                "invalid time \"yesterday\": expected ISO 8601 like 2026-12-01T09:00:00Z or "
                "2026-12-01T09:00:00+05:30"}));

}  // namespace
}  // namespace afterwork
