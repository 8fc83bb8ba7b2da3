// SPDX-License-Identifier: MIT
#include <afterwork/jobs/job.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
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

namespace {

// A Boost.JSON parser handler that keeps nothing: checking a text costs no allocation, where
// building the value would cost one per string, array and object.
struct ValidatingHandler {
    using error_code = boost::system::error_code;
    using string_view = boost::json::string_view;
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) { return true; }
    bool on_object_end(std::size_t, error_code&) { return true; }
    bool on_array_begin(error_code&) { return true; }
    bool on_array_end(std::size_t, error_code&) { return true; }
    bool on_key_part(string_view, std::size_t, error_code&) { return true; }
    bool on_key(string_view, std::size_t, error_code&) { return true; }
    bool on_string_part(string_view, std::size_t, error_code&) { return true; }
    bool on_string(string_view, std::size_t, error_code&) { return true; }
    bool on_number_part(string_view, error_code&) { return true; }
    bool on_int64(std::int64_t, string_view, error_code&) { return true; }
    bool on_uint64(std::uint64_t, string_view, error_code&) { return true; }
    bool on_double(double, string_view, error_code&) { return true; }
    bool on_bool(bool, error_code&) { return true; }
    bool on_null(error_code&) { return true; }
    bool on_comment_part(string_view, error_code&) { return true; }
    bool on_comment(string_view, error_code&) { return true; }
};

}  // namespace

JobsResult<void> check_json(std::string_view field, std::string_view text) {
    // Arguments may nest deeper than Boost.JSON's default of 32 levels; the parser keeps its
    // stack on the heap, so a generous depth costs nothing unless it is used.
    boost::json::parse_options options;
    options.max_depth = 1000;
    boost::json::basic_parser<ValidatingHandler> parser(options);
    boost::system::error_code ec;
    std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && used < text.size()) {
        // The document ended before the text did.
        const auto rest = text.substr(used).find_first_not_of(" \t\r\n");
        if (rest != std::string_view::npos) {
            used += rest;
            ec = boost::json::error::extra_data;
        }
    }
    if (ec) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("{}: not valid JSON ({} at offset {})", field, ec.message(),
                                     used));
    }
    return {};
}

}  // namespace detail
}  // namespace afterwork
