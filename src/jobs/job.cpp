// SPDX-License-Identifier: MIT
#include <afterwork/jobs/job.hpp>

#include <boost/json/stream_parser.hpp>
#include <fmt/format.h>

#include "jobs/checks.hpp"

namespace afterwork {

std::string_view to_string(JobState state) noexcept {
    switch (state) {
        case JobState::scheduled:
            return "scheduled";
        case JobState::queued:
            return "queued";
        case JobState::running:
            return "running";
        case JobState::succeeded:
            return "succeeded";
        case JobState::failed:
            return "failed";
        case JobState::cancelled:
            return "cancelled";
        case JobState::dead:
            return "dead";
    }
    return "unknown";
}

JobsResult<JobState> parse_job_state(std::string_view text) {
    for (const JobState state : kJobStates) {
        if (to_string(state) == text) return state;
    }
    return JobsError(JobsErrc::invalid_argument,
                     fmt::format("unknown job state \"{}\" (expected scheduled, queued, running, "
                                 "succeeded, failed, cancelled or dead)",
                                 text));
}

JobsResult<void> validate(const NewJob& job) {
    if (auto r = detail::check_name("name", job.name); !r) return r;
    if (auto r = detail::check_name("queue", job.queue); !r) return r;
    if (job.priority < kMinPriority || job.priority > kMaxPriority) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("priority: {} is out of range {}..{}", job.priority,
                                     kMinPriority, kMaxPriority));
    }
    if (job.max_attempts < 1 || job.max_attempts > kMaxAttemptsLimit) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("max_attempts: {} is out of range 1..{}", job.max_attempts,
                                     kMaxAttemptsLimit));
    }
    if (job.unique_key) {
        if (job.unique_key->empty() || job.unique_key->size() > kMaxUniqueKeyLength) {
            return JobsError(JobsErrc::invalid_argument,
                             fmt::format("unique_key: must be 1 to {} bytes, not {}",
                                         kMaxUniqueKeyLength, job.unique_key->size()));
        }
    }
    return detail::check_json("args", job.args);
}

namespace detail {

JobsResult<void> check_name(std::string_view field, std::string_view value) {
    if (value.empty() || value.size() > kMaxNameLength) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("{}: must be 1 to {} bytes, not {}", field, kMaxNameLength,
                                     value.size()));
    }
    return {};
}

JobsResult<void> check_json(std::string_view field, std::string_view text) {
    // Arguments may nest deeper than Boost.JSON's default of 32 levels; the parser keeps its
    // stack on the heap, so a generous depth costs nothing unless it is used.
    boost::json::parse_options options;
    options.max_depth = 1000;
    boost::json::stream_parser parser({}, options);
    boost::system::error_code ec;
    const std::size_t used = parser.write(text.data(), text.size(), ec);
    if (!ec) parser.finish(ec);
    if (ec) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("{}: not valid JSON ({} at offset {})", field, ec.message(),
                                     used));
    }
    return {};
}

}  // namespace detail
}  // namespace afterwork
