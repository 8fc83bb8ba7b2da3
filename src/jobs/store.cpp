// SPDX-License-Identifier: MIT
#include <afterwork/jobs/store.hpp>

#include <numeric>

namespace afterwork {

JobsResult<EnqueueOutcome> Store::enqueue(const NewJob& job, TimePoint now) {
    auto outcomes = enqueue(std::span<const NewJob>(&job, 1), now);
    if (!outcomes) return outcomes.error();
    return outcomes->front();
}

std::int64_t QueueCounts::total() const noexcept {
    return std::accumulate(by_state.begin(), by_state.end(), std::int64_t{0});
}

}  // namespace afterwork
