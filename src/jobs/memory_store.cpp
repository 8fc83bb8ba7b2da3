// SPDX-License-Identifier: MIT
#include <afterwork/jobs/memory_store.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <deque>
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

// Every index here is built for the hot path of a queue — enqueue, claim, complete, millions
// of times — rather than for exactness: the time-ordered indexes are binary heaps whose
// entries are checked against the record when they come up ("lazy deletion"), so a state
// change pushes at most one entry and never searches for the old one. An entry is live while
// its record still has the key the entry was pushed with; stale ones are dropped when they
// reach the top or when a heap is rebuilt.

using Counts = std::array<std::int64_t, kJobStateCount>;

std::size_t slot(JobState s) { return static_cast<std::size_t>(s); }

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

struct TimedId {
    TimePoint at{};
    JobId id = 0;

    friend bool operator<(const TimedId& a, const TimedId& b) {
        return a.at != b.at ? a.at < b.at : a.id < b.id;
    }
};

// A min-heap (under `<` of Entry) with lazy deletion; see the file comment.
template <class Entry>
class LazyHeap {
public:
    void push(const Entry& entry) {
        entries_.push_back(entry);
        std::push_heap(entries_.begin(), entries_.end(), later);
    }

    // Drops stale entries from the top; returns the first live one, or nullptr.
    template <class IsLive>
    const Entry* top(IsLive&& is_live) {
        while (!entries_.empty() && !is_live(entries_.front())) pop();
        return entries_.empty() ? nullptr : &entries_.front();
    }

    void pop() {
        std::pop_heap(entries_.begin(), entries_.end(), later);
        entries_.pop_back();
    }

    bool empty() const noexcept { return entries_.empty(); }

    // Rebuilds without stale entries once they are most of the heap (`live` is at least the
    // number of live entries), so the heap stays within a constant factor of its live entries
    // at O(1) amortised cost per push.
    template <class IsLive>
    void compact_if_bloated(std::size_t live, IsLive&& is_live) {
        if (entries_.size() < 2 * std::max(live, compacted_size_) + 1024) return;
        std::erase_if(entries_, [&](const Entry& e) { return !is_live(e); });
        // A record that left a key and came back to the same key has two live entries.
        std::sort(entries_.begin(), entries_.end());
        entries_.erase(std::unique(entries_.begin(),
                                   entries_.end(),
                                   [](const Entry& a, const Entry& b) {
                                       return !(a < b) && !(b < a);
                                   }),
                       entries_.end());
        std::make_heap(entries_.begin(), entries_.end(), later);
        compacted_size_ = entries_.size();
    }

private:
    static bool later(const Entry& a, const Entry& b) { return b < a; }

    std::vector<Entry> entries_;
    std::size_t compacted_size_ = 0;
};

// One bit per job id from some first id on: the ids of one state, walked newest first by
// `list`. A bitmap rather than a tree: setting and clearing a bit is the whole cost of a
// state change, and a page skips 64 absent ids per word.
class IdBitmap {
public:
    void set(JobId id) {
        if (words_.empty()) first_word_ = id / 64;
        for (; id / 64 < first_word_; --first_word_) words_.push_front(0);
        const auto word = static_cast<std::size_t>(id / 64 - first_word_);
        if (word >= words_.size()) words_.resize(word + 1, 0);
        words_[word] |= bit(id);
    }

    void clear(JobId id) {
        const auto word = static_cast<std::size_t>(id / 64 - first_word_);
        if (id / 64 >= first_word_ && word < words_.size()) words_[word] &= ~bit(id);
    }

    // The largest id in the set that is below `before`, or 0.
    JobId previous(JobId before) const {
        if (before <= 0 || words_.empty()) return 0;
        JobId last = before - 1;
        std::int64_t word = last / 64 - first_word_;
        if (word < 0) return 0;
        std::uint64_t mask = ~std::uint64_t{0} >> (63 - last % 64);
        if (word >= static_cast<std::int64_t>(words_.size())) {
            word = static_cast<std::int64_t>(words_.size()) - 1;
            mask = ~std::uint64_t{0};
        }
        for (; word >= 0; --word, mask = ~std::uint64_t{0}) {
            const std::uint64_t bits = words_[static_cast<std::size_t>(word)] & mask;
            if (bits != 0) return (first_word_ + word) * 64 + (63 - std::countl_zero(bits));
        }
        return 0;
    }

    // Forgets the words wholly below `id` (every id there is gone for good: ids are not
    // reused), so purged history costs nothing.
    void drop_below(JobId id) {
        while (!words_.empty() && (first_word_ + 1) * 64 <= id) {
            words_.pop_front();
            ++first_word_;
        }
        if (words_.empty()) first_word_ = id / 64;
    }

private:
    static std::uint64_t bit(JobId id) { return std::uint64_t{1} << (id % 64); }

    std::deque<std::uint64_t> words_;
    std::int64_t first_word_ = 0;
};

// Ids in ascending order (ids only grow), of jobs that may have been deleted since: `list`
// skips those, and the vector is compacted once they could be most of it.
struct IdLog {
    std::vector<JobId> ids;
    std::size_t live = 0;
};

// The queued jobs of one job name in one queue, in claim order: one lane per name so a
// rate-limited name can be left out of a claim without stepping over its jobs.
struct Lane {
    std::string name;
    LazyHeap<ReadyKey> ready;
};

struct QueueInfo {
    std::string name;
    Counts counts{};
    IdLog ids;
    std::map<std::string, Lane, std::less<>> lanes;
};

struct Slot {
    JobRecord job;
    QueueInfo* queue = nullptr;
    IdLog* name_ids = nullptr;
};

}  // namespace

struct MemoryStore::State {
    mutable std::mutex mutex;
    JobId next_id = 1;
    JobId min_id = 1;  // no job below this id exists any more
    std::unordered_map<JobId, Slot> jobs;

    IdBitmap present;
    std::array<IdBitmap, kJobStateCount> by_state;
    Counts totals{};
    std::map<std::string, QueueInfo, std::less<>> queues;
    std::map<std::string, IdLog, std::less<>> names;
    LazyHeap<TimedId> delayed;  // scheduled and failed jobs by run_at
    LazyHeap<TimedId> leases;   // running jobs by lease_until
    LazyHeap<TimedId> expiry;   // finished jobs that expire, by expires_at
    std::unordered_map<std::string, JobId> unique;  // unique keys of active jobs
    // Start times of rate-limited names, pruned to the window at every claim that limits them.
    std::map<std::string, std::multiset<TimePoint>, std::less<>> starts;

    // ---- liveness of index entries ----------------------------------------------------------

    const JobRecord* record(JobId id) const {
        auto it = jobs.find(id);
        return it == jobs.end() ? nullptr : &it->second.job;
    }

    bool ready_live(const ReadyKey& key) const {
        const JobRecord* job = record(key.id);
        return job && job->state == JobState::queued && job->priority == key.priority &&
               job->run_at == key.run_at;
    }

    bool delayed_live(const TimedId& entry) const {
        const JobRecord* job = record(entry.id);
        return job && (job->state == JobState::scheduled || job->state == JobState::failed) &&
               job->run_at == entry.at;
    }

    bool lease_live(const TimedId& entry) const {
        const JobRecord* job = record(entry.id);
        return job && job->state == JobState::running &&
               job->lease_until.value_or(TimePoint{}) == entry.at;
    }

    bool expiry_live(const TimedId& entry) const {
        const JobRecord* job = record(entry.id);
        return job && is_finished(job->state) && job->expires_at == entry.at;
    }

    // ---- indexing ---------------------------------------------------------------------------

    // What of a record the indexes depend on, taken before a change.
    struct Keys {
        JobState state;
        int priority;
        TimePoint run_at;
        std::optional<TimePoint> lease_until;
        std::optional<TimePoint> expires_at;

        explicit Keys(const JobRecord& job)
            : state(job.state),
              priority(job.priority),
              run_at(job.run_at),
              lease_until(job.lease_until),
              expires_at(job.expires_at) {}
    };

    void push_ready(Slot& s) {
        auto lane = s.queue->lanes.find(s.job.name);
        if (lane == s.queue->lanes.end()) {
            lane = s.queue->lanes.emplace(s.job.name, Lane{s.job.name, {}}).first;
        }
        lane->second.ready.push({s.job.priority, s.job.run_at, s.job.id});
        // The queue's queued jobs bound the lane's.
        lane->second.ready.compact_if_bloated(
            static_cast<std::size_t>(s.queue->counts[slot(JobState::queued)]),
            [this](const ReadyKey& k) { return ready_live(k); });
    }

    // Brings every index from `before` (nullptr: a new record) to the record as it is now.
    void reindex(Slot& s, const Keys* before) {
        const JobRecord& job = s.job;
        const bool state_changed = !before || before->state != job.state;
        if (state_changed) {
            if (before) {
                s.queue->counts[slot(before->state)] -= 1;
                totals[slot(before->state)] -= 1;
                by_state[slot(before->state)].clear(job.id);
            }
            s.queue->counts[slot(job.state)] += 1;
            totals[slot(job.state)] += 1;
            by_state[slot(job.state)].set(job.id);
        }
        switch (job.state) {
            case JobState::queued:
                if (state_changed || before->priority != job.priority ||
                    before->run_at != job.run_at) {
                    push_ready(s);
                }
                break;
            case JobState::scheduled:
            case JobState::failed:
                if (!before ||
                    !(before->state == JobState::scheduled || before->state == JobState::failed) ||
                    before->run_at != job.run_at) {
                    delayed.push({job.run_at, job.id});
                    delayed.compact_if_bloated(
                        static_cast<std::size_t>(totals[slot(JobState::scheduled)] +
                                                 totals[slot(JobState::failed)]),
                        [this](const TimedId& e) { return delayed_live(e); });
                }
                break;
            case JobState::running:
                if (state_changed || before->lease_until != job.lease_until) {
                    leases.push({job.lease_until.value_or(TimePoint{}), job.id});
                    leases.compact_if_bloated(
                        static_cast<std::size_t>(totals[slot(JobState::running)]),
                        [this](const TimedId& e) { return lease_live(e); });
                }
                break;
            case JobState::succeeded:
            case JobState::cancelled:
            case JobState::dead:
                if (job.expires_at &&
                    (!before || is_active(before->state) || before->expires_at != job.expires_at)) {
                    expiry.push({*job.expires_at, job.id});
                    expiry.compact_if_bloated(
                        static_cast<std::size_t>(totals[slot(JobState::succeeded)] +
                                                 totals[slot(JobState::cancelled)] +
                                                 totals[slot(JobState::dead)]),
                        [this](const TimedId& e) { return expiry_live(e); });
                }
                break;
        }
        if (job.unique_key) {
            const bool was_active = before && is_active(before->state);
            if (was_active && !is_active(job.state)) {
                unique.erase(*job.unique_key);
            } else if (!was_active && is_active(job.state)) {
                unique.emplace(*job.unique_key, job.id);
            }
        }
    }

    template <class F>
    auto mutate(Slot& s, F&& change) {
        // The transitions cannot throw once their checks pass except for bad_alloc, after
        // which the store is not expected to be usable; re-index either way.
        struct Reindex {
            State& state;
            Slot& slot;
            Keys before;
            ~Reindex() { state.reindex(slot, &before); }
        } reindex{*this, s, Keys(s.job)};
        return change(s.job);
    }

    Slot* find(JobId id) {
        auto it = jobs.find(id);
        return it == jobs.end() ? nullptr : &it->second;
    }

    static void append_id(IdLog& log, JobId id) {
        log.ids.push_back(id);
        log.live += 1;
    }

    void forget_id(IdLog& log) {
        log.live -= 1;
        if (log.ids.size() > 2 * log.live + 64) {
            std::erase_if(log.ids, [this](JobId id) { return !jobs.contains(id); });
        }
    }

    void insert(JobRecord record) {
        const JobId id = record.id;
        auto queue = queues.find(record.queue);
        if (queue == queues.end()) {
            queue = queues.emplace(record.queue, QueueInfo{}).first;
            queue->second.name = record.queue;
        }
        auto name = names.find(record.name);
        if (name == names.end()) name = names.emplace(record.name, IdLog{}).first;
        Slot& s = jobs.emplace(id, Slot{std::move(record), &queue->second, &name->second})
                      .first->second;
        append_id(queue->second.ids, id);
        append_id(name->second, id);
        present.set(id);
        reindex(s, nullptr);
    }

    void erase(JobId id) {
        auto it = jobs.find(id);
        Slot& s = it->second;
        const JobRecord& job = s.job;
        if (job.unique_key && is_active(job.state)) unique.erase(*job.unique_key);
        totals[slot(job.state)] -= 1;
        by_state[slot(job.state)].clear(id);
        present.clear(id);
        QueueInfo* queue = s.queue;
        queue->counts[slot(job.state)] -= 1;
        IdLog* name_ids = s.name_ids;
        const std::string name = job.name;
        jobs.erase(it);  // the heaps' entries for it are stale from here on
        forget_id(queue->ids);
        // A queue or name with no jobs left leaves nothing behind.
        if (queue->ids.live == 0) queues.erase(queues.find(queue->name));
        forget_id(*name_ids);
        if (name_ids->live == 0) names.erase(name);
        if (id == min_id) {
            while (min_id < next_id && !jobs.contains(min_id)) ++min_id;
            present.drop_below(min_id);
            for (auto& bits : by_state) bits.drop_below(min_id);
        }
    }

    // Everything a claim does under the lock; see Store::claim.
    std::vector<JobRecord> claim(const ClaimRequest& request);
};

std::vector<JobRecord> MemoryStore::State::claim(const ClaimRequest& request) {
    const TimePoint now = truncate_to_store(request.now);
    // Promote everything that is due (all queues: it is cheap and keeps counts honest).
    const auto is_delayed = [this](const TimedId& e) { return delayed_live(e); };
    while (const TimedId* due = delayed.top(is_delayed)) {
        if (due->at > now) break;
        Slot& s = *find(due->id);
        delayed.pop();
        mutate(s, [](JobRecord& j) { j.state = JobState::queued; });
    }

    std::vector<JobRecord> claimed;
    if (request.limit == 0) return claimed;
    claimed.reserve(std::min<std::size_t>(request.limit, 1024));

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
        if (budget.empty()) return false;
        auto it = budget.find(name);
        return it != budget.end() && it->second == 0;
    };

    // A k-way merge over the head of every (queue, name) lane: O(limit * log(lanes)).
    struct Head {
        ReadyKey key;
        QueueInfo* queue;
        Lane* lane;
    };
    const auto later = [](const Head& a, const Head& b) { return b.key < a.key; };
    std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later);
    const auto is_ready = [this](const ReadyKey& k) { return ready_live(k); };
    std::vector<std::pair<QueueInfo*, std::string>> drained;
    const auto push_head = [&](QueueInfo& queue, Lane& lane) {
        if (exhausted(lane.name)) return;
        if (const ReadyKey* key = lane.ready.top(is_ready)) {
            heads.push({*key, &queue, &lane});
        } else {
            drained.emplace_back(&queue, lane.name);  // erased after the merge
        }
    };
    const auto push_queue = [&](QueueInfo& queue) {
        for (auto& [name, lane] : queue.lanes) push_head(queue, lane);
    };
    if (request.queues.empty()) {
        for (auto& [name, queue] : queues) push_queue(queue);
    } else {
        const std::set<std::string> wanted(request.queues.begin(), request.queues.end());
        for (const std::string& name : wanted) {
            if (auto it = queues.find(name); it != queues.end()) push_queue(it->second);
        }
    }

    while (!heads.empty() && claimed.size() < request.limit) {
        Head head = heads.top();
        heads.pop();
        // A name can run out of budget after its heads in other queues were pushed.
        if (exhausted(head.lane->name)) continue;
        head.lane->ready.pop();
        Slot& s = *find(head.key.id);
        mutate(s, [&](JobRecord& j) {
            detail::start_attempt(j, request.worker_id, now, request.lease);
        });
        claimed.push_back(s.job);
        if (auto it = budget.find(head.lane->name); it != budget.end()) {
            it->second -= 1;
            starts[head.lane->name].insert(now);
        }
        push_head(*head.queue, *head.lane);
    }
    for (auto& [queue, name] : drained) {
        auto lane = queue->lanes.find(name);
        if (lane != queue->lanes.end() && lane->second.ready.empty()) queue->lanes.erase(lane);
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
        state_->insert(detail::make_record(job, id, now));
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
        Slot* s = state_->find(id);
        if (s == nullptr || !detail::check_owner(s->job, worker_id)) {
            statuses.push_back({id, false, false});
            continue;
        }
        state_->mutate(*s, [&](JobRecord& j) { detail::renew(j, lease_until); });
        statuses.push_back({id, true, s->job.cancel_requested});
    }
    return statuses;
}

JobsResult<void> MemoryStore::set_progress(JobId id, std::string_view worker_id, double fraction,
                                           std::string_view message) {
    if (auto r = detail::check_progress(fraction); !r) return r;
    std::lock_guard lock(state_->mutex);
    Slot* s = state_->find(id);
    if (s == nullptr) return detail::not_found(id);
    // Progress touches no index.
    return detail::set_progress(s->job, worker_id, fraction, message);
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
        Slot* s = state_->find(c.id);
        if (s == nullptr) {
            results.push_back(detail::not_found(c.id));
            continue;
        }
        if (auto r = detail::check_owner(s->job, worker_id); !r) {
            results.push_back(r);
            continue;
        }
        results.push_back(state_->mutate(*s, [&](JobRecord& j) {
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
    Slot* s = state_->find(id);
    if (s == nullptr) return detail::not_found(id);
    if (auto r = detail::check_owner(s->job, worker_id); !r) return r.error();
    return state_->mutate(*s, [&](JobRecord& j) {
        return detail::fail(j, worker_id, message, now, retry_at, expires_at);
    });
}

JobsResult<void> MemoryStore::mark_cancelled(JobId id, std::string_view worker_id, TimePoint now,
                                             std::optional<TimePoint> expires_at) {
    std::lock_guard lock(state_->mutex);
    Slot* s = state_->find(id);
    if (s == nullptr) return detail::not_found(id);
    if (auto r = detail::check_owner(s->job, worker_id); !r) return r;
    return state_->mutate(*s, [&](JobRecord& j) {
        return detail::mark_cancelled(j, worker_id, now, expires_at);
    });
}

JobsResult<std::size_t> MemoryStore::release(std::string_view worker_id,
                                             std::span<const JobId> ids, TimePoint now) {
    std::lock_guard lock(state_->mutex);
    std::size_t released = 0;
    for (const JobId id : ids) {
        Slot* s = state_->find(id);
        if (s == nullptr || !detail::check_owner(s->job, worker_id)) continue;
        state_->mutate(*s, [&](JobRecord& j) { detail::release(j, worker_id, now); });
        ++released;
    }
    return released;
}

JobsResult<ExpiredLeases> MemoryStore::requeue_expired(TimePoint now,
                                                       std::optional<TimePoint> dead_expires_at) {
    std::lock_guard lock(state_->mutex);
    const TimePoint at = truncate_to_store(now);
    ExpiredLeases expired;
    const auto is_leased = [this](const TimedId& e) { return state_->lease_live(e); };
    while (const TimedId* entry = state_->leases.top(is_leased)) {
        if (entry->at > at) break;
        Slot& s = *state_->find(entry->id);
        state_->leases.pop();
        const auto outcome = state_->mutate(
            s, [&](JobRecord& j) { return detail::expire_lease(j, now, dead_expires_at); });
        detail::record_expiry(expired, s.job.id, outcome);
    }
    return expired;
}

JobsResult<std::optional<TimePoint>> MemoryStore::next_due_at() const {
    std::lock_guard lock(state_->mutex);
    const TimedId* due = state_->delayed.top([this](const TimedId& e) {
        return state_->delayed_live(e);
    });
    if (due == nullptr) return std::optional<TimePoint>();
    return std::optional<TimePoint>(due->at);
}

JobsResult<JobState> MemoryStore::cancel(JobId id, TimePoint now,
                                         std::optional<TimePoint> expires_at) {
    std::lock_guard lock(state_->mutex);
    Slot* s = state_->find(id);
    if (s == nullptr) return detail::not_found(id);
    // Check on a copy so a refused cancel leaves the record untouched.
    JobRecord next = s->job;
    auto state = detail::cancel(next, now, expires_at);
    if (!state) return state;
    state_->mutate(*s, [&](JobRecord& j) { j = std::move(next); });
    return state;
}

JobsResult<void> MemoryStore::retry(JobId id, TimePoint now) {
    std::lock_guard lock(state_->mutex);
    Slot* s = state_->find(id);
    if (s == nullptr) return detail::not_found(id);
    if (auto r = detail::check_retry(s->job); !r) return r;
    if (s->job.unique_key) {
        // The job is not active (checked above), so any holder of the key is another job.
        if (auto it = state_->unique.find(*s->job.unique_key); it != state_->unique.end()) {
            return detail::duplicate_key(s->job, it->second);
        }
    }
    state_->mutate(*s, [&](JobRecord& j) { detail::retry(j, now); });
    return {};
}

JobsResult<void> MemoryStore::remove(JobId id, bool force) {
    std::lock_guard lock(state_->mutex);
    Slot* s = state_->find(id);
    if (s == nullptr) return detail::not_found(id);
    if (auto r = detail::check_remove(s->job, force); !r) return r;
    state_->erase(id);
    return {};
}

JobsResult<std::size_t> MemoryStore::purge(TimePoint now, std::size_t limit) {
    std::lock_guard lock(state_->mutex);
    const TimePoint at = truncate_to_store(now);
    std::size_t purged = 0;
    const auto is_expiring = [this](const TimedId& e) { return state_->expiry_live(e); };
    while (purged < limit) {
        const TimedId* entry = state_->expiry.top(is_expiring);
        if (entry == nullptr || entry->at > at) break;
        const JobId id = entry->id;
        state_->expiry.pop();
        state_->erase(id);
        ++purged;
    }
    return purged;
}

// A walk over every job rather than an index of finish times: a clean-up by age is occasional
// (a person or a nightly task), and no index has to be kept on every finish for it. A heap of
// the `limit` oldest finishes keeps the memory it needs to the batch.
JobsResult<std::size_t> MemoryStore::purge_finished(TimePoint finished_before,
                                                    std::span<const JobState> states,
                                                    std::size_t limit) {
    auto wanted = detail::check_purge_finished(states, limit);
    if (!wanted) return wanted.error();
    std::array<bool, kJobStateCount> purged_state{};
    for (const JobState s : *wanted) purged_state[slot(s)] = true;

    std::lock_guard lock(state_->mutex);
    // The newest finish of the batch on top, so a yet older one can take its place.
    std::priority_queue<std::pair<TimePoint, JobId>> oldest;
    for (const auto& [id, s] : state_->jobs) {
        const JobRecord& job = s.job;
        if (!purged_state[slot(job.state)] || !job.finished_at ||
            !(*job.finished_at < finished_before)) {
            continue;
        }
        oldest.emplace(*job.finished_at, id);
        if (oldest.size() > limit) oldest.pop();
    }
    const std::size_t purged = oldest.size();
    for (; !oldest.empty(); oldest.pop()) state_->erase(oldest.top().second);
    return purged;
}

JobsResult<JobRecord> MemoryStore::get(JobId id) const {
    std::lock_guard lock(state_->mutex);
    const JobRecord* job = state_->record(id);
    if (job == nullptr) return detail::not_found(id);
    return *job;
}

JobsResult<JobPage> MemoryStore::list(const JobFilter& filter, const PageRequest& page) const {
    if (auto r = detail::check_page(page); !r) return r.error();
    std::lock_guard lock(state_->mutex);
    const State& state = *state_;

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

    // Walk the smallest set of ids that a filter selects, newest first, and check the others.
    // A queue or a name that no job has matches nothing.
    const IdLog* queue_ids = nullptr;
    const IdLog* name_ids = nullptr;
    if (filter.queue) {
        auto it = state.queues.find(*filter.queue);
        if (it == state.queues.end()) return result;
        queue_ids = &it->second.ids;
    }
    if (filter.name) {
        auto it = state.names.find(*filter.name);
        if (it == state.names.end()) return result;
        name_ids = &it->second;
    }
    const IdLog* log = nullptr;
    std::size_t size = state.jobs.size();
    for (const IdLog* ids : {queue_ids, name_ids}) {
        if (ids != nullptr && ids->live <= size) {
            log = ids;
            size = ids->live;
        }
    }
    const bool by_state =
        filter.state && static_cast<std::size_t>(state.totals[slot(*filter.state)]) < size;
    if (log != nullptr && !by_state) {
        auto it = std::lower_bound(log->ids.begin(), log->ids.end(), before);
        while (it != log->ids.begin()) {
            --it;
            const JobRecord* job = state.record(*it);
            if (job != nullptr && !take(*job)) break;
        }
        return result;
    }
    const IdBitmap& bits = by_state ? state.by_state[slot(*filter.state)] : state.present;
    for (JobId id = bits.previous(before); id > 0; id = bits.previous(id)) {
        if (!take(*state.record(id))) break;
    }
    return result;
}

JobsResult<std::vector<QueueCounts>> MemoryStore::counts() const {
    std::lock_guard lock(state_->mutex);
    std::vector<QueueCounts> counts;
    counts.reserve(state_->queues.size());
    for (const auto& [name, queue] : state_->queues) counts.push_back({name, queue.counts});
    return counts;
}

}  // namespace afterwork
