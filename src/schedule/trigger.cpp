// SPDX-License-Identifier: MIT
#include <afterwork/schedule/trigger.hpp>

#include <array>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace afterwork {
namespace {

using Duration = IntervalTrigger::Duration;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

struct Unit {
    std::string_view suffix;
    std::int64_t nanos;
    std::string_view singular;
};

// Longest suffix first where one is a prefix of another ("ms" before "m").
constexpr std::array<Unit, 7> kUnits = {{{"ns", 1, "nanosecond"},
                                         {"us", 1'000, "microsecond"},
                                         {"ms", 1'000'000, "millisecond"},
                                         {"s", 1'000'000'000, "second"},
                                         {"m", 60'000'000'000, "minute"},
                                         {"h", 3'600'000'000'000, "hour"},
                                         {"d", 86'400'000'000'000, "day"}}};

ScheduleError interval_error(std::string message) {
    return {ScheduleErrc::invalid_interval, message};
}

ScheduleError trigger_error(std::string_view text, std::string_view why) {
    return {ScheduleErrc::invalid_trigger, fmt::format("invalid trigger \"{}\": {}", text, why)};
}

// "300s", "1h30m", "250ms".
ScheduleResult<Duration> parse_duration(std::string_view text) {
    if (text.empty()) return interval_error("missing interval (e.g. 300s, 5m, 1h30m)");
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        std::int64_t amount = 0;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') {
            if (amount > std::numeric_limits<std::int64_t>::max() / 10 - 10) {
                return interval_error(fmt::format("interval \"{}\" is too long", text));
            }
            amount = amount * 10 + (text[j] - '0');
            ++j;
        }
        if (j == i) {
            return interval_error(fmt::format(
                "interval \"{}\" is not a duration (e.g. 300s, 5m, 1h30m, 250ms)", text));
        }
        const Unit* unit = nullptr;
        for (const auto& u : kUnits) {
            if (text.substr(j, u.suffix.size()) == u.suffix &&
                (u.suffix != "m" || text.substr(j, 2) != "ms")) {
                unit = &u;
                break;
            }
        }
        if (unit == nullptr) {
            return interval_error(fmt::format(
                "interval \"{}\" needs a unit after {} (ns, us, ms, s, m, h or d)", text, amount));
        }
        if (amount > (std::numeric_limits<std::int64_t>::max() - total) / unit->nanos) {
            return interval_error(fmt::format("interval \"{}\" is too long", text));
        }
        total += amount * unit->nanos;
        i = j + unit->suffix.size();
    }
    return duration_cast<Duration>(nanoseconds(total));
}

std::string format_duration(Duration d) {
    const std::int64_t ns = duration_cast<nanoseconds>(d).count();
    for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
        // Seconds and smaller only, so 300s stays 300s.
        if (it->nanos > 1'000'000'000) continue;
        if (ns % it->nanos == 0) return fmt::format("{}{}", ns / it->nanos, it->suffix);
    }
    return fmt::format("{}ns", ns);
}

std::string describe_duration(Duration d) {
    const std::int64_t ns = duration_cast<nanoseconds>(d).count();
    for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
        if (ns % it->nanos != 0) continue;
        const std::int64_t n = ns / it->nanos;
        if (n == 1) return fmt::format("every {}", it->singular);
        return fmt::format("every {} {}s", n, it->singular);
    }
    return fmt::format("every {} nanoseconds", ns);
}

}  // namespace

// --- CronTrigger ---------------------------------------------------------------------------

CronTrigger::CronTrigger(std::string_view expression, std::string_view zone)
    : CronTrigger(try_create(expression, zone).value()) {}

ScheduleResult<CronTrigger> CronTrigger::try_create(std::string_view expression,
                                                    std::string_view zone) {
    auto parsed = CronExpression::try_parse(expression);
    if (!parsed) return parsed.error();
    auto located = TimeZone::try_locate(zone);
    if (!located) return located.error();
    return CronTrigger(std::move(*parsed), std::move(*located));
}

std::string CronTrigger::describe() const {
    return fmt::format("{} ({})", explain(expression_), zone_.name());
}

std::string CronTrigger::to_string() const {
    return fmt::format("cron:{}@{}", expression_.text(), zone_.name());
}

// --- IntervalTrigger -----------------------------------------------------------------------

IntervalTrigger::IntervalTrigger(Duration interval,
                                 std::optional<TimePoint> start,
                                 std::optional<TimePoint> end)
    : IntervalTrigger(try_create(interval, start, end).value()) {}

ScheduleResult<IntervalTrigger> IntervalTrigger::try_create(Duration interval,
                                                            std::optional<TimePoint> start,
                                                            std::optional<TimePoint> end) {
    if (interval <= Duration::zero()) {
        return interval_error(
            fmt::format("interval must be greater than zero, got {}{}",
                        interval < Duration::zero() ? "-" : "",
                        format_duration(interval < Duration::zero() ? -interval : interval)));
    }
    if (start && end && *end < *start) {
        return interval_error(
            fmt::format("end {} is before start {}", format_iso8601(*end), format_iso8601(*start)));
    }
    return IntervalTrigger(Checked{}, interval, start, end);
}

std::optional<TimePoint> IntervalTrigger::next_after(TimePoint after) const {
    const auto max = TimePoint::max();
    TimePoint next;
    if (start_) {
        if (after < *start_) {
            next = *start_;
        } else {
            const auto k = (after - *start_) / interval_ + 1;
            if (k > (max - *start_) / interval_) return std::nullopt;
            next = *start_ + k * interval_;
        }
    } else {
        if (after > max - interval_) return std::nullopt;
        next = after + interval_;
    }
    if (end_ && next > *end_) return std::nullopt;
    return next;
}

std::string IntervalTrigger::describe() const {
    std::string out = describe_duration(interval_);
    out[0] = 'E';
    if (start_) out += fmt::format(" from {}", format_iso8601(*start_));
    if (end_) out += fmt::format(" until {}", format_iso8601(*end_));
    return out;
}

std::string IntervalTrigger::to_string() const {
    std::string out = fmt::format("interval:{}", format_duration(interval_));
    if (start_) out += fmt::format(",start={}", format_iso8601(*start_));
    if (end_) out += fmt::format(",end={}", format_iso8601(*end_));
    return out;
}

// --- DateTrigger ---------------------------------------------------------------------------

std::string DateTrigger::describe() const { return fmt::format("Once at {}", format_iso8601(at_)); }

std::string DateTrigger::to_string() const { return fmt::format("date:{}", format_iso8601(at_)); }

// --- Trigger -------------------------------------------------------------------------------

ScheduleResult<Trigger> Trigger::try_parse(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        return trigger_error(text, "expected cron:..., interval:... or date:...");
    }
    const auto kind = text.substr(0, colon);
    const auto body = text.substr(colon + 1);
    if (kind == "cron") {
        // The zone follows the last '@'; one at the very start is a macro (cron:@daily).
        const auto at = body.rfind('@');
        const bool has_zone = at != std::string_view::npos && at > 0;
        auto trigger = CronTrigger::try_create(has_zone ? body.substr(0, at) : body,
                                               has_zone ? body.substr(at + 1) : "UTC");
        if (!trigger) return trigger.error();
        return Trigger(std::move(*trigger));
    }
    if (kind == "interval") {
        const auto comma = body.find(',');
        auto interval = parse_duration(body.substr(0, comma));
        if (!interval) return interval.error();
        std::optional<TimePoint> start, end;
        for (auto rest = comma == std::string_view::npos ? std::string_view() : body.substr(comma);
             !rest.empty();) {
            rest.remove_prefix(1);  // the ','
            const auto next = rest.find(',');
            const auto item = rest.substr(0, next);
            rest = next == std::string_view::npos ? std::string_view() : rest.substr(next);
            const auto eq = item.find('=');
            const auto key = item.substr(0, eq);
            if (eq == std::string_view::npos || (key != "start" && key != "end")) {
                return trigger_error(text,
                                     fmt::format("unknown option \"{}\" (expected "
                                                 "start=ISO-TIME or end=ISO-TIME)",
                                                 item));
            }
            auto instant = try_parse_iso8601(item.substr(eq + 1));
            if (!instant) return instant.error();
            (key == "start" ? start : end) = *instant;
        }
        auto trigger = IntervalTrigger::try_create(*interval, start, end);
        if (!trigger) return trigger.error();
        return Trigger(*trigger);
    }
    if (kind == "date") {
        auto instant = try_parse_iso8601(body);
        if (!instant) return instant.error();
        return Trigger(DateTrigger(*instant));
    }
    return trigger_error(
        text, fmt::format("unknown kind \"{}\" (expected cron, interval or date)", kind));
}

Trigger Trigger::parse(std::string_view text) { return try_parse(text).value(); }

std::optional<TimePoint> Trigger::next_after(TimePoint after) const {
    return std::visit([after](const auto& t) { return t.next_after(after); }, trigger_);
}

std::string Trigger::describe() const {
    return std::visit([](const auto& t) { return t.describe(); }, trigger_);
}

std::string Trigger::to_string() const {
    return std::visit([](const auto& t) { return t.to_string(); }, trigger_);
}

const TimeZone& Trigger::zone() const noexcept {
    static const TimeZone utc;
    if (const auto* cron = std::get_if<CronTrigger>(&trigger_)) return cron->zone();
    return utc;
}

}  // namespace afterwork
