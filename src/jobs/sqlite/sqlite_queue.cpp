// SPDX-License-Identifier: MIT
#include <afterwork/jobs/sqlite_queue.hpp>

namespace afterwork {

JobsResult<std::vector<EnqueueOutcome>> enqueue_in(sqlite3* connection, const Queue& queue,
                                                   std::span<const EnqueueRequest> jobs) {
    const TimePoint now = queue.now();
    auto prepared = queue.prepare(jobs, now);
    if (!prepared) return prepared.error();
    return SqliteStore::enqueue_in(connection, *prepared, now);
}

}  // namespace afterwork
