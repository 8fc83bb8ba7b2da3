// SPDX-License-Identifier: MIT
// explain(): an English sentence for a cron expression. Built from the parsed bit sets, not
// the text, so `0/15`, `*/15` and `0,15,30,45` read the same. Each phrase is chosen only when
// it is exactly true (e.g. "every 7 minutes" is not, since :56 is followed by :00); otherwise
// the values are listed.

#include <afterwork/schedule/cron_expression.hpp>

#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace afterwork {
namespace {

constexpr std::array<std::string_view, 7> kWeekdays = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"January",
                                                      "February",
                                                      "March",
                                                      "April",
                                                      "May",
                                                      "June",
                                                      "July",
                                                      "August",
                                                      "September",
                                                      "October",
                                                      "November",
                                                      "December"};

std::vector<int> values_of(std::uint64_t bits, int lo, int hi) {
    std::vector<int> out;
    for (int v = lo; v <= hi; ++v) {
        if ((bits >> v & 1) != 0) out.push_back(v);
    }
    return out;
}

std::string ordinal(int n) {
    const int tens = n % 100;
    const char* suffix = "th";
    if (tens < 11 || tens > 13) {
        switch (n % 10) {
            case 1:
                suffix = "st";
                break;
            case 2:
                suffix = "nd";
                break;
            case 3:
                suffix = "rd";
                break;
            default:
                break;
        }
    }
    return fmt::format("{}{}", n, suffix);
}

std::string join(const std::vector<std::string>& items, std::string_view last = "and") {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0) out += i + 1 == items.size() ? fmt::format(" {} ", last) : ", ";
        out += items[i];
    }
    return out;
}

// {a, a+k, a+2k, ...} with at least three values and k >= 2.
struct Progression {
    int first = 0;
    int last = 0;
    int step = 0;
};

std::optional<Progression> progression(const std::vector<int>& v) {
    if (v.size() < 3) return std::nullopt;
    const int step = v[1] - v[0];
    if (step < 2) return std::nullopt;
    for (std::size_t i = 2; i < v.size(); ++i) {
        if (v[i] - v[i - 1] != step) return std::nullopt;
    }
    return Progression{v.front(), v.back(), step};
}

// "every 15 minutes" is exact only when the progression starts at the field's first value
// and the step divides the field's span (otherwise the gap across the wrap differs).
bool even_steps(const std::optional<Progression>& p, int span) {
    return p && p->first == 0 && span % p->step == 0 && p->last + p->step == span;
}

// Values as "a", "a and b", "a through c" runs: `name` spells one value.
template <class Name>
std::string runs(const std::vector<int>& v, Name name, std::string_view last = "and") {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
        if (j - i >= 2) {
            parts.push_back(fmt::format("{} through {}", name(v[i]), name(v[j])));
        } else {
            for (std::size_t k = i; k <= j; ++k) parts.push_back(name(v[k]));
        }
        i = j + 1;
    }
    return join(parts, last);
}

std::string number(int v) { return std::to_string(v); }

std::string clock(int h, int m) { return fmt::format("{:02}:{:02}", h, m); }
std::string clock(int h, int m, int s) {
    return s == 0 ? clock(h, m) : fmt::format("{:02}:{:02}:{:02}", h, m, s);
}

// "at minute 5", "at minutes 0 through 10", "every 7 minutes from minute 0 through 56".
std::string unit_values(const std::vector<int>& v, std::string_view unit) {
    if (v.size() == 1) return fmt::format("at {} {}", unit, v[0]);
    if (auto p = progression(v)) {
        return fmt::format(
            "every {} {}s from {} {} through {}", p->step, unit, unit, p->first, p->last);
    }
    return fmt::format("at {}s {}", unit, runs(v, number));
}

// How the hours read after "... past" / "... during": "every hour", "hour 9",
// "hours 9 through 17", "every 2nd hour".
std::string hours_phrase(const std::vector<int>& h) {
    if (h.size() == 24) return "every hour";
    if (h.size() == 1) return fmt::format("hour {}", h[0]);
    const auto p = progression(h);
    if (even_steps(p, 24)) return fmt::format("every {} hour", ordinal(p->step));
    if (p)
        return fmt::format(
            "every {} hour from hour {} through {}", ordinal(p->step), p->first, p->last);
    return fmt::format("hours {}", runs(h, number));
}

struct TimePhrase {
    std::string text;
    bool clock = false;  // a list of clock times: the day part says "every day"
};

TimePhrase time_phrase(const CronExpression& e) {
    const auto s = values_of(e.bits(CronField::second), 0, 59);
    const auto m = values_of(e.bits(CronField::minute), 0, 59);
    const auto h = values_of(e.bits(CronField::hour), 0, 23);

    // A few clock times: "At 09:00", "At 09:00 and 17:30:15".
    if (s.size() == 1 && m.size() == 1 && h.size() <= 6) {
        std::vector<std::string> times;
        for (int hour : h) times.push_back(clock(hour, m[0], s[0]));
        return {fmt::format("At {}", join(times)), true};
    }

    const bool whole_minutes = s.size() == 1 && s[0] == 0;
    const auto mp = progression(m);
    const bool every_minute = m.size() == 60;
    const bool minute_steps = even_steps(mp, 60);
    std::string minutes;  // the part for the minute and hour fields
    if (m.size() == 1) {
        const auto hp = progression(h);
        if (h.size() == 24) {
            minutes = fmt::format("at minute {} past every hour", m[0]);
        } else if (h.size() >= 3 && h.back() - h.front() + 1 == static_cast<int>(h.size())) {
            minutes = fmt::format(
                "every hour from {} through {}", clock(h.front(), m[0]), clock(h.back(), m[0]));
        } else if (m[0] == 0 && even_steps(hp, 24)) {
            minutes = fmt::format("every {} hours", hp->step);
        } else {
            minutes = fmt::format("at minute {} past {}", m[0], hours_phrase(h));
        }
    } else if (every_minute || minute_steps) {
        const std::string every =
            every_minute ? "every minute" : fmt::format("every {} minutes", mp->step);
        if (h.size() == 24) {
            minutes = every;
        } else if (h.back() - h.front() + 1 == static_cast<int>(h.size())) {
            minutes = fmt::format(
                "{} from {} through {}", every, clock(h.front(), 0), clock(h.back(), m.back()));
        } else {
            minutes = fmt::format("{} during {}", every, hours_phrase(h));
        }
    } else {
        minutes = fmt::format("{} past {}", unit_values(m, "minute"), hours_phrase(h));
    }

    if (whole_minutes) return {minutes, false};

    // Seconds first, then which minutes they run in.
    const auto sp = progression(s);
    std::string seconds;
    if (s.size() == 60) {
        seconds = "every second";
    } else if (even_steps(sp, 60)) {
        seconds = fmt::format("every {} seconds", sp->step);
    } else {
        seconds = unit_values(s, "second");
    }
    if (every_minute && h.size() == 24) {
        return {s.size() == 60 || even_steps(sp, 60) ? seconds : seconds + " of every minute",
                false};
    }
    if (m.size() == 1 && h.size() <= 6) {
        std::vector<std::string> times;
        for (int hour : h) times.push_back(clock(hour, m[0]));
        return {fmt::format("{} during {}", seconds, join(times)), false};
    }
    if (every_minute) return {fmt::format("{} during {}", seconds, hours_phrase(h)), false};
    return {fmt::format("{}, {} past {}", seconds, unit_values(m, "minute"), hours_phrase(h)),
            false};
}

std::string weekday_name(int v) { return std::string(kWeekdays[static_cast<std::size_t>(v)]); }

// Weekdays from Monday, so FRI-SUN and MON-FRI read as runs.
std::string weekdays_phrase(std::uint64_t bits, std::string_view last = "and") {
    std::vector<int> v;
    for (int d : {1, 2, 3, 4, 5, 6, 0}) {
        if ((bits >> d & 1) != 0) v.push_back(d == 0 ? 7 : d);
    }
    return runs(
        v, [](int d) { return weekday_name(d % 7); }, last);
}

std::string days_of_month_phrase(const CronExpression& e) {
    const auto d = values_of(e.bits(CronField::day_of_month), 1, 31);
    std::string numbers;
    if (d.size() == 1) {
        numbers = fmt::format("on day {} of the month", d[0]);
    } else if (auto p = progression(d)) {
        numbers = fmt::format("on every {} day of the month from day {} through {}",
                              ordinal(p->step),
                              p->first,
                              p->last);
    } else if (!d.empty()) {
        numbers = fmt::format("on days {} of the month", runs(d, number));
    }
    if (!e.has_last_day_of_month()) return numbers;
    if (numbers.empty()) return "on the last day of the month";
    return numbers + " and on the last day of the month";
}

// "January 1" when the day fields and the month name one date.
std::optional<std::string> single_date(const CronExpression& e) {
    const auto d = values_of(e.bits(CronField::day_of_month), 1, 31);
    const auto m = values_of(e.bits(CronField::month), 1, 12);
    if (d.size() != 1 || m.size() != 1 || e.has_last_day_of_month() || e.days_or() ||
        e.bits(CronField::day_of_week) != 0x7f) {
        return std::nullopt;
    }
    return fmt::format("on {} {}", kMonths[static_cast<std::size_t>(m[0] - 1)], d[0]);
}

std::string day_phrase(const CronExpression& e) {
    const bool dom_all = e.bits(CronField::day_of_month) == 0xfffffffeULL;
    const bool dow_all = e.bits(CronField::day_of_week) == 0x7f;
    const auto dow = e.bits(CronField::day_of_week);
    if (e.days_or()) {
        if (dom_all || dow_all) return {};
        return fmt::format("{} and on every {}", days_of_month_phrase(e), weekdays_phrase(dow));
    }
    if (dom_all && dow_all) return {};
    if (dow_all) return days_of_month_phrase(e);
    if (dom_all) return fmt::format("on {}", weekdays_phrase(dow));
    return fmt::format("{} if that day is {}", days_of_month_phrase(e), weekdays_phrase(dow, "or"));
}

std::string month_phrase(const CronExpression& e) {
    const auto m = values_of(e.bits(CronField::month), 1, 12);
    if (m.size() == 12) return {};
    return fmt::format("in {}", runs(m, [](int v) {
                           return std::string(kMonths[static_cast<std::size_t>(v - 1)]);
                       }));
}

}  // namespace

std::string explain(const CronExpression& expression) {
    auto time = time_phrase(expression);
    std::string out = std::move(time.text);
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    const auto date = single_date(expression);
    const std::string days = date ? *date : day_phrase(expression);
    const std::string months = date ? std::string() : month_phrase(expression);
    if (!days.empty()) {
        out += ' ';
        out += days;
    } else if (time.clock) {
        out += " every day";
    }
    if (!months.empty()) {
        out += ' ';
        out += months;
    }
    return out;
}

}  // namespace afterwork
