// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `CronExpression`: a parsed cron expression (Vixie cron semantics) and the search for its
/// next fire time, on wall-clock time or in a `TimeZone`; `explain` says in English when it
/// fires.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <afterwork/schedule/schedule_error.hpp>
#include <afterwork/schedule/time_zone.hpp>

namespace afterwork {

/// The fields of a cron expression, in the order a six-field expression writes them.
enum class CronField : std::uint8_t { second, minute, hour, day_of_month, month, day_of_week };

/// A parsed cron expression.
///
/// **Syntax.** Five fields `minute hour day-of-month month day-of-week`, or six with a leading
/// `second` (as Quartz, Spring and most libraries with seconds write it), separated by blanks.
/// Each field is a comma-separated list of items:
/// - `*` (every value), `N`, `N-M` (inclusive range), each optionally followed by `/STEP`
///   (`*/15`, `10-50/5`); `N/STEP` means `N-MAX/STEP` (`5/10` in minutes is 5,15,...,55).
///   A step larger than the range selects only its start (`*/90` in minutes is 0).
/// - Ranges: second and minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or `JAN`-`DEC`,
///   day-of-week 0-7 or `SUN`-`SAT` (0 and 7 are both Sunday). Names are three letters, any
///   case. A range may end on Sunday written `SUN` or `7` (`FRI-SUN`); for steps `*` in
///   day-of-week is `0-7`, as in Vixie cron and croniter.
/// - `L` in day-of-month: the last day of the month. `N-L` is `N-31`.
/// - Macros instead of the fields: `@yearly` = `@annually` = `0 0 1 1 *`, `@monthly` =
///   `0 0 1 * *`, `@weekly` = `0 0 * * 0`, `@daily` = `@midnight` = `0 0 * * *`, `@hourly` =
///   `0 * * * *` (case-insensitive).
///
/// **Day-of-month and day-of-week** follow Vixie cron (cronie `src/entry.c` sets `DOM_STAR` /
/// `DOW_STAR` from the first character of the field, `src/cron.c` `find_jobs` tests them): if
/// either field *starts with* `*`, a day must match both (so the other one alone decides);
/// otherwise a day matches if *either* matches. `0 0 1,15 * MON` fires on the 1st, the 15th
/// and every Monday; `0 0 */2 * MON` only on odd-numbered days that are Mondays.
///
/// **Daylight saving** (`next_after` in a zone other than UTC) follows Vixie cron / cronie
/// (`src/cron.c`: after a change it calls `find_jobs` with `doWild` / `doNonWild` to pick which
/// jobs run):
/// - A wall-clock time the clock skips (it moved forward) fires once, at the instant of the
///   change, the first valid instant after it; several skipped matches collapse into that one
///   firing (`30 2 * * *` on a spring-forward day in America/New_York fires at 03:00 EDT).
///   This holds for every job; cronie differs for wildcard jobs only, whose skipped matches it
///   drops (`15 * * * *` fires at 03:00 EDT for the skipped 02:15 here, not at all in cronie).
/// - A wall-clock time the clock passes twice (it moved back) depends on the job. A *wildcard*
///   job, one whose minute or hour field *starts with* `*` (cronie's `MIN_STAR` / `HR_STAR`:
///   `*`, `*/30`, `*/5` and `@hourly`), fires at each matching instant of both passes, so
///   `0 * * * *` keeps firing every real hour and `*/30 * * * *` every real half hour. Any other
///   job is a *fixed-time* job and fires once, at the first occurrence: `30 1 * * *`, and lists
///   or ranges such as `0,30 1 * * *`, `0 1-3 * * *` or `0-59 1 * * *` (only the first
///   character counts, as in cronie; `0-59` selects every minute but is not `*`). With six
///   fields the seconds field takes no part: `* 30 1 * * *` is fixed-time (every second of the
///   first 01:30 minute), `0 */20 * * * *` a wildcard job.
/// The fire times of one expression are strictly increasing instants, each returned once, so
/// calling `next_after` on its own result walks both passes in real-time order. UTC, or an
/// `IntervalTrigger`, has no such changes.
///
/// **Rejected** with `ScheduleErrc::invalid_cron` and a message naming the field and the token:
/// a wrong field count, values out of range (`hour: "25" is out of range 0-23`), unknown
/// names (`day-of-week: unknown name "FUNDAY"`), empty list items, step 0, reversed ranges
/// (`hour: range "22-2" is reversed...`; Vixie cron and croniter reject them too, and a
/// wrapping reading is a guess), `L` outside day-of-month or with a step, and expressions that
/// can never fire (`0 0 30 2 *`).
///
/// Where widely used implementations disagree, this class follows Vixie cron / cronie, the
/// cron of Debian and Fedora; the differences from python croniter 1.3.5 (Debian 12's
/// `python3-croniter`, what APScheduler users meet) are listed in
/// `tests/unit/schedule/croniter_diff_test.cpp`, which checks every other case against it.
///
/// Representation: one bitset per field (32 bytes) plus the text as written. The next-fire
/// search jumps field by field (month, day, hour, minute, second) with bit scans, so it never
/// walks minute by minute.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe; all const members are safe to call concurrently.
class CronExpression {
public:
    /// Parses `text` (see above). Leading and trailing blanks are ignored.
    [[nodiscard]] static ScheduleResult<CronExpression> try_parse(std::string_view text);
    /// As `try_parse`; throws `ScheduleError`.
    static CronExpression parse(std::string_view text);

    /// The expression as written, blanks between fields collapsed to one space.
    const std::string& text() const noexcept { return text_; }
    /// Whether it has the leading seconds field (six fields).
    bool has_seconds() const noexcept { return (flags_ & kSixFields) != 0; }

    /// The values a field selects: bit `v` is set when value `v` is selected (day-of-week
    /// 0..6, Sunday 0; day-of-month 1..31, without `L`; seconds is bit 0 for five fields).
    std::uint64_t bits(CronField field) const noexcept;
    /// Whether day-of-month has `L`.
    bool has_last_day_of_month() const noexcept { return (flags_ & kLastDay) != 0; }
    /// Whether the day-of-month / day-of-week field starts with `*` (the Vixie flags).
    bool day_of_month_star() const noexcept { return (flags_ & kDomStar) != 0; }
    bool day_of_week_star() const noexcept { return (flags_ & kDowStar) != 0; }
    /// Whether the minute or the hour field starts with `*` (cronie's `MIN_STAR` /
    /// `HR_STAR`, `@hourly` included): a wildcard job, which fires in both passes of a repeated
    /// wall-clock time (see **Daylight saving** above).
    bool minute_or_hour_star() const noexcept { return (flags_ & kTimeStar) != 0; }
    /// Whether a day matches when either day field matches (neither starts with `*`).
    bool days_or() const noexcept { return (flags_ & (kDomStar | kDowStar)) == 0; }

    /// Whether the wall-clock time `t` matches (fractions of a second ignored).
    bool matches(std::chrono::local_seconds t) const noexcept;

    /// The first matching wall-clock time strictly after `after`; nullopt when there is none
    /// in the next 400 years (only for expressions that can never fire, which `parse` rejects).
    std::optional<std::chrono::local_seconds> next_local(std::chrono::local_seconds after) const;

    /// The first instant strictly after `after` at which it fires in `zone` (see **Daylight
    /// saving** above). nullopt when the next one is beyond what `system_clock::time_point`
    /// holds (year 2262).
    std::optional<std::chrono::system_clock::time_point> next_after(
        std::chrono::system_clock::time_point after, const TimeZone& zone = {}) const;

    /// Same fields and text.
    friend bool operator==(const CronExpression&, const CronExpression&) = default;

private:
    static constexpr std::uint8_t kSixFields = 1;
    static constexpr std::uint8_t kLastDay = 2;
    static constexpr std::uint8_t kDomStar = 4;
    static constexpr std::uint8_t kDowStar = 8;
    static constexpr std::uint8_t kTimeStar = 16;

    CronExpression() = default;
    // Bit d (1..31) of the days of month y-m that match the day fields.
    std::uint32_t day_mask(std::int64_t y, int m) const noexcept;

    std::uint64_t seconds_ = 0;
    std::uint64_t minutes_ = 0;
    std::uint32_t hours_ = 0;
    std::uint32_t days_ = 0;     // bits 1..31
    std::uint16_t months_ = 0;   // bits 1..12
    std::uint8_t weekdays_ = 0;  // bits 0..6
    std::uint8_t flags_ = 0;
    std::string text_;
};

/// An English sentence saying when `expression` fires: "At 09:00 every day", "Every 15
/// minutes", "At minute 0 past every hour on Monday through Friday", "At 00:00 on the last day
/// of the month". Common shapes read naturally; any other expression gets a longer sentence
/// that is still exact (it lists values rather than guess).
/// @par Thread safety
/// Thread-safe.
std::string explain(const CronExpression& expression);

}  // namespace afterwork
