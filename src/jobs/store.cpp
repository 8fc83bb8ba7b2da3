// SPDX-License-Identifier: MIT
#include <afterwork/jobs/store.hpp>

#include <numeric>

namespace afterwork {

JobsResult<EnqueueOutcome> Store::enqueue(const NewJob& job, TimePoint now) {
    auto outcomes = enqueue(std::span<const NewJob>(&job, 1), now);
    if (!outcomes) return outcomes.error();
    return outcomes->front();
}

JobsResult<void> Store::complete(JobId id, std::string_view worker_id,
                                 std::optional<std::string_view> result_json, TimePoint now,
                                 std::optional<TimePoint> expires_at) {
    const Completion completion{
        id, result_json ? std::optional<std::string>(*result_json) : std::nullopt, expires_at};
    auto results = complete_many(worker_id, std::span(&completion, 1), now);
    if (!results) return results.error();
    return std::move(results->front());
}

JobsResult<CompletedAndClaimed> Store::complete_and_claim(std::string_view worker_id,
                                                         std::span<const Completion> completions,
                                                         const ClaimRequest& request) {
    auto completed = complete_many(worker_id, completions, request.now);
    if (!completed) return completed.error();
    return CompletedAndClaimed{std::move(*completed), claim(request)};
}

std::int64_t QueueCounts::total() const noexcept {
    return std::accumulate(by_state.begin(), by_state.end(), std::int64_t{0});
}

}  // namespace afterwork
