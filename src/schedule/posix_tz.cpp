// SPDX-License-Identifier: MIT
#include "schedule/posix_tz.hpp"

#include <algorithm>
#include <cctype>

#include "schedule/civil.hpp"

namespace afterwork::detail {
namespace {

// A cursor over the rule text; every parse_* returns false (and leaves garbage) on bad input.
struct Cursor {
    std::string_view s;
    std::size_t i = 0;

    bool done() const noexcept { return i >= s.size(); }
    char peek() const noexcept { return done() ? '\0' : s[i]; }
    bool eat(char c) noexcept {
        if (peek() != c) return false;
        ++i;
        return true;
    }
    bool number(int max, int& out) noexcept {
        std::size_t start = i;
        long value = 0;
        while (!done() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < 4) {
            value = value * 10 + (s[i] - '0');
            ++i;
        }
        if (i == start || value > max) return false;
        out = static_cast<int>(value);
        return true;
    }
};

bool parse_name(Cursor& c) {
    if (c.eat('<')) {
        std::size_t start = c.i;
        while (!c.done() && c.peek() != '>') ++c.i;
        return c.i > start && c.eat('>');
    }
    std::size_t start = c.i;
    while (!c.done() && std::isalpha(static_cast<unsigned char>(c.peek()))) ++c.i;
    return c.i - start >= 3;
}

// [+-]hh[:mm[:ss]] in seconds, hours up to `max_hours`.
bool parse_hms(Cursor& c, int max_hours, std::int64_t& out) {
    int sign = 1;
    if (c.eat('-')) {
        sign = -1;
    } else {
        c.eat('+');
    }
    int h = 0, m = 0, s = 0;
    if (!c.number(max_hours, h)) return false;
    if (c.eat(':')) {
        if (!c.number(59, m)) return false;
        if (c.eat(':') && !c.number(59, s)) return false;
    }
    out = sign * (h * 3600LL + m * 60LL + s);
    return true;
}

}  // namespace

std::optional<PosixTz> PosixTz::parse(std::string_view rule) {
    Cursor c{rule};
    PosixTz tz;
    std::int64_t posix_offset = 0;  // POSIX counts west positive
    if (!parse_name(c) || !parse_hms(c, 24, posix_offset)) return std::nullopt;
    tz.std_offset_ = -posix_offset;
    if (c.done()) return tz;

    if (!parse_name(c)) return std::nullopt;
    tz.has_dst_ = true;
    tz.dst_offset_ = tz.std_offset_ + 3600;
    if (c.peek() != ',' && !c.done()) {
        if (!parse_hms(c, 24, posix_offset)) return std::nullopt;
        tz.dst_offset_ = -posix_offset;
    }
    // TZif footers always spell the rules out; without them the default is implementation
    // defined, so refuse rather than guess.
    auto parse_rule = [&c](Rule& r) {
        if (!c.eat(',')) return false;
        if (c.eat('J')) {
            r.kind = Rule::Kind::julian_no_leap;
            if (!c.number(365, r.day) || r.day < 1) return false;
        } else if (c.eat('M')) {
            r.kind = Rule::Kind::month_week_day;
            if (!c.number(12, r.month) || r.month < 1 || !c.eat('.') || !c.number(5, r.week) ||
                r.week < 1 || !c.eat('.') || !c.number(6, r.weekday)) {
                return false;
            }
        } else {
            r.kind = Rule::Kind::zero_based;
            if (!c.number(365, r.day)) return false;
        }
        r.time = 7200;
        if (c.eat('/')) return parse_hms(c, 167, r.time);
        return true;
    };
    if (!parse_rule(tz.start_) || !parse_rule(tz.end_) || !c.done()) return std::nullopt;
    return tz;
}

std::int64_t PosixTz::Rule::local_in(std::int64_t year) const noexcept {
    std::int64_t days = 0;
    switch (kind) {
        case Kind::julian_no_leap:
            days = days_from_civil(year, 1, 1) + day - 1 + (is_leap_year(year) && day >= 60);
            break;
        case Kind::zero_based:
            days = days_from_civil(year, 1, 1) + day;
            break;
        case Kind::month_week_day: {
            const std::int64_t first = days_from_civil(year, month, 1);
            int d = 1 + (weekday - weekday_from_days(first) + 7) % 7 + (week - 1) * 7;
            while (d > days_in_month(year, month)) d -= 7;
            days = first + d - 1;
            break;
        }
    }
    return days * kSecondsPerDay + time;
}

void PosixTz::transitions_around(std::int64_t year, Transition (&out)[6]) const noexcept {
    for (int k = 0; k < 3; ++k) {
        const std::int64_t y = year - 1 + k;
        out[2 * k] = {start_.local_in(y) - std_offset_, std_offset_, dst_offset_};
        out[2 * k + 1] = {end_.local_in(y) - dst_offset_, dst_offset_, std_offset_};
    }
    std::sort(std::begin(out), std::end(out), [](const Transition& a, const Transition& b) {
        return a.at < b.at;
    });
}

std::chrono::seconds PosixTz::offset_at(std::chrono::sys_seconds instant) const {
    if (!has_dst_) return std::chrono::seconds(std_offset_);
    const std::int64_t t = instant.time_since_epoch().count();
    Transition around[6];
    transitions_around(civil_from_days(floor_div(t + std_offset_, kSecondsPerDay)).year, around);
    std::int64_t offset = around[0].before;
    for (const auto& tr : around) {
        if (tr.at > t) break;
        offset = tr.after;
    }
    return std::chrono::seconds(offset);
}

LocalTimeInfo PosixTz::lookup(std::chrono::local_seconds local) const {
    using std::chrono::seconds;
    using std::chrono::sys_seconds;
    const std::int64_t l = local.time_since_epoch().count();
    LocalTimeInfo info;
    if (has_dst_) {
        Transition around[6];
        transitions_around(civil_from_days(floor_div(l, kSecondsPerDay)).year, around);
        for (const auto& tr : around) {
            const std::int64_t lo = tr.at + std::min(tr.before, tr.after);
            const std::int64_t hi = tr.at + std::max(tr.before, tr.after);
            if (l < lo || l >= hi) continue;
            info.transition = sys_seconds(seconds(tr.at));
            info.offset_before = seconds(tr.before);
            info.offset_after = seconds(tr.after);
            if (tr.after > tr.before) {
                info.kind = LocalTimeInfo::Kind::nonexistent;
                info.instant = info.second = info.transition;
            } else {
                info.kind = LocalTimeInfo::Kind::ambiguous;
                info.instant = sys_seconds(seconds(l - tr.before));
                info.second = sys_seconds(seconds(l - tr.after));
            }
            return info;
        }
    }
    // Neither skipped nor repeated: exactly one of the two offsets is consistent.
    std::int64_t offset = offset_at(sys_seconds(seconds(l - std_offset_))).count();
    if (offset_at(sys_seconds(seconds(l - offset))).count() != offset) {
        offset = offset == std_offset_ ? dst_offset_ : std_offset_;
    }
    info.instant = info.second = info.transition = sys_seconds(seconds(l - offset));
    info.offset_before = info.offset_after = seconds(offset);
    return info;
}

}  // namespace afterwork::detail
