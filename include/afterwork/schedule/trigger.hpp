// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Triggers say when a schedule fires: `CronTrigger` (a cron expression in a time zone),
/// `IntervalTrigger` (every fixed duration, optionally between a start and an end) and
/// `DateTrigger` (once). `Trigger` holds any of them for the scheduler and the store.
///
/// All are pure time logic: `next_after(t)` reads no clock and owns no loop, so the same
/// question always gets the same answer and tests need no waiting. Each has a one-line
/// description for people and a string form for a store, which `Trigger::try_parse` reads
/// back:
///
///     cron:0 9 * * *@Asia/Kolkata        the zone after the last '@' (always written)
///     cron:@daily@UTC
///     interval:300s                      units ns us ms s m h d, combined as in 1h30m
///     interval:300s,start=2026-12-01T09:00:00Z,end=2027-01-01T00:00:00Z
///     date:2026-12-01T09:00:00Z

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <afterwork/schedule/cron_expression.hpp>
#include <afterwork/schedule/schedule_error.hpp>
#include <afterwork/schedule/time_zone.hpp>

namespace afterwork {

/// The clock every trigger speaks: instants of `std::chrono::system_clock`.
using TimePoint = std::chrono::system_clock::time_point;

/// Fires whenever a cron expression matches the wall-clock time of a time zone (default UTC),
/// across daylight-saving changes as Vixie cron does: a skipped time fires once at the change,
/// a repeated one in both passes for a wildcard job (minute or hour field starting with `*`)
/// and once for a fixed-time job (see `CronExpression`, **Daylight saving**).
/// @par Thread safety
/// Distinct objects safe, shared unsafe; const members may run concurrently.
class CronTrigger {
public:
    CronTrigger(CronExpression expression, TimeZone zone = {}) noexcept
        : expression_(std::move(expression)), zone_(std::move(zone)) {}
    /// Parses `expression` and locates `zone`; throws `ScheduleError`.
    explicit CronTrigger(std::string_view expression, std::string_view zone = "UTC");
    /// As the string constructor, without throwing.
    [[nodiscard]] static ScheduleResult<CronTrigger> try_create(std::string_view expression,
                                                                std::string_view zone = "UTC");

    /// The first fire time strictly after `after`; nullopt when none is left.
    std::optional<TimePoint> next_after(TimePoint after) const {
        return expression_.next_after(after, zone_);
    }
    /// `explain(expression)` and the zone: "At 09:00 every day (Asia/Kolkata)".
    std::string describe() const;
    /// `cron:EXPR@ZONE`.
    std::string to_string() const;

    const CronExpression& expression() const noexcept { return expression_; }
    const TimeZone& zone() const noexcept { return zone_; }

    friend bool operator==(const CronTrigger&, const CronTrigger&) = default;

private:
    CronExpression expression_;
    TimeZone zone_;
};

/// Fires every `interval`.
///
/// With a start, the fire times are `start + k * interval` for k = 0, 1, ... (the first is the
/// start itself), whatever instant is asked about, so the cadence never drifts. Without a
/// start the trigger is anchored on the instant it is asked about: `next_after(t)` is
/// `t + interval`, and the scheduler, which passes the previous fire time, gets a steady
/// cadence that began when the schedule was added (APScheduler's default). With an end, no fire
/// time is later than the end.
/// @par Thread safety
/// Distinct objects safe, shared unsafe; const members may run concurrently.
class IntervalTrigger {
public:
    using Duration = std::chrono::system_clock::duration;

    /// Throws `ScheduleError` (`ScheduleErrc::invalid_interval`) when `interval` <= 0 or `end`
    /// is before `start`.
    explicit IntervalTrigger(Duration interval,
                             std::optional<TimePoint> start = std::nullopt,
                             std::optional<TimePoint> end = std::nullopt);
    /// As the constructor, without throwing.
    [[nodiscard]] static ScheduleResult<IntervalTrigger> try_create(
        Duration interval,
        std::optional<TimePoint> start = std::nullopt,
        std::optional<TimePoint> end = std::nullopt);

    std::optional<TimePoint> next_after(TimePoint after) const;
    /// "Every 5 minutes", "Every 90 seconds from 2026-12-01T09:00:00Z until ...".
    std::string describe() const;
    /// `interval:300s[,start=ISO][,end=ISO]`.
    std::string to_string() const;

    Duration interval() const noexcept { return interval_; }
    const std::optional<TimePoint>& start() const noexcept { return start_; }
    const std::optional<TimePoint>& end() const noexcept { return end_; }

    friend bool operator==(const IntervalTrigger&, const IntervalTrigger&) = default;

private:
    struct Checked {};
    IntervalTrigger(Checked,
                    Duration interval,
                    std::optional<TimePoint> start,
                    std::optional<TimePoint> end) noexcept
        : interval_(interval), start_(start), end_(end) {}

    Duration interval_;
    std::optional<TimePoint> start_;
    std::optional<TimePoint> end_;
};

/// Fires once, at `at`.
/// @par Thread safety
/// Distinct objects safe, shared unsafe; const members may run concurrently.
class DateTrigger {
public:
    explicit DateTrigger(TimePoint at) noexcept : at_(at) {}

    /// `at` when it is after `after`, else nullopt.
    std::optional<TimePoint> next_after(TimePoint after) const noexcept {
        if (at_ > after) return at_;
        return std::nullopt;
    }
    /// "Once at 2026-12-01T09:00:00Z".
    std::string describe() const;
    /// `date:2026-12-01T09:00:00Z`.
    std::string to_string() const;

    TimePoint at() const noexcept { return at_; }

    friend bool operator==(const DateTrigger&, const DateTrigger&) = default;

private:
    TimePoint at_;
};

/// Any trigger, by value: what the scheduler holds for a schedule and the store persists.
///
/// A closed `std::variant` rather than a class hierarchy: the three kinds are all the
/// scheduler needs (APScheduler's combining triggers can come as further alternatives), a
/// `Trigger` copies and compares like a value, and `to_string`/`try_parse` round-trip it
/// exactly. `visit` reaches the concrete trigger.
/// @par Thread safety
/// Distinct objects safe, shared unsafe; const members may run concurrently.
class Trigger {
public:
    using Variant = std::variant<CronTrigger, IntervalTrigger, DateTrigger>;

    Trigger(CronTrigger trigger) noexcept : trigger_(std::move(trigger)) {}  // NOLINT: implicit
    Trigger(IntervalTrigger trigger) noexcept : trigger_(trigger) {}         // NOLINT: implicit
    Trigger(DateTrigger trigger) noexcept : trigger_(trigger) {}             // NOLINT: implicit

    /// Reads the string form written by `to_string` (see the file comment). Fails with
    /// `ScheduleErrc::invalid_trigger` for an unknown kind or a malformed body, or with the
    /// error of the part that is wrong (cron, zone, interval, time).
    [[nodiscard]] static ScheduleResult<Trigger> try_parse(std::string_view text);
    /// As `try_parse`; throws `ScheduleError`.
    static Trigger parse(std::string_view text);

    std::optional<TimePoint> next_after(TimePoint after) const;
    std::string describe() const;
    std::string to_string() const;
    /// The cron trigger's zone; UTC for the others (their instants need none).
    const TimeZone& zone() const noexcept;

    const Variant& variant() const noexcept { return trigger_; }
    template <class T>
    const T* get_if() const noexcept {
        return std::get_if<T>(&trigger_);
    }
    template <class Visitor>
    decltype(auto) visit(Visitor&& visitor) const {
        return std::visit(std::forward<Visitor>(visitor), trigger_);
    }

    friend bool operator==(const Trigger&, const Trigger&) = default;

private:
    Variant trigger_;
};

}  // namespace afterwork
