// SPDX-License-Identifier: MIT
// The claim SQL of the SQLite store: claim (promotion of due jobs, rate limits, the merge of
// the queues in claim order), completion and complete_and_claim, and the leases (heartbeat,
// release, requeue of expired leases).
#include <afterwork/jobs/sqlite_store.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "jobs/checks.hpp"
#include "jobs/sqlite/row_codec.hpp"
#include "jobs/sqlite/store_state.hpp"
#include "jobs/transitions.hpp"

namespace afterwork {

using detail::sqlite::Connection;
using detail::sqlite::kJobColumns;
using detail::sqlite::load_job;
using detail::sqlite::Query;
using detail::sqlite::read_job;
using detail::sqlite::save_job;

std::vector<JobsResult<void>> SqliteStore::State::complete(std::string_view worker_id,
                                                          std::span<const Completion> completions,
                                                          TimePoint now) {
    std::vector<JobsResult<void>> results;
    results.reserve(completions.size());
    const TimePoint finished_at = truncate_to_store(now);
    for (const Completion& c : completions) {
        if (c.result_json) {
            if (auto r = detail::check_json("result", *c.result_json); !r) {
                results.push_back(r);
                continue;
            }
        }
        // The change of detail::complete in one statement guarded as detail::check_owner:
        // a busy worker completes thousands of jobs a second, and loading each first
        // would double the statements.
        Query q(connection,
                "UPDATE afterwork_jobs SET state = 'succeeded', finished_at = ?3, "
                "expires_at = ?4, result = ?5, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ?1 AND state = 'running' AND lease_owner = ?2 RETURNING id");
        q.bind(1, c.id).bind(2, worker_id).bind(3, finished_at);
        if (c.expires_at) {
            q.bind(4, truncate_to_store(*c.expires_at));
        } else {
            q.bind_null(4);
        }
        q.bind(5, c.result_json);
        if (q.step()) {
            results.push_back({});
            continue;
        }
        // Not held: say why, as the other stores do.
        const auto job = load_job(connection, c.id);
        if (!job) {
            results.push_back(detail::not_found(c.id));
        } else {
            results.push_back(detail::check_owner(*job, worker_id));
        }
    }
    return results;
}

std::vector<JobRecord> SqliteStore::State::claim(const ClaimRequest& request) {
    Connection& c = connection;
    const TimePoint now = truncate_to_store(request.now);
    {
        Query q(c, "UPDATE afterwork_jobs INDEXED BY afterwork_jobs_delayed SET state = 'queued' "
                   "WHERE state IN ('scheduled', 'failed') AND run_at <= ?1");
        q.bind(1, now).run();
    }
    std::vector<JobRecord> claimed;
    if (request.limit == 0) return claimed;

    // What each rate-limited name may still start in its window, from the shared table.
    std::map<std::string, std::int64_t, std::less<>> budget;
    for (const RateLimit& limit : request.rate_limits) {
        {
            Query q(c, "DELETE FROM afterwork_rate_starts WHERE name = ?1 AND at <= ?2");
            q.bind(1, limit.name).bind(2, now - limit.period).run();
        }
        Query q(c, "SELECT count(*) FROM afterwork_rate_starts WHERE name = ?1");
        q.bind(1, limit.name);
        q.step();
        budget[limit.name] = std::max<std::int64_t>(0, limit.max_starts - q.integer(0));
    }

    std::set<std::string> queues(request.queues.begin(), request.queues.end());
    if (queues.empty()) {
        Query q(c, "SELECT queue FROM afterwork_queue_counts WHERE state = 'queued' AND n > 0");
        while (q.step()) queues.insert(q.text(0));
    }

    struct Candidate {
        int priority;
        std::int64_t run_at;
        JobId id;
        std::string name;
    };
    // Each round reads the best `need` queued jobs of every queue (the index walk stops after
    // them), merges them into claim order and takes them. When a name runs out of budget the
    // round ends and the next one reads again without that name, so the order stays exact.
    for (;;) {
        const std::size_t need = request.limit - claimed.size();
        std::vector<std::string> excluded;
        for (const auto& [name, left] : budget) {
            if (left == 0) excluded.push_back(name);
        }
        std::string sql =
            "SELECT priority, run_at, id, name FROM afterwork_jobs INDEXED BY afterwork_jobs_ready "
            "WHERE state = 'queued' AND queue = ?1";
        if (!excluded.empty()) {
            sql += " AND name NOT IN (";
            for (std::size_t i = 0; i < excluded.size(); ++i) {
                sql += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 3);
            }
            sql += ")";
        }
        sql += " ORDER BY priority DESC, run_at, id LIMIT ?2";

        std::vector<Candidate> candidates;
        for (const std::string& queue : queues) {
            Query q(c, sql);
            q.bind(1, queue).bind(2, static_cast<std::int64_t>(need));
            for (std::size_t i = 0; i < excluded.size(); ++i) {
                q.bind(static_cast<int>(i + 3), excluded[i]);
            }
            while (q.step()) {
                candidates.push_back({static_cast<int>(q.integer(0)), q.integer(1),
                                      q.integer(2), q.text(3)});
            }
        }
        if (candidates.empty()) break;
        std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
            if (a.priority != b.priority) return a.priority > b.priority;
            if (a.run_at != b.run_at) return a.run_at < b.run_at;
            return a.id < b.id;
        });

        bool ran_out = false;
        for (const Candidate& candidate : candidates) {
            if (claimed.size() == request.limit) break;
            // The same change as detail::start_attempt, in one statement.
            Query q(c,
                    "UPDATE afterwork_jobs SET state = 'running', attempt = attempt + 1, "
                    "started_at = ?2, lease_owner = ?3, lease_until = ?4, cancel_requested = 0, "
                    "progress = 0, progress_message = '' WHERE id = ?1 RETURNING " +
                        kJobColumns);
            q.bind(1, candidate.id)
                .bind(2, now)
                .bind(3, request.worker_id)
                .bind(4, truncate_to_store(now + request.lease));
            if (!q.step()) continue;
            claimed.push_back(read_job(q));
            if (auto it = budget.find(candidate.name); it != budget.end()) {
                Query start(c, "INSERT INTO afterwork_rate_starts (name, at) VALUES (?1, ?2)");
                start.bind(1, candidate.name).bind(2, now).run();
                if (--it->second == 0) {
                    ran_out = true;
                    break;
                }
            }
        }
        if (!ran_out || claimed.size() == request.limit) break;
    }
    return claimed;
}

JobsResult<std::vector<JobRecord>> SqliteStore::claim(const ClaimRequest& request) {
    if (auto r = detail::check_claim(request); !r) return r.error();
    return state_->write(
        [&]() -> JobsResult<std::vector<JobRecord>> { return state_->claim(request); });
}

JobsResult<std::vector<LeaseStatus>> SqliteStore::heartbeat(std::string_view worker_id,
                                                            std::span<const JobId> ids,
                                                            TimePoint lease_until) {
    return state_->write([&]() -> JobsResult<std::vector<LeaseStatus>> {
        std::vector<LeaseStatus> statuses;
        statuses.reserve(ids.size());
        for (const JobId id : ids) {
            // The same change as detail::renew, guarded as detail::check_owner.
            Query q(state_->connection,
                    "UPDATE afterwork_jobs SET lease_until = ?3 "
                    "WHERE id = ?1 AND state = 'running' AND lease_owner = ?2 "
                    "RETURNING cancel_requested");
            q.bind(1, id).bind(2, worker_id).bind(3, truncate_to_store(lease_until));
            if (q.step()) {
                statuses.push_back({id, true, q.integer(0) != 0});
            } else {
                statuses.push_back({id, false, false});
            }
        }
        return statuses;
    });
}

JobsResult<std::vector<JobsResult<void>>> SqliteStore::complete_many(
    std::string_view worker_id, std::span<const Completion> completions, TimePoint now) {
    return state_->write([&]() -> JobsResult<std::vector<JobsResult<void>>> {
        return state_->complete(worker_id, completions, now);
    });
}

JobsResult<CompletedAndClaimed> SqliteStore::complete_and_claim(
    std::string_view worker_id, std::span<const Completion> completions,
    const ClaimRequest& request) {
    if (auto r = detail::check_claim(request); !r) {
        auto completed = complete_many(worker_id, completions, request.now);
        if (!completed) return completed.error();
        return CompletedAndClaimed{std::move(*completed), r.error()};
    }
    return state_->write([&]() -> JobsResult<CompletedAndClaimed> {
        auto completed = state_->complete(worker_id, completions, request.now);
        return CompletedAndClaimed{std::move(completed), state_->claim(request)};
    });
}

JobsResult<std::size_t> SqliteStore::release(std::string_view worker_id,
                                             std::span<const JobId> ids, TimePoint now) {
    return state_->write([&]() -> JobsResult<std::size_t> {
        std::size_t released = 0;
        for (const JobId id : ids) {
            const auto job = load_job(state_->connection, id);
            if (!job) continue;
            JobRecord next = *job;
            if (!detail::release(next, worker_id, now)) continue;
            save_job(state_->connection, *job, next);
            ++released;
        }
        return released;
    });
}

JobsResult<ExpiredLeases> SqliteStore::requeue_expired(TimePoint now,
                                                       std::optional<TimePoint> dead_expires_at) {
    return state_->write([&]() -> JobsResult<ExpiredLeases> {
        std::vector<JobRecord> jobs;
        {
            Query q(state_->connection,
                    "SELECT " + kJobColumns +
                        " FROM afterwork_jobs INDEXED BY afterwork_jobs_leases "
                        "WHERE state = 'running' AND lease_until <= ?1 ORDER BY lease_until, id");
            q.bind(1, truncate_to_store(now));
            while (q.step()) jobs.push_back(read_job(q));
        }
        ExpiredLeases expired;
        for (const JobRecord& job : jobs) {
            JobRecord next = job;
            detail::record_expiry(expired, job.id,
                                  detail::expire_lease(next, now, dead_expires_at));
            save_job(state_->connection, job, next);
        }
        return expired;
    });
}

}  // namespace afterwork
