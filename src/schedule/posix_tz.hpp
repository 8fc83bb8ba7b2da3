// SPDX-License-Identifier: MIT
#pragma once

// PosixTz: the POSIX TZ rule a TZif (version 2+) file ends with, e.g. "EST5EDT,M3.2.0,M11.1.0"
// or "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0" (RFC 8536 section 3.3, POSIX.1-2017 section 8.3).
// It describes the zone after the last transition the file lists. date/tz built with
// USE_OS_TZDB (as Debian builds it) ignores it, so every zone would stay on the offset of its
// last listed transition (Debian lists them up to 2037); time_zone.cpp uses this class from that
// transition on. (date's own ptz.h does the same job but does not compile with g++ 12 in C++20
// mode: its hh_mm_ss is ambiguous with std::chrono::hh_mm_ss.)
//
// Thread safety: immutable after parse; distinct objects safe, const sharing safe.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include <afterwork/schedule/time_zone.hpp>

namespace afterwork::detail {

class PosixTz {
public:
    // nullopt when `rule` is not a valid POSIX TZ string.
    static std::optional<PosixTz> parse(std::string_view rule);

    bool has_dst() const noexcept { return has_dst_; }
    std::chrono::seconds offset_at(std::chrono::sys_seconds instant) const;
    LocalTimeInfo lookup(std::chrono::local_seconds local) const;

private:
    // When in the year daylight saving starts or ends, as the rule spells it.
    struct Rule {
        enum class Kind : std::uint8_t {
            julian_no_leap,  // Jn: day n of 1..365, February 29 never counted
            zero_based,      // n: day n of 0..365, February 29 counted
            month_week_day,  // Mm.w.d: weekday d of week w (5 = last) of month m
        };
        Kind kind = Kind::month_week_day;
        int day = 0;    // Jn / n
        int month = 0;  // Mm.w.d
        int week = 0;
        int weekday = 0;
        std::int64_t time = 7200;  // local wall-clock seconds after midnight, may be <0 or >24h

        // The local wall-clock second (since the epoch) this rule names in `year`.
        std::int64_t local_in(std::int64_t year) const noexcept;
    };

    struct Transition {
        std::int64_t at;  // sys seconds
        std::int64_t before;
        std::int64_t after;
    };

    // The six transitions of years year-1..year+1, sorted.
    void transitions_around(std::int64_t year, Transition (&out)[6]) const noexcept;

    std::int64_t std_offset_ = 0;  // seconds east of UTC
    std::int64_t dst_offset_ = 0;
    bool has_dst_ = false;
    Rule start_;
    Rule end_;
};

}  // namespace afterwork::detail
