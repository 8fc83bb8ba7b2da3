// SPDX-License-Identifier: MIT
#include "jobs/checks.hpp"

#include <array>
#include <cmath>
#include <string>

#include <fmt/format.h>

namespace afterwork::detail {

JobsResult<void> check_batch(std::span<const NewJob> jobs) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        auto r = validate(jobs[i]);
        if (r) continue;
        if (jobs.size() == 1) return r;
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("jobs[{}].{}", i, r.error().what()));
    }
    return {};
}

JobsResult<void> check_claim(const ClaimRequest& request) {
    if (auto r = check_name("worker_id", request.worker_id); !r) return r;
    if (request.lease <= std::chrono::microseconds::zero()) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("lease: must be positive, not {}us", request.lease.count()));
    }
    for (const std::string& queue : request.queues) {
        if (auto r = check_name("queues[]", queue); !r) return r;
    }
    for (const RateLimit& limit : request.rate_limits) {
        if (auto r = check_name("rate_limits[].name", limit.name); !r) return r;
        if (limit.max_starts < 0) {
            return JobsError(JobsErrc::invalid_argument,
                             fmt::format("rate limit of \"{}\": max_starts must not be negative, "
                                         "not {}",
                                         limit.name, limit.max_starts));
        }
        if (limit.period <= std::chrono::microseconds::zero()) {
            return JobsError(JobsErrc::invalid_argument,
                             fmt::format("rate limit of \"{}\": period must be positive, not {}us",
                                         limit.name, limit.period.count()));
        }
    }
    return {};
}

JobsResult<void> check_page(const PageRequest& page) {
    if (page.limit == 0 || page.limit > kMaxPageSize) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("limit: {} is out of range 1..{}", page.limit, kMaxPageSize));
    }
    return {};
}

JobsResult<std::vector<JobState>> check_purge_finished(std::span<const JobState> states,
                                                       std::size_t limit) {
    if (limit == 0) {
        return JobsError(JobsErrc::invalid_argument, "limit: must be at least 1, not 0");
    }
    std::array<bool, kJobStateCount> wanted{};
    for (const JobState state : states) {
        if (!is_finished(state)) {
            return JobsError(JobsErrc::invalid_argument,
                             fmt::format("states: \"{}\" is not a finished state (succeeded, "
                                         "cancelled or dead)",
                                         to_string(state)));
        }
        wanted[static_cast<std::size_t>(state)] = true;
    }
    std::vector<JobState> result;
    for (const JobState state : kJobStates) {
        if (is_finished(state) && (states.empty() || wanted[static_cast<std::size_t>(state)])) {
            result.push_back(state);
        }
    }
    return result;
}

JobsResult<void> check_progress(double fraction) {
    // Written so NaN fails too.
    if (!(fraction >= 0.0 && fraction <= 1.0)) {
        return JobsError(JobsErrc::invalid_argument,
                         fmt::format("progress: {} is out of range 0..1", fraction));
    }
    return {};
}

JobsError not_found(JobId id) {
    return JobsError(JobsErrc::not_found, fmt::format("job {} does not exist", id));
}

}  // namespace afterwork::detail
