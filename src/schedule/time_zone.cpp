// SPDX-License-Identifier: MIT
#include <afterwork/schedule/time_zone.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <date/tz.h>
#include <fmt/format.h>

#include "schedule/civil.hpp"
#include "schedule/posix_tz.hpp"

namespace afterwork {
namespace detail {

struct ZoneData {
    std::string name;
    // Null for the fixed-UTC aliases (Etc/UTC, GMT...): offset zero, no database look-up.
    const date::time_zone* zone = nullptr;
    // The POSIX rule that governs instants from `tail_from` (the zone's last listed transition)
    // on, when it has daylight saving; see posix_tz.hpp for why.
    std::optional<PosixTz> tail;
    std::int64_t tail_from = std::numeric_limits<std::int64_t>::max();
};

}  // namespace detail

namespace {

using detail::ZoneData;
using std::chrono::seconds;
using std::chrono::sys_seconds;

// Where date/tz reads the zone files when built with USE_OS_TZDB on Linux.
constexpr std::string_view kZoneInfoDir = "/usr/share/zoneinfo/";

// The POSIX TZ footer of a TZif version 2+ file: the text between the last two newlines.
std::optional<detail::PosixTz> read_footer(const std::string& zone_name) {
    std::ifstream in(std::string(kZoneInfoDir) + zone_name, std::ios::binary);
    if (!in) return std::nullopt;
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < 46 || bytes.compare(0, 4, "TZif") != 0 || bytes[4] < '2' ||
        bytes.back() != '\n') {
        return std::nullopt;
    }
    const auto start = bytes.rfind('\n', bytes.size() - 2);
    if (start == std::string::npos) return std::nullopt;
    const std::string_view footer(bytes.data() + start + 1, bytes.size() - start - 2);
    if (!std::all_of(footer.begin(), footer.end(), [](char c) { return c > ' ' && c < 0x7f; })) {
        return std::nullopt;
    }
    return detail::PosixTz::parse(footer);
}

bool is_fixed_utc_alias(std::string_view name) {
    return name == "Etc/UTC" || name == "GMT" || name == "Etc/GMT";
}

bool plausible_zone_name(std::string_view name) {
    if (name.empty() || name.size() > 128 || name.front() == '/' ||
        name.find("..") != std::string_view::npos) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
               c == '+';
    });
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

ScheduleError unknown_zone(std::string_view name, std::string_view suggestion = {}) {
    std::string message = fmt::format("unknown time zone \"{}\"", name);
    if (!suggestion.empty()) message += fmt::format(" (did you mean \"{}\"?)", suggestion);
    return {ScheduleErrc::unknown_time_zone, message};
}

// Zones are few and immutable: one ZoneData per name for the life of the process, so a
// hundred thousand schedules in one zone share one.
class ZoneCache {
public:
    ScheduleResult<std::shared_ptr<const ZoneData>> get(std::string_view name) {
        std::lock_guard lock(mutex_);
        if (auto it = zones_.find(std::string(name)); it != zones_.end()) return it->second;
        auto data = std::make_shared<ZoneData>();
        data->name = std::string(name);
        if (!is_fixed_utc_alias(name)) {
            try {
                data->zone = date::locate_zone(name);
            } catch (const std::exception&) {
                return unknown_zone(name, suggest(name));
            }
            // The last listed transition: what date/tz reports for a far-future instant.
            const auto last = data->zone->get_info(date::sys_days(date::year(3000) / 1 / 1));
            if (auto footer = read_footer(data->zone->name()); footer && footer->has_dst()) {
                data->tail = *footer;
                data->tail_from = date::floor<seconds>(last.begin).time_since_epoch().count();
            }
        }
        auto [it, inserted] = zones_.emplace(data->name, std::move(data));
        return std::shared_ptr<const ZoneData>(it->second);
    }

private:
    static std::string suggest(std::string_view name) {
        try {
            // With USE_OS_TZDB links are zones too (the files are links on disk).
            for (const auto& zone : date::get_tzdb().zones) {
                if (iequals(zone.name(), name)) return std::string(zone.name());
            }
        } catch (const std::exception&) {
            // No database at all: the plain "unknown" message is the best we can say.
        }
        return {};
    }

    std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<const ZoneData>> zones_;
};

ZoneCache& zone_cache() {
    static ZoneCache cache;
    return cache;
}

LocalTimeInfo from_date_info(const date::local_info& li, std::int64_t local) {
    LocalTimeInfo info;
    const auto first_offset = li.first.offset.count();
    switch (li.result) {
        case date::local_info::unique:
            info.instant = info.second = info.transition =
                sys_seconds(seconds(local - first_offset));
            info.offset_before = info.offset_after = li.first.offset;
            break;
        case date::local_info::nonexistent:
            info.kind = LocalTimeInfo::Kind::nonexistent;
            info.instant = info.second = info.transition = date::floor<seconds>(li.second.begin);
            info.offset_before = li.first.offset;
            info.offset_after = li.second.offset;
            break;
        case date::local_info::ambiguous:
            info.kind = LocalTimeInfo::Kind::ambiguous;
            info.instant = sys_seconds(seconds(local - first_offset));
            info.second = sys_seconds(seconds(local - li.second.offset.count()));
            info.transition = date::floor<seconds>(li.second.begin);
            info.offset_before = li.first.offset;
            info.offset_after = li.second.offset;
            break;
    }
    return info;
}

}  // namespace

ScheduleResult<TimeZone> TimeZone::try_locate(std::string_view name) {
    if (name == "UTC") return TimeZone{};
    if (!plausible_zone_name(name)) return unknown_zone(name);
    auto data = zone_cache().get(name);
    if (!data) return data.error();
    return TimeZone(std::move(*data));
}

TimeZone TimeZone::locate(std::string_view name) { return try_locate(name).value(); }

const std::string& TimeZone::name() const noexcept {
    static const std::string utc = "UTC";
    return data_ ? data_->name : utc;
}

bool TimeZone::is_utc() const noexcept { return !data_ || !data_->zone; }

seconds TimeZone::offset_at(sys_seconds instant) const {
    if (!data_ || !data_->zone) return seconds(0);
    if (data_->tail && instant.time_since_epoch().count() >= data_->tail_from) {
        return data_->tail->offset_at(instant);
    }
    return data_->zone->get_info(instant).offset;
}

LocalTimeInfo TimeZone::lookup(std::chrono::local_seconds local) const {
    const std::int64_t l = local.time_since_epoch().count();
    if (!data_ || !data_->zone) {
        LocalTimeInfo info;
        info.instant = info.second = info.transition = sys_seconds(seconds(l));
        return info;
    }
    // A day's margin keeps the switch-over away from any transition near `tail_from`: both
    // sources agree between the last listed transition and the next one the rule makes.
    if (data_->tail && l - detail::kSecondsPerDay >= data_->tail_from) {
        return data_->tail->lookup(local);
    }
    return from_date_info(data_->zone->get_info(date::local_seconds(seconds(l))), l);
}

namespace {

std::string format_with_offset(std::chrono::system_clock::time_point instant,
                               std::int64_t offset,
                               bool zulu) {
    const auto whole = std::chrono::floor<seconds>(instant);
    const auto nanos =
        std::chrono::duration_cast<std::chrono::nanoseconds>(instant - whole).count();
    const std::int64_t local = whole.time_since_epoch().count() + offset;
    const std::int64_t days = detail::floor_div(local, detail::kSecondsPerDay);
    const std::int64_t sod = local - days * detail::kSecondsPerDay;
    const auto date = detail::civil_from_days(days);
    std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                                  date.year,
                                  date.month,
                                  date.day,
                                  sod / 3600,
                                  sod / 60 % 60,
                                  sod % 60);
    if (nanos != 0) {
        std::string fraction = fmt::format("{:09}", nanos);
        fraction.erase(fraction.find_last_not_of('0') + 1);
        out += '.';
        out += fraction;
    }
    if (zulu) {
        out += 'Z';
        return out;
    }
    const char sign = offset < 0 ? '-' : '+';
    const std::int64_t a = offset < 0 ? -offset : offset;
    out += fmt::format("{}{:02}:{:02}", sign, a / 3600, a / 60 % 60);
    if (a % 60 != 0) out += fmt::format(":{:02}", a % 60);
    return out;
}

}  // namespace

std::string format_iso8601(std::chrono::system_clock::time_point instant) {
    return format_with_offset(instant, 0, true);
}

std::string format_iso8601(std::chrono::system_clock::time_point instant, const TimeZone& zone) {
    return format_with_offset(
        instant, zone.offset_at(std::chrono::floor<seconds>(instant)).count(), false);
}

namespace {

class IsoParser {
public:
    explicit IsoParser(std::string_view text) : text_(text) {}

    ScheduleResult<std::chrono::system_clock::time_point> parse() {
        int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
        if (!digits(4, year) || !eat('-') || !digits(2, month) || !eat('-') || !digits(2, day)) {
            return shape_error();
        }
        if (!(eat('T') || eat('t') || eat(' ')) || !digits(2, hour) || !eat(':') ||
            !digits(2, minute)) {
            return shape_error();
        }
        std::int64_t nanos = 0;
        if (eat(':')) {
            if (!digits(2, second)) return shape_error();
            if (eat('.') || eat(',')) {
                int count = 0;
                while (i_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_]))) {
                    if (count < 9) {
                        nanos = nanos * 10 + (text_[i_] - '0');
                        ++count;
                    }
                    ++i_;
                }
                if (count == 0) return shape_error();
                for (; count < 9; ++count) nanos *= 10;
            }
        }
        if (month < 1 || month > 12) return range_error("month", month, "1-12");
        const int dim = detail::days_in_month(year, month);
        if (day < 1 || day > dim) return range_error("day", day, fmt::format("1-{}", dim));
        if (hour > 23) return range_error("hour", hour, "0-23");
        if (minute > 59) return range_error("minute", minute, "0-59");
        if (second > 59) return range_error("second", second, "0-59");

        std::int64_t offset = 0;
        if (i_ == text_.size()) {
            return error("it has no UTC offset; add Z or one such as +05:30");
        }
        if (eat('Z') || eat('z')) {
            offset = 0;
        } else if (text_[i_] == '+' || text_[i_] == '-') {
            const int sign = text_[i_++] == '-' ? -1 : 1;
            int oh = 0, om = 0;
            if (!digits(2, oh)) return shape_error();
            if (eat(':')) {
                if (!digits(2, om)) return shape_error();
            } else if (i_ < text_.size()) {
                if (!digits(2, om)) return shape_error();
            }
            if (oh > 23 || om > 59) return error("its UTC offset is out of range");
            offset = sign * (oh * 3600LL + om * 60LL);
        } else {
            return shape_error();
        }
        if (i_ != text_.size()) return shape_error();

        const std::int64_t secs =
            detail::days_from_civil(year, month, day) * detail::kSecondsPerDay + hour * 3600LL +
            minute * 60LL + second - offset;
        using Clock = std::chrono::system_clock;
        constexpr auto kMax =
            std::chrono::duration_cast<seconds>(Clock::duration::max()).count() - 1;
        constexpr auto kMin =
            std::chrono::duration_cast<seconds>(Clock::duration::min()).count() + 1;
        if (secs > kMax || secs < kMin) {
            return error("it is outside the range this clock can represent (1678-2261)");
        }
        return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
            seconds(secs) + std::chrono::nanoseconds(nanos)));
    }

private:
    bool eat(char c) {
        if (i_ < text_.size() && text_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool digits(int count, int& out) {
        out = 0;
        for (int k = 0; k < count; ++k) {
            if (i_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[i_]))) {
                return false;
            }
            out = out * 10 + (text_[i_++] - '0');
        }
        return true;
    }
    ScheduleError error(std::string_view why) const {
        return {ScheduleErrc::invalid_time, fmt::format("invalid time \"{}\": {}", text_, why)};
    }
    ScheduleError shape_error() const {
        return error("expected ISO 8601 like 2026-12-01T09:00:00Z or 2026-12-01T09:00:00+05:30");
    }
    ScheduleError range_error(std::string_view what, int value, std::string_view range) const {
        return error(fmt::format("{} {} is out of range {}", what, value, range));
    }

    std::string_view text_;
    std::size_t i_ = 0;
};

}  // namespace

ScheduleResult<std::chrono::system_clock::time_point> try_parse_iso8601(std::string_view text) {
    return IsoParser(text).parse();
}

std::chrono::system_clock::time_point parse_iso8601(std::string_view text) {
    return try_parse_iso8601(text).value();
}

}  // namespace afterwork
