// SPDX-License-Identifier: MIT
#include "jobs/sqlite/row_codec.hpp"

#include <string_view>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "jobs/checks.hpp"

namespace afterwork::detail::sqlite {
namespace {

JobsError corrupt_row(JobId id, std::string_view what) {
    return JobsError(JobsErrc::corrupt, fmt::format("job {} is damaged: {}", id, what));
}

std::string encode_errors(const std::vector<AttemptError>& errors) {
    boost::json::array array;
    array.reserve(errors.size());
    for (const AttemptError& error : errors) {
        array.push_back(boost::json::object{{"attempt", error.attempt},
                                            {"message", error.message},
                                            {"at", to_micros(error.at)}});
    }
    return boost::json::serialize(array);
}

std::vector<AttemptError> decode_errors(JobId id, const std::string& text) {
    boost::system::error_code ec;
    const boost::json::value value = boost::json::parse(text, ec);
    if (ec || !value.is_array()) throw corrupt_row(id, "its errors are not a JSON array");
    std::vector<AttemptError> errors;
    for (const boost::json::value& item : value.get_array()) {
        const auto* object = item.if_object();
        const boost::json::value* attempt = object ? object->if_contains("attempt") : nullptr;
        const boost::json::value* message = object ? object->if_contains("message") : nullptr;
        const boost::json::value* at = object ? object->if_contains("at") : nullptr;
        if (!attempt || !attempt->is_int64() || !message || !message->is_string() || !at ||
            !at->is_int64()) {
            throw corrupt_row(id, "an entry of its errors lacks attempt, message or at");
        }
        errors.push_back({static_cast<int>(attempt->get_int64()),
                          std::string(message->get_string()), from_micros(at->get_int64())});
    }
    return errors;
}

}  // namespace

JobRecord read_job(const Query& q) {
    JobRecord job;
    job.id = q.integer(0);
    job.name = q.text(1);
    job.queue = q.text(2);
    job.priority = static_cast<int>(q.integer(3));
    job.args = q.text(4);
    auto state = parse_job_state(q.text(5));
    if (!state) throw corrupt_row(job.id, state.error().what());
    job.state = *state;
    job.attempt = static_cast<int>(q.integer(6));
    job.max_attempts = static_cast<int>(q.integer(7));
    job.unique_key = q.optional_text(8);
    job.created_at = q.time(9);
    job.run_at = q.time(10);
    job.started_at = q.optional_time(11);
    job.finished_at = q.optional_time(12);
    job.lease_owner = q.optional_text(13);
    job.lease_until = q.optional_time(14);
    job.cancel_requested = q.integer(15) != 0;
    job.progress = q.real(16);
    job.progress_message = q.text(17);
    job.result = q.optional_text(18);
    if (!q.is_null(19)) job.errors = decode_errors(job.id, q.text(19));
    job.expires_at = q.optional_time(20);
    return job;
}

std::optional<JobRecord> load_job(Connection& c, JobId id) {
    Query q(c, "SELECT " + kJobColumns + " FROM afterwork_jobs WHERE id = ?1");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return read_job(q);
}

// Writes the columns that differ between `before` and `after` (same job). Only those appear
// in the UPDATE, so SQLite touches only the indexes on them; the few shapes this produces are
// cached like any statement.
void save_job(Connection& c, const JobRecord& before, const JobRecord& after) {
    const bool changed[] = {
        before.state != after.state,
        before.attempt != after.attempt,
        before.run_at != after.run_at,
        before.started_at != after.started_at,
        before.finished_at != after.finished_at,
        before.lease_owner != after.lease_owner,
        before.lease_until != after.lease_until,
        before.cancel_requested != after.cancel_requested,
        before.progress != after.progress,
        before.progress_message != after.progress_message,
        before.result != after.result,
        before.errors != after.errors,
        before.expires_at != after.expires_at,
    };
    static constexpr const char* kNames[] = {
        "state",       "attempt",          "run_at",   "started_at",       "finished_at",
        "lease_owner", "lease_until",      "cancel_requested", "progress", "progress_message",
        "result",      "errors",           "expires_at"};
    std::string sql = "UPDATE afterwork_jobs SET ";
    bool any = false;
    for (std::size_t i = 0; i < std::size(changed); ++i) {
        if (!changed[i]) continue;
        if (any) sql += ", ";
        sql += fmt::format("{} = ?{}", kNames[i], i + 2);
        any = true;
    }
    if (!any) return;
    sql += " WHERE id = ?1";
    Query q(c, sql);
    q.bind(1, after.id);
    // Parameter i + 2 exists only when column i changed.
    if (changed[0]) q.bind(2, to_string(after.state));
    if (changed[1]) q.bind(3, after.attempt);
    if (changed[2]) q.bind(4, after.run_at);
    if (changed[3]) q.bind(5, after.started_at);
    if (changed[4]) q.bind(6, after.finished_at);
    if (changed[5]) q.bind(7, after.lease_owner);
    if (changed[6]) q.bind(8, after.lease_until);
    if (changed[7]) q.bind(9, after.cancel_requested);
    if (changed[8]) q.bind(10, after.progress);
    if (changed[9]) q.bind(11, after.progress_message);
    if (changed[10]) q.bind(12, after.result);
    if (changed[11]) {
        if (after.errors.empty()) {
            q.bind_null(13);
        } else {
            q.bind(13, encode_errors(after.errors));
        }
    }
    if (changed[12]) q.bind(14, after.expires_at);
    q.run();
}

JobPage read_page(Query& q, std::size_t limit) {
    JobPage result;
    while (q.step()) {
        if (result.jobs.size() == limit) {
            result.next_before_id = result.jobs.back().id;
            break;
        }
        result.jobs.push_back(read_job(q));
    }
    return result;
}

std::vector<QueueCounts> read_counts(Query& q) {
    std::vector<QueueCounts> counts;
    while (q.step()) {
        std::string queue = q.text(0);
        auto state = parse_job_state(q.text(1));
        if (!state) {
            throw JobsError(JobsErrc::corrupt,
                            fmt::format("queue counts are damaged: {}", state.error().what()));
        }
        if (counts.empty() || counts.back().queue != queue) {
            counts.push_back({std::move(queue), {}});
        }
        counts.back().by_state[static_cast<std::size_t>(*state)] = q.integer(2);
    }
    return counts;
}

}  // namespace afterwork::detail::sqlite
