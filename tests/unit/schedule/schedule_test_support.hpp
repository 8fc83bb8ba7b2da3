// SPDX-License-Identifier: MIT
#pragma once

// Helpers for the schedule tests: instants from ISO 8601 text and the next N fire times of a
// trigger as ISO 8601 in a zone, so expectations read like the CLI's output.
//
// Thread safety: pure functions.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <afterwork/schedule/cron_expression.hpp>
#include <afterwork/schedule/time_zone.hpp>

namespace afterwork::testing {

inline std::chrono::system_clock::time_point at(std::string_view iso) { return parse_iso8601(iso); }

/// The next `n` fire times of `expression` in `zone` after `after`, formatted in `zone`.
inline std::vector<std::string> next_fires(std::string_view expression,
                                           std::string_view after,
                                           int n,
                                           std::string_view zone = "UTC") {
    const auto cron = CronExpression::parse(expression);
    const auto tz = TimeZone::locate(zone);
    std::vector<std::string> out;
    auto t = at(after);
    for (int i = 0; i < n; ++i) {
        const auto next = cron.next_after(t, tz);
        if (!next) break;
        out.push_back(format_iso8601(*next, tz));
        t = *next;
    }
    return out;
}

}  // namespace afterwork::testing
