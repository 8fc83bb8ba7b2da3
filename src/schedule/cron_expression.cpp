// SPDX-License-Identifier: MIT
#include <afterwork/schedule/cron_expression.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "schedule/civil.hpp"

namespace afterwork {
namespace {

using detail::civil_from_days;
using detail::days_from_civil;
using detail::days_in_month;
using detail::kSecondsPerDay;

constexpr std::array<std::string_view, 12> kMonthNames = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct FieldSpec {
    std::string_view name;
    int min;
    int max;  // the largest value accepted; day-of-week takes 7 for Sunday
    const std::string_view* names = nullptr;
    int name_count = 0;
    int name_base = 0;  // the value of names[0]
    bool last = false;  // `L` allowed
};

constexpr FieldSpec kSecondSpec{"second", 0, 59};
constexpr FieldSpec kMinuteSpec{"minute", 0, 59};
constexpr FieldSpec kHourSpec{"hour", 0, 23};
constexpr FieldSpec kDaySpec{"day-of-month", 1, 31, nullptr, 0, 0, true};
constexpr FieldSpec kMonthSpec{"month", 1, 12, kMonthNames.data(), 12, 1};
constexpr FieldSpec kWeekdaySpec{"day-of-week", 0, 7, kWeekdayNames.data(), 7, 0};

struct Macro {
    std::string_view name;
    std::string_view fields;
};
constexpr std::array<Macro, 7> kMacros = {{{"@yearly", "0 0 1 1 *"},
                                           {"@annually", "0 0 1 1 *"},
                                           {"@monthly", "0 0 1 * *"},
                                           {"@weekly", "0 0 * * 0"},
                                           {"@daily", "0 0 * * *"},
                                           {"@midnight", "0 0 * * *"},
                                           {"@hourly", "0 * * * *"}}};

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) ==
                      std::toupper(static_cast<unsigned char>(y));
           });
}

ScheduleError cron_error(std::string message) { return {ScheduleErrc::invalid_cron, message}; }

ScheduleError field_error(const FieldSpec& spec, std::string_view message) {
    return cron_error(fmt::format("{}: {}", spec.name, message));
}

// One field's parse result.
struct FieldBits {
    std::uint64_t bits = 0;
    bool last = false;
};

class FieldParser {
public:
    explicit FieldParser(const FieldSpec& spec) : spec_(spec) {}

    ScheduleResult<FieldBits> parse(std::string_view token) {
        FieldBits out;
        std::size_t start = 0;
        while (true) {
            const auto comma = token.find(',', start);
            const auto item = token.substr(
                start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
            if (item.empty()) {
                return field_error(spec_, fmt::format("empty item in list \"{}\"", token));
            }
            if (auto r = parse_item(item, out); !r) return r.error();
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        return out;
    }

private:
    // `value` of a list item: a number or (month, day-of-week) a name.
    ScheduleResult<int> value(std::string_view token, std::string_view item) {
        if (token.empty()) {
            return field_error(spec_, fmt::format("missing value in \"{}\"", item));
        }
        if (std::all_of(token.begin(), token.end(), is_digit)) {
            int v = 0;
            for (char c : token) {
                v = v * 10 + (c - '0');
                if (v > 9999) break;
            }
            if (v < spec_.min || v > spec_.max) {
                return field_error(
                    spec_,
                    fmt::format("\"{}\" is out of range {}-{}", token, spec_.min, spec_.max));
            }
            return v;
        }
        if (spec_.last && iequals(token, "L")) {
            return field_error(spec_,
                               fmt::format("\"{}\": L (the last day of the month) can "
                                           "only stand alone or end a range",
                                           item));
        }
        if (std::all_of(token.begin(), token.end(), is_alpha)) {
            if (spec_.names == nullptr) {
                return field_error(spec_, fmt::format("\"{}\" is not a number", token));
            }
            for (int i = 0; i < spec_.name_count; ++i) {
                if (iequals(token, spec_.names[i])) {
                    const int v = spec_.name_base + i;
                    return v;
                }
            }
            return field_error(spec_, fmt::format("unknown name \"{}\"", token));
        }
        if (token.front() == '-' || token.front() == '+') {
            return field_error(spec_, fmt::format("\"{}\" is not a number (no signs)", item));
        }
        return field_error(
            spec_, fmt::format("\"{}\" is not a number{}", token, spec_.names ? " or a name" : ""));
    }

    ScheduleResult<void> parse_item(std::string_view item, FieldBits& out) {
        const auto slash = item.find('/');
        const auto base = item.substr(0, slash);
        int step = 1;
        if (slash != std::string_view::npos) {
            const auto step_text = item.substr(slash + 1);
            if (step_text.empty()) {
                return field_error(spec_, fmt::format("missing step after \"/\" in \"{}\"", item));
            }
            if (!std::all_of(step_text.begin(), step_text.end(), is_digit)) {
                return field_error(
                    spec_, fmt::format("step \"{}\" in \"{}\" is not a number", step_text, item));
            }
            step = 0;
            for (char c : step_text) step = std::min(step * 10 + (c - '0'), 100'000);
            if (step == 0) {
                return field_error(spec_, fmt::format("step must be at least 1 in \"{}\"", item));
            }
            if (base.empty()) {
                return field_error(spec_,
                                   fmt::format("missing value before \"/\" in \"{}\"", item));
            }
        }
        // The top of `*` and `N/STEP`: 7 for day-of-week, as Vixie cron and croniter count it.
        const int top = spec_.max;
        int lo = 0, hi = 0;
        if (base == "*") {
            lo = spec_.min;
            hi = top;
        } else if (spec_.last && iequals(base, "L")) {
            if (slash != std::string_view::npos) {
                return field_error(spec_, fmt::format("\"{}\": L cannot take a step", item));
            }
            out.last = true;
            return {};
        } else if (const auto dash = base.find('-', 1);
                   dash != std::string_view::npos && base.front() != '-') {
            const auto first = base.substr(0, dash);
            const auto second = base.substr(dash + 1);
            auto a = value(first, item);
            if (!a) return a.error();
            int b = 0;
            if (spec_.last && iequals(second, "L")) {
                b = 31;  // N-L: through the last day, whatever the month
            } else {
                auto r = value(second, item);
                if (!r) return r.error();
                b = *r;
                // Sunday named at the end of a range is 7: `FRI-SUN` is Friday through Sunday.
                if (spec_.max == 7 && b == 0 && *a > 0 && is_alpha(second.front())) b = 7;
            }
            if (*a > b) return reversed(item, first, second, *a, b);
            lo = *a;
            hi = b;
        } else {
            auto v = value(base, item);
            if (!v) return v.error();
            lo = *v;
            hi = slash == std::string_view::npos ? *v : top;
        }
        for (int v = lo; v <= hi; v += step) out.bits |= std::uint64_t{1} << v;
        return {};
    }

    ScheduleError reversed(std::string_view item,
                           std::string_view first,
                           std::string_view second,
                           int a,
                           int b) const {
        // Suggest the two parts in the spelling used: "22-23,0-2", "NOV-DEC,JAN-FEB", "23,0-1".
        const bool weekday = spec_.max == 7;
        auto spell = [&](int v, std::string_view like) {
            if (spec_.names != nullptr && !like.empty() && is_alpha(like.front())) {
                return std::string(spec_.names[v - spec_.name_base]);
            }
            return std::to_string(v);
        };
        std::string hint;
        if (weekday && b == 0) {
            hint = fmt::format("{}-7", first);  // Sunday ends a range as 7
        } else {
            const int max = weekday ? 6 : spec_.max;
            hint = a == max ? std::string(first) : fmt::format("{}-{}", first, spell(max, first));
            hint += ',';
            hint += b == spec_.min ? std::string(second)
                                   : fmt::format("{}-{}", spell(spec_.min, second), second);
        }
        return field_error(spec_,
                           fmt::format("range \"{}\" is reversed ({} > {}); write the two "
                                       "parts instead, e.g. \"{}\"",
                                       item,
                                       a,
                                       b,
                                       hint));
    }

    const FieldSpec& spec_;
};

}  // namespace

ScheduleResult<CronExpression> CronExpression::try_parse(std::string_view text) {
    while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
    if (text.empty()) return cron_error("empty cron expression");

    std::string_view fields_text = text;
    if (text.front() == '@') {
        const auto it = std::find_if(
            kMacros.begin(), kMacros.end(), [&](const Macro& m) { return iequals(m.name, text); });
        if (it == kMacros.end()) {
            return cron_error(fmt::format(
                "unknown macro \"{}\" (known: @yearly @annually @monthly @weekly @daily "
                "@midnight @hourly)",
                text));
        }
        fields_text = it->fields;
    }

    std::vector<std::string_view> fields;
    for (std::size_t i = 0; i < fields_text.size();) {
        if (is_blank(fields_text[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < fields_text.size() && !is_blank(fields_text[j])) ++j;
        fields.push_back(fields_text.substr(i, j - i));
        i = j;
    }
    if (fields.size() != 5 && fields.size() != 6) {
        return cron_error(fmt::format(
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a leading "
            "second, then those five), got {} in \"{}\"",
            fields.size(),
            text));
    }

    CronExpression e;
    const bool six = fields.size() == 6;
    const std::size_t o = six ? 1 : 0;
    if (six) {
        auto r = FieldParser(kSecondSpec).parse(fields[0]);
        if (!r) return r.error();
        e.seconds_ = r->bits;
        e.flags_ |= kSixFields;
    } else {
        e.seconds_ = 1;
    }
    auto minutes = FieldParser(kMinuteSpec).parse(fields[o]);
    if (!minutes) return minutes.error();
    auto hours = FieldParser(kHourSpec).parse(fields[o + 1]);
    if (!hours) return hours.error();
    auto days = FieldParser(kDaySpec).parse(fields[o + 2]);
    if (!days) return days.error();
    auto months = FieldParser(kMonthSpec).parse(fields[o + 3]);
    if (!months) return months.error();
    auto weekdays = FieldParser(kWeekdaySpec).parse(fields[o + 4]);
    if (!weekdays) return weekdays.error();

    e.minutes_ = minutes->bits;
    e.hours_ = static_cast<std::uint32_t>(hours->bits);
    e.days_ = static_cast<std::uint32_t>(days->bits);
    e.months_ = static_cast<std::uint16_t>(months->bits);
    // 7 is Sunday too (cronie: "make sundays equivalent").
    e.weekdays_ = static_cast<std::uint8_t>((weekdays->bits | (weekdays->bits >> 7)) & 0x7f);
    if (days->last) e.flags_ |= kLastDay;
    if (fields[o + 2].front() == '*') e.flags_ |= kDomStar;
    if (fields[o + 4].front() == '*') e.flags_ |= kDowStar;
    // cronie's MIN_STAR / HR_STAR, from the first character as it writes them; the seconds
    // field takes no part. `@hourly` expands to `0 * * * *` and gets HR_STAR, as in cronie.
    if (fields[o].front() == '*' || fields[o + 1].front() == '*') e.flags_ |= kTimeStar;

    // When a day must match day-of-month (the AND case), a day-of-month that exists in none of
    // the months means the expression never fires: `0 0 30 2 *`. Every (month, day) pair that
    // exists falls on every weekday over the years, so day-of-week cannot make it impossible.
    if (!e.days_or() && !e.has_last_day_of_month()) {
        bool possible = false;
        for (int m = 1; m <= 12 && !possible; ++m) {
            if ((e.months_ >> m & 1) == 0) continue;
            const int dim = m == 2 ? 29 : days_in_month(2001, m);
            possible = (e.days_ & ((std::uint64_t{1} << (dim + 1)) - 2)) != 0;
        }
        if (!possible) {
            return cron_error(fmt::format(
                "day-of-month: \"{}\" never occurs in month \"{}\", so the expression would "
                "never fire",
                fields[o + 2],
                fields[o + 3]));
        }
    }

    if (text.front() == '@') {
        e.text_ = std::string(text);
    } else {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i != 0) e.text_ += ' ';
            e.text_ += fields[i];
        }
    }
    return e;
}

CronExpression CronExpression::parse(std::string_view text) { return try_parse(text).value(); }

std::uint64_t CronExpression::bits(CronField field) const noexcept {
    switch (field) {
        case CronField::second:
            return seconds_;
        case CronField::minute:
            return minutes_;
        case CronField::hour:
            return hours_;
        case CronField::day_of_month:
            return days_;
        case CronField::month:
            return months_;
        case CronField::day_of_week:
            return weekdays_;
    }
    return 0;
}

std::uint32_t CronExpression::day_mask(std::int64_t y, int m) const noexcept {
    const int dim = days_in_month(y, m);
    const std::uint64_t valid = (std::uint64_t{1} << (dim + 1)) - 2;  // bits 1..dim
    std::uint64_t dom = days_ & valid;
    if ((flags_ & kLastDay) != 0) dom |= std::uint64_t{1} << dim;
    // Bit j of `week` says whether day j+1 matches day-of-week: rotate the weekday bits so
    // bit 0 is the weekday of the 1st, then repeat the week over 35 days.
    const int wd1 = detail::weekday_from_days(days_from_civil(y, m, 1));
    const std::uint64_t week =
        ((std::uint64_t{weekdays_} >> wd1) | (std::uint64_t{weekdays_} << (7 - wd1))) & 0x7f;
    const std::uint64_t dow =
        ((week | week << 7 | week << 14 | week << 21 | week << 28) << 1) & valid;
    return static_cast<std::uint32_t>(days_or() ? (dom | dow) : (dom & dow));
}

bool CronExpression::matches(std::chrono::local_seconds t) const noexcept {
    const std::int64_t s = t.time_since_epoch().count();
    const std::int64_t days = detail::floor_div(s, kSecondsPerDay);
    const std::int64_t sod = s - days * kSecondsPerDay;
    const auto date = civil_from_days(days);
    return (seconds_ >> (sod % 60) & 1) != 0 && (minutes_ >> (sod / 60 % 60) & 1) != 0 &&
           (hours_ >> (sod / 3600) & 1) != 0 && (months_ >> date.month & 1) != 0 &&
           (day_mask(date.year, date.month) >> date.day & 1) != 0;
}

std::optional<std::chrono::local_seconds> CronExpression::next_local(
    std::chrono::local_seconds after) const {
    const std::int64_t t = after.time_since_epoch().count() + 1;
    const std::int64_t start_days = detail::floor_div(t, kSecondsPerDay);
    const std::int64_t sod = t - start_days * kSecondsPerDay;
    const auto start = civil_from_days(start_days);
    std::int64_t y = start.year;
    int mo = start.month;
    int d = start.day;
    int h = static_cast<int>(sod / 3600);
    int mi = static_cast<int>(sod / 60 % 60);
    int s = static_cast<int>(sod % 60);
    const std::int64_t last_year = y + 400;

    // Each step finds the next allowed value of one field at or after the current one with a
    // bit scan; when a field has none left it carries into the field above (which may then be
    // one past its range, e.g. hour 24 or month 13; the scan of that field finds nothing and
    // carries again) and resets the fields below. Every pass moves forward, so the loop ends.
    constexpr auto from = [](int v) { return ~std::uint64_t{0} << v; };
    while (y <= last_year) {
        if ((months_ >> mo & 1) == 0) {
            const std::uint64_t later = std::uint64_t{months_} & from(mo);
            if (later == 0) {
                ++y;
                mo = std::countr_zero(months_);
            } else {
                mo = std::countr_zero(later);
            }
            d = 1;
            h = mi = s = 0;
        }
        const std::uint64_t days = std::uint64_t{day_mask(y, mo)} & from(d);
        if (days == 0) {
            ++mo;
            d = 1;
            h = mi = s = 0;
            continue;
        }
        if (const int nd = std::countr_zero(days); nd != d) {
            d = nd;
            h = mi = s = 0;
        }
        const std::uint64_t hours = std::uint64_t{hours_} & from(h);
        if (hours == 0) {
            ++d;
            h = mi = s = 0;
            continue;
        }
        if (const int nh = std::countr_zero(hours); nh != h) {
            h = nh;
            mi = s = 0;
        }
        const std::uint64_t minutes = minutes_ & from(mi);
        if (minutes == 0) {
            ++h;
            mi = s = 0;
            continue;
        }
        if (const int nm = std::countr_zero(minutes); nm != mi) {
            mi = nm;
            s = 0;
        }
        const std::uint64_t secs = seconds_ & from(s);
        if (secs == 0) {
            ++mi;
            s = 0;
            continue;
        }
        s = std::countr_zero(secs);
        return std::chrono::local_seconds(std::chrono::seconds(
            days_from_civil(y, mo, d) * kSecondsPerDay + h * 3600LL + mi * 60LL + s));
    }
    return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> CronExpression::next_after(
    std::chrono::system_clock::time_point after, const TimeZone& zone) const {
    using std::chrono::local_seconds;
    using std::chrono::seconds;
    using std::chrono::sys_seconds;
    using Clock = std::chrono::system_clock;
    constexpr std::int64_t kMaxSeconds =
        std::chrono::duration_cast<seconds>(Clock::duration::max()).count() - 1;
    auto to_time_point = [](sys_seconds s) -> std::optional<Clock::time_point> {
        if (s.time_since_epoch().count() > kMaxSeconds) return std::nullopt;
        return Clock::time_point(s);
    };

    const sys_seconds t = std::chrono::floor<seconds>(after);
    if (zone.is_utc()) {
        auto c = next_local(local_seconds(t.time_since_epoch()));
        if (!c) return std::nullopt;
        return to_time_point(sys_seconds(c->time_since_epoch()));
    }
    const local_seconds here = zone.to_local(t);
    auto c = next_local(here);
    if (!c) return std::nullopt;

    if (minute_or_hour_star()) {
        // A wildcard job fires at every instant whose wall-clock time matches (plus the change
        // instant for skipped matches), so walk real time from `t`: wall-clock time runs on
        // from `here` to the next match `c`, except that when `t` is in the first pass of a
        // repeat, the clock goes back at the end of it and the second pass comes before any
        // later wall-clock time.
        const LocalTimeInfo at_t = zone.lookup(here);
        if (at_t.kind == LocalTimeInfo::Kind::ambiguous && t < at_t.transition) {
            const local_seconds repeat_end(
                (at_t.transition + at_t.offset_before).time_since_epoch());
            if (*c >= repeat_end) {
                const local_seconds repeat_start(
                    (at_t.transition + at_t.offset_after).time_since_epoch());
                if (auto again = next_local(repeat_start - seconds(1));
                    again && *again < repeat_end) {
                    return to_time_point(
                        sys_seconds(again->time_since_epoch() - at_t.offset_after));
                }
            }
        }
        // Otherwise `c` comes next. Its first occurrence is after `t` unless `t` is in the
        // second pass of the repeat `c` is in; then its second one is (wall-clock time rose
        // from `here` to `c` within that pass). A skipped `c` fires at the change, after `t`.
        const LocalTimeInfo info = zone.lookup(*c);
        if (info.kind == LocalTimeInfo::Kind::ambiguous && info.instant <= t) {
            return to_time_point(info.second);
        }
        return to_time_point(info.instant);
    }

    // A fixed-time job: every matching wall-clock time maps to one instant
    // (LocalTimeInfo::instant), and that map never goes backwards as wall-clock time advances;
    // so the answer is the image of the first match whose instant is after `t`. Matches after
    // the wall-clock time of `t` all qualify except, when `t` is inside the second pass of a
    // repeated hour, those whose first occurrence is already past: skip to the end of the
    // repeat.
    for (int guard = 0; c && guard < 8; ++guard) {
        const LocalTimeInfo info = zone.lookup(*c);
        if (info.instant > t) return to_time_point(info.instant);
        auto resume = *c;
        if (info.kind == LocalTimeInfo::Kind::ambiguous) {
            const local_seconds repeat_end(
                (info.transition + info.offset_before).time_since_epoch());
            resume = std::max(resume, repeat_end - seconds(1));
        }
        c = next_local(resume);
    }
    return std::nullopt;
}

}  // namespace afterwork
