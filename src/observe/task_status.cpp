// SPDX-License-Identifier: MIT
#include <afterwork/observe/task_status.hpp>

#include <chrono>
#include <ctime>
#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <afterwork/http/response.hpp>

namespace afterwork {
namespace {

// UTC with milliseconds, always three digits: "2026-03-01T09:00:00.000Z".
std::string iso_time(std::chrono::system_clock::time_point when) {
    auto seconds = std::chrono::floor<std::chrono::seconds>(when);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(when - seconds).count();
    std::time_t t = std::chrono::system_clock::to_time_t(seconds);
    std::tm parts{};
    gmtime_r(&t, &parts);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
    return fmt::format("{}.{:03}Z", text, millis);
}

boost::json::value optional_time(const std::optional<std::chrono::system_clock::time_point>& t) {
    return t ? boost::json::value(iso_time(*t)) : boost::json::value(nullptr);
}

Task<Response> list_tasks(Request& request) {
    boost::json::array list;
    for (const auto& status : request.app().recurring_status()) {
        boost::json::object item{{"name", status.name},
                                 {"kind", to_string(status.kind)},
                                 {"state", to_string(status.state)},
                                 {"runs", status.runs},
                                 {"failures", status.failures},
                                 {"skipped", status.skipped},
                                 {"restarts", status.restarts},
                                 {"last_run", optional_time(status.last_run)},
                                 {"next_run", optional_time(status.next_run)}};
        if (status.kind == RecurringKind::periodic) {
            item["interval_seconds"] = static_cast<double>(status.interval.count()) / 1000;
        }
        item["last_error"] = status.last_error ? boost::json::value(*status.last_error)
                                               : boost::json::value(nullptr);
        list.push_back(std::move(item));
    }
    co_return json_response(list);
}

}  // namespace

void mount_task_status(App& app, std::string path) {
    app.get(path, [](Request& request) { return list_tasks(request); });
}

}  // namespace afterwork
