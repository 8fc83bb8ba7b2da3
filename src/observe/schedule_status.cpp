// SPDX-License-Identifier: MIT
#include <afterwork/observe/schedule_status.hpp>

#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <afterwork/http/response.hpp>
#include <afterwork/schedule/scheduler.hpp>
#include <afterwork/schedule/time_zone.hpp>

namespace afterwork {
namespace {

// An instant in the schedule's own zone, with the offset ("2026-11-23T09:00:00+05:30"); null
// when there is none (a paused schedule's next run).
boost::json::value local_time_json(const std::optional<TimePoint>& instant,
                                   const TimeZone& zone) {
    if (!instant) return nullptr;
    return boost::json::value(format_iso8601(*instant, zone));
}

Task<Response> schedule_status(Request& request) {
    boost::json::array list;
    for (const auto& schedule : request.app().scheduler().schedules()) {
        boost::json::object item{
            {"id", schedule.id},
            {"name", schedule.name},
            {"trigger", schedule.trigger},
            {"description", schedule.description},
            {"time_zone", schedule.zone.name()},
            {"next_run", local_time_json(schedule.next_run, schedule.zone)},
            {"last_run", local_time_json(schedule.last_run, schedule.zone)},
            {"last_outcome", to_string(schedule.last_outcome)},
            {"last_error",
             schedule.last_error ? boost::json::value(*schedule.last_error)
                                 : boost::json::value(nullptr)},
            {"paused", schedule.paused},
            {"running", schedule.running},
            {"runs", schedule.runs},
            {"failures", schedule.failures},
            {"missed", schedule.missed},
            {"skipped", schedule.skipped},
            {"misfire_grace_seconds",
             static_cast<double>(schedule.misfire_grace.count()) / 1000}};
        list.push_back(std::move(item));
    }
    co_return json_response(list);
}

Task<Response> schedule_listing(Request& request) {
    boost::json::array list;
    for (const auto& schedule : request.app().scheduler().schedules()) {
        list.push_back({{"id", schedule.id},
                        {"name", schedule.name},
                        {"next_run", local_time_json(schedule.next_run, schedule.zone)}});
    }
    co_return json_response(list);
}

}  // namespace

void mount_schedule_status(App& app, std::string path) {
    app.get(path, [](Request& request) { return schedule_status(request); });
}

void mount_schedule_listing(App& app, std::string path) {
    app.get(path, [](Request& request) { return schedule_listing(request); });
}

}  // namespace afterwork
