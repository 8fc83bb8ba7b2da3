// SPDX-License-Identifier: MIT
#include <afterwork/jobs/memory_store.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "jobs/checks.hpp"
#include "jobs/transitions.hpp"

namespace afterwork {
namespace {

// The claim order of queued jobs: priority descending, then run_at, then id.
struct ReadyKey {
    int priority = 0;
    TimePoint run_at{};
    JobId id = 0;

    friend bool operator<(const ReadyKey& a, const ReadyKey& b) {
        if (a.priority != b.priority) return a.priority > b.priority;
        if (a.run_at != b.run_at) return a.run_at < b.run_at;
        return a.id < b.id;
    }
};

using TimeIndex = std::set<std::pair<TimePoint, JobId>>;
using IdSet = std::set<JobId>;
using Counts = std::array<std::int64_t, kJobStateCount>;

std::size_t slot(JobState s) { return static_cast<std::size_t>(s); }

// Erases `key` from the set stored under `name` in `map`, and the set itself once empty, so
// queues and names that are gone leave nothing behind.
template <class Map, class Key>
void erase_nested(Map& map, const std::string& name, const Key& key) {
    auto it = map.find(name);
    if (it == map.end()) return;
    it->second.erase(key);
    if (it->second.empty()) map.erase(it);
}

}  // namespace

struct MemoryStore::State {
    mutable std::mutex mutex;
    JobId next_id = 1;
    std::map<JobId, JobRecord> jobs;

    // Indexes over the records. `index` and `unindex` keep them exact: every change to a record
    // goes through `mutate`, which unindexes it, applies the change and indexes it again.
    // queued jobs, by queue, then name (so a rate-limited name can be left out without
    // stepping over its jobs), in claim order
    std::map<std::string, std::map<std::string, std::set<ReadyKey>>, std::less<>> ready;
    TimeIndex delayed;  // scheduled and failed jobs by run_at
    TimeIndex leases;   // running jobs by lease_until
    TimeIndex expiry;   // finished jobs that expire, by expires_at
    std::unordered_map<std::string, JobId> unique;  // unique keys of active jobs
    std::array<IdSet, kJobStateCount> by_state;
    std::map<std::string, IdSet, std::less<>> by_queue;
    std::map<std::string, IdSet, std::less<>> by_name;
    std::map<std::string, Counts, std::less<>> counts;
    // Start times of rate-limited names, pruned to the window at every claim that limits them.
    std::map<std::string, std::multiset<TimePoint>, std::less<>> starts;

    void index(const JobRecord& job) {
        switch (job.state) {
            case JobState::queued:
                ready[job.queue][job.name].insert({job.priority, job.run_at, job.id});
                break;
            case JobState::scheduled:
            case JobState::failed:
                delayed.emplace(job.run_at, job.id);
                break;
            case JobState::running:
                leases.emplace(job.lease_until.value_or(TimePoint{}), job.id);
                break;
            case JobState::succeeded:
            case JobState::cancelled:
            case JobState::dead:
                if (job.expires_at) expiry.emplace(*job.expires_at, job.id);
                break;
        }
        if (job.unique_key && is_active(job.state)) unique.emplace(*job.unique_key, job.id);
        by_state[slot(job.state)].insert(job.id);
        by_queue[job.queue].insert(job.id);
        by_name[job.name].insert(job.id);
        counts[job.queue][slot(job.state)] += 1;
    }

    void unindex(const JobRecord& job) {
        switch (job.state) {
            case JobState::queued: {
                auto queue = ready.find(job.queue);
                if (queue != ready.end()) {
                    erase_nested(queue->second, job.name,
                                 ReadyKey{job.priority, job.run_at, job.id});
                    if (queue->second.empty()) ready.erase(queue);
                }
                break;
            }
            case JobState::scheduled:
            case JobState::failed:
                delayed.erase({job.run_at, job.id});
                break;
            case JobState::running:
                leases.erase({job.lease_until.value_or(TimePoint{}), job.id});
                break;
            case JobState::succeeded:
            case JobState::cancelled:
            case JobState::dead:
                if (job.expires_at) expiry.erase({*job.expires_at, job.id});
                break;
        }
        if (job.unique_key && is_active(job.state)) unique.erase(*job.unique_key);
        by_state[slot(job.state)].erase(job.id);
        erase_nested(by_queue, job.queue, job.id);
        erase_nested(by_name, job.name, job.id);
        auto count = counts.find(job.queue);
        count->second[slot(job.state)] -= 1;
        if (std::all_of(count->second.begin(), count->second.end(),
                        [](std::int64_t n) { return n == 0; })) {
            counts.erase(count);
        }
    }

    template <class F>
    auto mutate(JobRecord& job, F&& change) {
        unindex(job);
        // The transitions cannot throw once their checks pass except for bad_alloc, after
        // which the store is not expected to be usable; re-index either way.
        struct Reindex {
            State& state;
            JobRecord& job;
            ~Reindex() { state.index(job); }
        } reindex{*this, job};
        return change(job);
    }

    JobRecord* find(JobId id) {
        auto it = jobs.find(id);
        return it == jobs.end() ? nullptr : &it->second;
    }

    void erase(std::map<JobId, JobRecord>::iterator it) {
        unindex(it->second);
        jobs.erase(it);
    }

    // Everything a claim does under the lock; see Store::claim.
    std::vector<JobRecord> claim(const ClaimRequest& request);
};

std::vector<JobRecord> MemoryStore::State::claim(const ClaimRequest& request) {
    const TimePoint now = truncate_to_store(request.now);
    // Promote everything that is due (all queues: it is cheap and keeps counts honest).
    while (!delayed.empty() && delayed.begin()->first <= now) {
        JobRecord& job = jobs.at(delayed.begin()->second);
        mutate(job, [](JobRecord& j) { j.state = JobState::queued; });
    }

    std::vector<JobRecord> claimed;
    if (request.limit == 0) return claimed;

    // What each rate-limited name may still start in its window.
    std::map<std::string, std::int64_t, std::less<>> budget;
    for (const RateLimit& limit : request.rate_limits) {
        auto& times = starts[limit.name];
        times.erase(times.begin(), times.upper_bound(now - limit.period));
        budget[limit.name] = std::max<std::int64_t>(
            0, limit.max_starts - static_cast<std::int64_t>(times.size()));
        if (times.empty()) starts.erase(limit.name);
    }
    const auto exhausted = [&](const std::string& name) {
        auto it = budget.find(name);
        return it != budget.end() && it->second == 0;
    };

    // A k-way merge over the head of every (queue, name) set: O(limit * log(sets)).
    struct Head {
        ReadyKey key;
        std::string queue;
        std::string name;
    };
    const auto later = [](const Head& a, const Head& b) { return b.key < a.key; };
    std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later);
    const auto push_head = [&](const std::string& queue, const std::string& name) {
        auto q = ready.find(queue);
        if (q == ready.end()) return;
        auto n = q->second.find(name);
        if (n == q->second.end() || exhausted(name)) return;
        heads.push({*n->second.begin(), queue, name});
    };
    const auto push_queue = [&](const std::string& queue) {
        auto q = ready.find(queue);
        if (q == ready.end()) return;
        for (const auto& [name, keys] : q->second) {
            if (!exhausted(name)) heads.push({*keys.begin(), queue, name});
        }
    };
    if (request.queues.empty()) {
        for (const auto& [queue, names] : ready) push_queue(queue);
    } else {
        const std::set<std::string> queues(request.queues.begin(), request.queues.end());
        for (const std::string& queue : queues) push_queue(queue);
    }

    while (!heads.empty() && claimed.size() < request.limit) {
        Head head = heads.top();
        heads.pop();
        // A name can run out of budget after its heads in other queues were pushed.
        if (exhausted(head.name)) continue;
        JobRecord& job = jobs.at(head.key.id);
        mutate(job, [&](JobRecord& j) {
            detail::start_attempt(j, request.worker_id, now, request.lease);
        });
        claimed.push_back(job);
        if (auto it = budget.find(head.name); it != budget.end()) {
            it->second -= 1;
            starts[head.name].insert(now);
        }
        push_head(head.queue, head.name);
    }
    return claimed;
}

MemoryStore::MemoryStore() : state_(std::make_unique<State>()) {}

MemoryStore::~MemoryStore() = default;

std::string MemoryStore::describe() const { return "memory"; }

JobsResult<std::vector<EnqueueOutcome>> MemoryStore::enqueue(std::span<const NewJob> jobs,
                                                             TimePoint now) {
    // Validate the whole batch before touching anything: the batch is all or nothing.
    if (auto r = detail::check_batch(jobs); !r) return r.error();
    std::lock_guard lock(state_->mutex);
    std::vector<EnqueueOutcome> outcomes;
    outcomes.reserve(jobs.size());
    for (const NewJob& job : jobs) {
        if (job.unique_key) {
            if (auto it = state_->unique.find(*job.unique_key); it != state_->unique.end()) {
                outcomes.push_back({it->second, false});
                continue;
            }
        }
        const JobId id = state_->next_id++;
        auto [it, inserted] = state_->jobs.emplace(id, detail::make_record(job, id, now));
        state_->index(it->second);
        outcomes.push_back({id, true});
    }
    return outcomes;
}

JobsResult<std::vector<JobRecord>> MemoryStore::claim(const ClaimRequest& request) {
    if (auto r = detail::check_claim(request); !r) return r.error();
    std::lock_guard lock(state_->mutex);
    return state_->claim(request);
}

JobsResult<std::vector<LeaseStatus>> MemoryStore::heartbeat(std::string_view worker_id,
                                                            std::span<const JobId> ids,
                                                            TimePoint lease_until) {
    std::lock_guard lock(state_->mutex);
    std::vector<LeaseStatus> statuses;
    statuses.reserve(ids.size());
    for (const JobId id : ids) {
        JobRecord* job = state_->find(id);
        if (job == nullptr || !detail::check_owner(*job, worker_id)) {
            statuses.push_back({id, false, false});
            continue;
        }
        state_->mutate(*job, [&](JobRecord& j) { detail::renew(j, lease_until); });
        statuses.push_back({id, true, job->cancel_requested});
    }
    return statuses;
}

JobsResult<void> MemoryStore::set_progress(JobId id, std::string_view worker_id, double fraction,
                                           std::string_view message) {
    if (auto r = detail::check_progress(fraction); !r) return r;
    std::lock_guard lock(state_->mutex);
    JobRecord* job = state_->find(id);
    if (job == nullptr) return detail::not_found(id);
    // Progress touches no index.
    return detail::set_progress(*job, worker_id, fraction, message);
}

JobsResult<void> MemoryStore::complete(JobId id, std::string_view worker_id,
                                       std::optional<std::string_view> result_json,
                                       TimePoint now, std::optional<TimePoint> expires_at) {
    if (result_json) {
        if (auto r = detail::check_json("result", *result_json); !r) return r;
    }
    std::lock_guard lock(state_->mutex);
    JobRecord* job = state_->find(id);
    if (job == nullptr) return detail::not_found(id);
    if (auto r = detail::check_owner(*job, worker_id); !r) return r;
    return state_->mutate(*job, [&](JobRecord& j) {
        return detail::complete(j, worker_id, result_json, now, expires_at);
    });
}

JobsResult<std::vector<JobsResult<void>>> MemoryStore::complete_many(
    std::string_view worker_id, std::span<const Completion> completions, TimePoint now) {
    std::vector<JobsResult<void>> results;
    results.reserve(completions.size());
    std::lock_guard lock(state_->mutex);
    for (const Completion& c : completions) {
        if (c.result_json) {
            if (auto r = detail::check_json("result", *c.result_json); !r) {
                results.push_back(r);
                continue;
            }
        }
        JobRecord* job = state_->find(c.id);
        if (job == nullptr) {
            results.push_back(detail::not_found(c.id));
            continue;
        }
        if (auto r = detail::check_owner(*job, worker_id); !r) {
            results.push_back(r);
            continue;
        }
        results.push_back(state_->mutate(*job, [&](JobRecord& j) {
            return detail::complete(j, worker_id, c.result_json, now, c.expires_at);
        }));
    }
    return results;
}

JobsResult<JobState> MemoryStore::fail(JobId id, std::string_view worker_id,
                                       std::string_view message, TimePoint now,
                                       std::optional<TimePoint> retry_at,
                                       std::optional<TimePoint> expires_at) {
    std::lock_guard lock(state_->mutex);
    JobRecord* job = state_->find(id);
    if (job == nullptr) return detail::not_found(id);
    if (auto r = detail::check_owner(*job, worker_id); !r) return r.error();
    return state_->mutate(*job, [&](JobRecord& j) {
        return detail::fail(j, worker_id, message, now, retry_at, expires_at);
    });
}

JobsResult<void> MemoryStore::mark_cancelled(JobId id, std::string_view worker_id, TimePoint now,
                                             std::optional<TimePoint> expires_at) {
    std::lock_guard lock(state_->mutex);
    JobRecord* job = state_->find(id);
    if (job == nullptr) return detail::not_found(id);
    if (auto r = detail::check_owner(*job, worker_id); !r) return r;
    return state_->mutate(*job, [&](JobRecord& j) {
        return detail::mark_cancelled(j, worker_id, now, expires_at);
    });
}

JobsResult<std::size_t> MemoryStore::release(std::string_view worker_id,
                                             std::span<const JobId> ids, TimePoint now) {
    std::lock_guard lock(state_->mutex);
    std::size_t released = 0;
    for (const JobId id : ids) {
        JobRecord* job = state_->find(id);
        if (job == nullptr || !detail::check_owner(*job, worker_id)) continue;
        state_->mutate(*job, [&](JobRecord& j) { detail::release(j, worker_id, now); });
        ++released;
    }
    return released;
}

JobsResult<ExpiredLeases> MemoryStore::requeue_expired(TimePoint now,
                                                       std::optional<TimePoint> dead_expires_at) {
    std::lock_guard lock(state_->mutex);
    const TimePoint at = truncate_to_store(now);
    ExpiredLeases expired;
    while (!state_->leases.empty() && state_->leases.begin()->first <= at) {
        JobRecord& job = state_->jobs.at(state_->leases.begin()->second);
        const auto outcome = state_->mutate(
            job, [&](JobRecord& j) { return detail::expire_lease(j, now, dead_expires_at); });
        detail::record_expiry(expired, job.id, outcome);
    }
    return expired;
}

JobsResult<std::optional<TimePoint>> MemoryStore::next_due_at() const {
    std::lock_guard lock(state_->mutex);
    if (state_->delayed.empty()) return std::optional<TimePoint>();
    return std::optional<TimePoint>(state_->delayed.begin()->first);
}

JobsResult<JobState> MemoryStore::cancel(JobId id, TimePoint now,
                                         std::optional<TimePoint> expires_at) {
    std::lock_guard lock(state_->mutex);
    JobRecord* job = state_->find(id);
    if (job == nullptr) return detail::not_found(id);
    // Check on a copy so a refused cancel leaves the record untouched.
    JobRecord next = *job;
    auto state = detail::cancel(next, now, expires_at);
    if (!state) return state;
    state_->mutate(*job, [&](JobRecord& j) { j = std::move(next); });
    return state;
}

JobsResult<void> MemoryStore::retry(JobId id, TimePoint now) {
    std::lock_guard lock(state_->mutex);
    JobRecord* job = state_->find(id);
    if (job == nullptr) return detail::not_found(id);
    if (auto r = detail::check_retry(*job); !r) return r;
    if (job->unique_key) {
        // The job is not active (checked above), so any holder of the key is another job.
        if (auto it = state_->unique.find(*job->unique_key); it != state_->unique.end()) {
            return detail::duplicate_key(*job, it->second);
        }
    }
    state_->mutate(*job, [&](JobRecord& j) { detail::retry(j, now); });
    return {};
}

JobsResult<void> MemoryStore::remove(JobId id, bool force) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->jobs.find(id);
    if (it == state_->jobs.end()) return detail::not_found(id);
    if (auto r = detail::check_remove(it->second, force); !r) return r;
    state_->erase(it);
    return {};
}

JobsResult<std::size_t> MemoryStore::purge(TimePoint now, std::size_t limit) {
    std::lock_guard lock(state_->mutex);
    const TimePoint at = truncate_to_store(now);
    std::size_t purged = 0;
    while (purged < limit && !state_->expiry.empty() && state_->expiry.begin()->first <= at) {
        state_->erase(state_->jobs.find(state_->expiry.begin()->second));
        ++purged;
    }
    return purged;
}

JobsResult<JobRecord> MemoryStore::get(JobId id) const {
    std::lock_guard lock(state_->mutex);
    auto it = state_->jobs.find(id);
    if (it == state_->jobs.end()) return detail::not_found(id);
    return it->second;
}

JobsResult<JobPage> MemoryStore::list(const JobFilter& filter, const PageRequest& page) const {
    if (auto r = detail::check_page(page); !r) return r.error();
    std::lock_guard lock(state_->mutex);

    // Walk the smallest id set that a filter selects, newest first, and check the others.
    static const IdSet kNone;
    const IdSet* smallest = nullptr;
    const auto consider = [&](const IdSet& ids) {
        if (smallest == nullptr || ids.size() < smallest->size()) smallest = &ids;
    };
    const auto lookup = [](const auto& map, const std::string& key) -> const IdSet& {
        auto it = map.find(key);
        return it == map.end() ? kNone : it->second;
    };
    if (filter.state) consider(state_->by_state[slot(*filter.state)]);
    if (filter.queue) consider(lookup(state_->by_queue, *filter.queue));
    if (filter.name) consider(lookup(state_->by_name, *filter.name));

    const auto matches = [&](const JobRecord& job) {
        return (!filter.state || job.state == *filter.state) &&
               (!filter.queue || job.queue == *filter.queue) &&
               (!filter.name || job.name == *filter.name);
    };
    JobPage result;
    // One more match than the page holds means there is a next page.
    const auto take = [&](const JobRecord& job) {
        if (!matches(job)) return true;
        if (result.jobs.size() == page.limit) {
            result.next_before_id = result.jobs.back().id;
            return false;
        }
        result.jobs.push_back(job);
        return true;
    };
    const JobId before = page.before_id.value_or(std::numeric_limits<JobId>::max());
    if (smallest == nullptr) {
        auto it = state_->jobs.lower_bound(before);
        while (it != state_->jobs.begin()) {
            --it;
            if (!take(it->second)) break;
        }
    } else {
        auto it = smallest->lower_bound(before);
        while (it != smallest->begin()) {
            --it;
            if (!take(state_->jobs.at(*it))) break;
        }
    }
    return result;
}

JobsResult<std::vector<QueueCounts>> MemoryStore::counts() const {
    std::lock_guard lock(state_->mutex);
    std::vector<QueueCounts> counts;
    counts.reserve(state_->counts.size());
    for (const auto& [queue, by_state] : state_->counts) counts.push_back({queue, by_state});
    return counts;
}

}  // namespace afterwork
