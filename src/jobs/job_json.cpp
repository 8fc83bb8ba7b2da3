// SPDX-License-Identifier: MIT
#include <afterwork/jobs/job_json.hpp>

#include <optional>
#include <string>

#include <boost/json/parse.hpp>

#include <afterwork/schedule/time_zone.hpp>

namespace afterwork {
namespace {

boost::json::value json_text(const std::string& text) {
    // The store checked the JSON when it was written; a value that no longer parses is shown
    // as the string it is rather than hidden.
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(text, ec);
    if (ec) return boost::json::string(text);
    return value;
}

boost::json::value json_time(const std::optional<TimePoint>& t) {
    if (!t) return nullptr;
    return boost::json::string(format_iso8601(*t));
}

boost::json::value json_optional(const std::optional<std::string>& text) {
    if (!text) return nullptr;
    return boost::json::string(*text);
}

}  // namespace

boost::json::object job_to_json(const JobRecord& job) {
    boost::json::array errors;
    for (const AttemptError& error : job.errors) {
        errors.push_back(boost::json::object{{"attempt", error.attempt},
                                             {"message", error.message},
                                             {"at", format_iso8601(error.at)}});
    }
    return boost::json::object{
        {"id", job.id},
        {"name", job.name},
        {"queue", job.queue},
        {"priority", job.priority},
        {"state", to_string(job.state)},
        {"attempt", job.attempt},
        {"max_attempts", job.max_attempts},
        {"unique_key", json_optional(job.unique_key)},
        {"args", json_text(job.args)},
        {"created_at", json_time(job.created_at)},
        {"run_at", json_time(job.run_at)},
        {"started_at", json_time(job.started_at)},
        {"finished_at", json_time(job.finished_at)},
        {"lease_owner", json_optional(job.lease_owner)},
        {"lease_until", json_time(job.lease_until)},
        {"cancel_requested", job.cancel_requested},
        {"progress", job.progress},
        {"progress_message", job.progress_message},
        {"result", job.result ? json_text(*job.result) : boost::json::value(nullptr)},
        {"errors", std::move(errors)},
        {"expires_at", json_time(job.expires_at)},
    };
}

boost::json::array counts_to_json(std::span<const QueueCounts> counts) {
    boost::json::array list;
    for (const QueueCounts& queue : counts) {
        boost::json::object by_state;
        for (std::size_t i = 0; i < kJobStateCount; ++i) {
            by_state[to_string(static_cast<JobState>(i))] = queue.by_state[i];
        }
        list.push_back(boost::json::object{
            {"queue", queue.queue}, {"counts", std::move(by_state)}, {"total", queue.total()}});
    }
    return list;
}

}  // namespace afterwork
