// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `TimeZone`: an IANA time zone of the system tz database (through Howard Hinnant's date/tz
/// library), the rule that maps wall-clock times to instants across daylight-saving changes,
/// and ISO 8601 formatting and parsing of instants.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <afterwork/schedule/schedule_error.hpp>

namespace afterwork {

namespace detail {
struct ZoneData;
}

/// What a wall-clock time names in a zone, and the instant the schedule layer fires for it.
///
/// The scheduling rule (`instant`): a wall-clock time that exists once is that instant; one
/// that does not exist (skipped by a clock that moved forward) is the first valid instant after
/// it, which is the instant of the change (02:30 on a spring-forward day in America/New_York
/// → 03:00 EDT); one that exists twice (repeated by a clock that moved back) is its first
/// occurrence (01:30 on a fall-back day in America/New_York → 01:30 EDT, never 01:30 EST).
/// That is the instant a fixed-time cron job fires at; a wildcard one fires at `second` too
/// (see `CronExpression`, **Daylight saving**).
///
/// @par Thread safety
/// A plain value: distinct objects safe, shared unsafe.
struct LocalTimeInfo {
    enum class Kind : std::uint8_t {
        unique,       ///< the wall-clock time exists once
        nonexistent,  ///< skipped: the clock jumped over it
        ambiguous,    ///< repeated: the clock passed it twice
    };

    Kind kind = Kind::unique;
    /// The instant the scheduling rule picks (see above).
    std::chrono::sys_seconds instant{};
    /// `ambiguous`: the second occurrence; otherwise equal to `instant`.
    std::chrono::sys_seconds second{};
    /// `nonexistent`/`ambiguous`: the instant the UTC offset changed; otherwise `instant`.
    std::chrono::sys_seconds transition{};
    /// The UTC offsets before and after `transition` (equal for `unique`).
    std::chrono::seconds offset_before{};
    std::chrono::seconds offset_after{};
};

/// An IANA time zone ("Asia/Kolkata", "America/New_York") or UTC, the default.
///
/// Zones come from the system tz database (`/usr/share/zoneinfo`, Debian's `tzdata`) through
/// date/tz built with `USE_OS_TZDB`. That reader only knows the transitions listed in each
/// zone file (Debian lists them up to 2037), so for instants after a zone's last listed
/// transition the POSIX TZ rule at the end of the file takes over; daylight saving in 2040
/// is right.
///
/// A `TimeZone` is a small handle (a shared pointer to immutable, cached zone data); copies are
/// cheap and compare equal when they have the same name (`US/Eastern` and `America/New_York`
/// are the same rules under two names, and not equal). `"UTC"`, `"Etc/UTC"`, `"GMT"` and
/// `"Etc/GMT"` take a fast path that never consults the database.
///
/// @par Thread safety
/// Thread-safe: all members are const, and `try_locate` may be called from any thread.
class TimeZone {
public:
    /// UTC.
    TimeZone() noexcept = default;

    /// UTC.
    static TimeZone utc() noexcept { return {}; }

    /// The zone called `name` (case-sensitive, as in the tz database). An unknown name fails
    /// with `ScheduleErrc::unknown_time_zone`, e.g. `unknown time zone "Asia/Bombay2"`, and a
    /// hint when only the letter case is wrong.
    [[nodiscard]] static ScheduleResult<TimeZone> try_locate(std::string_view name);
    /// As `try_locate`; throws `ScheduleError`.
    static TimeZone locate(std::string_view name);

    /// The name it was located by ("UTC" for the default).
    const std::string& name() const noexcept;
    /// Whether the offset is always zero (UTC and its aliases), which skips every look-up.
    bool is_utc() const noexcept;

    /// The UTC offset in force at `instant` (east positive: +05:30 for Asia/Kolkata).
    std::chrono::seconds offset_at(std::chrono::sys_seconds instant) const;
    /// The wall-clock time at `instant`.
    std::chrono::local_seconds to_local(std::chrono::sys_seconds instant) const {
        return std::chrono::local_seconds{(instant + offset_at(instant)).time_since_epoch()};
    }
    /// What the wall-clock time `local` names here (see `LocalTimeInfo`).
    LocalTimeInfo lookup(std::chrono::local_seconds local) const;
    /// The instant the scheduling rule picks for `local`: `lookup(local).instant`.
    std::chrono::sys_seconds resolve(std::chrono::local_seconds local) const {
        return lookup(local).instant;
    }

    friend bool operator==(const TimeZone& a, const TimeZone& b) noexcept {
        return a.name() == b.name();
    }

private:
    explicit TimeZone(std::shared_ptr<const detail::ZoneData> data) noexcept
        : data_(std::move(data)) {}

    std::shared_ptr<const detail::ZoneData> data_;  // null: UTC
};

/// `instant` in ISO 8601 / RFC 3339 in UTC with a `Z`: `2026-12-01T09:00:00Z`. Fractions of a
/// second are written only when there are some (`.5`, `.123456789`, trailing zeros dropped).
/// @par Thread safety
/// Thread-safe.
std::string format_iso8601(std::chrono::system_clock::time_point instant);

/// `instant` as wall-clock time in `zone` with its numeric offset:
/// `2026-11-23T09:00:00+05:30` (UTC gives `+00:00`). Offsets with seconds, found only before
/// standard time was adopted (LMT), are written `+HH:MM:SS`.
/// @par Thread safety
/// Thread-safe.
std::string format_iso8601(std::chrono::system_clock::time_point instant, const TimeZone& zone);

/// Parses an ISO 8601 / RFC 3339 instant: `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by `Z`
/// or an offset `±HH:MM`, `±HHMM` or `±HH` (`t`, `z` and a space instead of `T` are accepted).
/// A time without offset is rejected because it names no instant. Fails with
/// `ScheduleErrc::invalid_time` and a message saying which part is wrong.
/// @par Thread safety
/// Thread-safe.
[[nodiscard]] ScheduleResult<std::chrono::system_clock::time_point> try_parse_iso8601(
    std::string_view text);
/// As `try_parse_iso8601`; throws `ScheduleError`.
std::chrono::system_clock::time_point parse_iso8601(std::string_view text);

}  // namespace afterwork
