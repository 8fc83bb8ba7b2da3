// SPDX-License-Identifier: MIT
#pragma once

// Input checks shared by every store, so each rejects the same input with the same message.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/jobs_error.hpp>
#include <afterwork/jobs/store.hpp>

namespace afterwork::detail {

/// `field` is 1..kMaxNameLength bytes.
JobsResult<void> check_name(std::string_view field, std::string_view value);

/// `text` parses as JSON.
JobsResult<void> check_json(std::string_view field, std::string_view text);

/// Every job of a batch passes `validate`; the error names the job's index when the batch has
/// more than one (`jobs[2].priority: ...`).
JobsResult<void> check_batch(std::span<const NewJob> jobs);

/// A worker id, a positive lease, well-formed queues and rate limits.
JobsResult<void> check_claim(const ClaimRequest& request);

/// A page limit of 1..kMaxPageSize.
JobsResult<void> check_page(const PageRequest& page);

/// The states `Store::purge_finished` deletes: `states` in declaration order without repeats,
/// or succeeded, cancelled and dead when it is empty. `invalid_argument` for a state that is
/// not finished or a `limit` of 0.
JobsResult<std::vector<JobState>> check_purge_finished(std::span<const JobState> states,
                                                       std::size_t limit);

/// A progress fraction in 0..1.
JobsResult<void> check_progress(double fraction);

/// "job 42 does not exist".
JobsError not_found(JobId id);

/// Microseconds since 1970, as stores keep instants.
constexpr std::int64_t to_micros(TimePoint t) noexcept {
    return std::chrono::floor<std::chrono::microseconds>(t).time_since_epoch().count();
}

constexpr TimePoint from_micros(std::int64_t us) noexcept {
    return TimePoint(std::chrono::microseconds(us));
}

}  // namespace afterwork::detail
