// SPDX-License-Identifier: MIT
#pragma once

// Proleptic Gregorian calendar arithmetic on plain integers (Howard Hinnant's days_from_civil
// and civil_from_days, http://howardhinnant.github.io/date_algorithms.html). The cron search
// runs on these rather than on std::chrono's calendar types so each step is a few integer
// operations with no validity checks or conversions in between.
//
// Thread safety: pure functions.

#include <cstdint>

namespace afterwork::detail {

inline constexpr std::int64_t kSecondsPerDay = 86'400;

struct CivilDate {
    std::int64_t year;
    int month;  // 1..12
    int day;    // 1..31
};

constexpr bool is_leap_year(std::int64_t y) noexcept {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr int days_in_month(std::int64_t y, int m) noexcept {
    constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of y-m-d.
constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<std::int64_t>(y - era * 400);                // [0, 399]
    const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
    return era * 146097 + doe - 719468;
}

constexpr CivilDate civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<std::int64_t>(z - era * 146097);                    // [0, 146096]
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const std::int64_t y = yoe + era * 400;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  // [0, 365]
    const std::int64_t mp = (5 * doy + 2) / 153;                       // [0, 11]
    const auto d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);     // [1, 31]
    const auto m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);        // [1, 12]
    return {y + (m <= 2), m, d};
}

// 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday).
constexpr int weekday_from_days(std::int64_t z) noexcept {
    return static_cast<int>(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    const std::int64_t q = a / b;
    return q * b > a ? q - 1 : q;
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);
static_assert(weekday_from_days(0) == 4);
static_assert(weekday_from_days(-1) == 3);
static_assert(floor_div(-1, 86400) == -1 && floor_div(86400, 86400) == 1);

}  // namespace afterwork::detail
