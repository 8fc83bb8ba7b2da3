// SPDX-License-Identifier: MIT
#include <afterwork/jobs/queue.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "jobs/queue_state.hpp"
#include "jobs/store_call.hpp"

namespace afterwork {

std::chrono::milliseconds backoff_ceiling(const Backoff& backoff, int attempt) noexcept {
    const auto base = std::max<std::int64_t>(0, backoff.base.count());
    const auto cap = std::max<std::int64_t>(0, backoff.cap.count());
    if (base == 0 || attempt < 1) return std::chrono::milliseconds(0);
    // base * 2^(attempt-1) stops doubling once it passes the cap, so it never overflows.
    std::int64_t ceiling = base;
    for (int i = 1; i < attempt && ceiling < cap; ++i) ceiling *= 2;
    return std::chrono::milliseconds(std::min(ceiling, cap));
}

namespace detail {

std::string serialize_json(const boost::json::value& value) {
    return boost::json::serialize(value);
}

}  // namespace detail

namespace {

JobsError invalid(std::string message) {
    return JobsError(JobsErrc::invalid_argument, std::move(message));
}

// Two independent 64-bit FNV-1a hashes (different offsets): 128 bits, so two different
// argument sets sharing a unique key is not a practical concern.
std::string args_hash(std::string_view text) {
    std::uint64_t a = 0xcbf29ce484222325ULL;
    std::uint64_t b = 0x84222325cbf29ce4ULL;
    for (unsigned char c : text) {
        a = (a ^ c) * 0x100000001b3ULL;
        b = (b ^ static_cast<unsigned char>(c + 0x5b)) * 0x100000001b3ULL;
    }
    return fmt::format("{:016x}{:016x}", a, b);
}

void check_options(const std::string& name, const DefinitionOptions& options) {
    auto fail = [&](std::string_view what) {
        throw std::invalid_argument(fmt::format("job definition {}: {}", name, what));
    };
    if (name.empty() || name.size() > kMaxNameLength) fail("the name must be 1 to 200 bytes");
    if (options.queue.empty() || options.queue.size() > kMaxNameLength) {
        fail("the queue must be 1 to 200 bytes");
    }
    if (options.priority < kMinPriority || options.priority > kMaxPriority) {
        fail(fmt::format("priority {} is out of range {}..{}", options.priority, kMinPriority,
                         kMaxPriority));
    }
    if (options.max_attempts < 1 || options.max_attempts > kMaxAttemptsLimit) {
        fail(fmt::format("max_attempts {} is out of range 1..{}", options.max_attempts,
                         kMaxAttemptsLimit));
    }
    if (options.backoff.base.count() < 0 || options.backoff.cap.count() < 0) {
        fail("the backoff must not be negative");
    }
    if (options.timeout && options.timeout->count() <= 0) fail("the timeout must be positive");
    if (options.rate_limit &&
        (options.rate_limit->max_starts < 0 || options.rate_limit->period.count() <= 0)) {
        fail("the rate limit needs max_starts >= 0 and a positive period");
    }
    if (options.result_ttl.count() < 0 || options.finished_ttl.count() < 0) {
        fail("times to live must not be negative");
    }
}

}  // namespace

std::vector<RateLimit> detail::QueueState::rate_limits() const {
    std::vector<RateLimit> limits;
    std::lock_guard lock(mutex);
    for (const auto& [name, definition] : definitions) {
        if (const auto& limit = definition->options.rate_limit) {
            limits.push_back(RateLimit{name, limit->max_starts,
                                       std::chrono::duration_cast<std::chrono::microseconds>(
                                           limit->period)});
        }
    }
    return limits;
}

void detail::QueueState::add_worker(std::weak_ptr<detail::WorkerLink> worker) {
    std::lock_guard lock(mutex);
    std::erase_if(workers, [](const auto& weak) { return weak.expired(); });
    workers.push_back(std::move(worker));
}

void detail::QueueState::wake_workers() const noexcept {
    std::vector<std::shared_ptr<detail::WorkerLink>> alive;
    {
        std::lock_guard lock(mutex);
        for (const auto& weak : workers) {
            if (auto worker = weak.lock()) alive.push_back(std::move(worker));
        }
    }
    for (const auto& worker : alive) worker->wake();
}

void detail::QueueState::cancel_local(JobId id) const noexcept {
    std::vector<std::shared_ptr<detail::WorkerLink>> alive;
    {
        std::lock_guard lock(mutex);
        for (const auto& weak : workers) {
            if (auto worker = weak.lock()) alive.push_back(std::move(worker));
        }
    }
    for (const auto& worker : alive) worker->cancel_local(id);
}

Queue::Queue(std::shared_ptr<Store> store, QueueOptions options)
    : state_(std::make_shared<detail::QueueState>()) {
    if (!store) throw std::invalid_argument("afterwork::Queue needs a store");
    state_->store = std::move(store);
    state_->clock = options.clock ? std::move(options.clock) : system_clock();
}

Queue::~Queue() = default;

void Queue::add_definition(detail::JobDefinition definition) {
    check_options(definition.name, definition.options);
    auto shared = std::make_shared<const detail::JobDefinition>(std::move(definition));
    std::lock_guard lock(state_->mutex);
    if (!state_->definitions.emplace(shared->name, shared).second) {
        throw std::invalid_argument(
            fmt::format("job definition {}: already defined", shared->name));
    }
}

bool Queue::defined(std::string_view name) const { return state_->find(name) != nullptr; }

std::vector<std::string> Queue::names() const {
    std::vector<std::string> names;
    std::lock_guard lock(state_->mutex);
    for (const auto& [name, definition] : state_->definitions) names.push_back(name);
    return names;
}

JobsResult<std::vector<NewJob>> Queue::prepare(std::span<const EnqueueRequest> jobs,
                                               TimePoint now) const {
    std::vector<NewJob> prepared;
    prepared.reserve(jobs.size());
    std::shared_ptr<const detail::JobDefinition> definition;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const auto& request = jobs[i];
        const auto& options = request.options;
        // One job reads "send_email: ..."; a batch names the index as Store::enqueue does.
        // Formed only for an error: a batch of valid jobs formats nothing.
        const auto where = [&] {
            return jobs.size() == 1 ? request.name + ": "
                                    : fmt::format("jobs[{}] ({}): ", i, request.name);
        };
        // Batches are mostly of one name: look it up when it changes.
        if (!definition || definition->name != request.name) definition = state_->find(request.name);
        if (!definition) {
            return JobsError(JobsErrc::not_found,
                             fmt::format("{}no job definition named \"{}\"", where(), request.name));
        }
        auto issues = definition->check(request.args);
        if (!issues.empty()) return invalid(where() + detail::describe_issues(issues));
        if (options.delay && options.run_at) {
            return invalid(where() + "give either delay or run_at, not both");
        }
        if (options.delay && options.delay->count() < 0) {
            return invalid(fmt::format("{}delay: {} ms is negative", where(),
                                       options.delay->count()));
        }
        NewJob job;
        job.name = request.name;
        job.args = detail::serialize_json(request.args);
        job.queue = options.queue.value_or(definition->options.queue);
        job.priority = options.priority.value_or(definition->options.priority);
        job.max_attempts = options.max_attempts.value_or(definition->options.max_attempts);
        if (job.priority < kMinPriority || job.priority > kMaxPriority) {
            return invalid(fmt::format("{}priority: {} is out of range {}..{}", where(),
                                       job.priority, kMinPriority, kMaxPriority));
        }
        if (job.max_attempts < 1 || job.max_attempts > kMaxAttemptsLimit) {
            return invalid(fmt::format("{}max_attempts: {} is out of range 1..{}", where(),
                                       job.max_attempts, kMaxAttemptsLimit));
        }
        if (options.delay) job.run_at = now + *options.delay;
        if (options.run_at) job.run_at = *options.run_at;
        // Keys are per definition: the same key under two names is two jobs.
        if (options.unique_key) {
            if (options.unique_key->empty()) return invalid(where() + "unique_key: empty");
            job.unique_key = request.name + ":" + *options.unique_key;
        } else if (definition->options.unique == UniquePolicy::by_key) {
            return invalid(where() + "unique_key: required by the definition");
        } else if (definition->options.unique == UniquePolicy::by_args) {
            job.unique_key = request.name + ":args:" + args_hash(job.args);
        }
        if (job.unique_key && job.unique_key->size() > kMaxUniqueKeyLength) {
            return invalid(fmt::format("{}unique_key: longer than {} bytes", where(),
                                       kMaxUniqueKeyLength - request.name.size() - 1));
        }
        if (auto checked = validate(job); !checked) {
            return invalid(where() + checked.error().what());
        }
        prepared.push_back(std::move(job));
    }
    return prepared;
}

JobsResult<std::vector<EnqueueOutcome>> Queue::enqueue_many(std::span<const EnqueueRequest> jobs) {
    const TimePoint now = state_->now();
    auto prepared = prepare(jobs, now);
    if (!prepared) return prepared.error();
    auto outcomes = state_->store->enqueue(*prepared, now);
    if (outcomes) {
        const bool any_created = std::any_of(outcomes->begin(), outcomes->end(),
                                             [](const auto& o) { return o.created; });
        if (any_created) state_->wake_workers();
    }
    return outcomes;
}

JobsResult<EnqueueOutcome> Queue::enqueue(std::string_view name, boost::json::value args,
                                          const EnqueueOptions& options) {
    EnqueueRequest request{std::string(name), std::move(args), options};
    auto outcomes = enqueue_many(std::span<const EnqueueRequest>(&request, 1));
    if (!outcomes) return outcomes.error();
    return outcomes->front();
}

namespace {

JobsResult<std::vector<EnqueueOutcome>> enqueue_on_pool(std::shared_ptr<detail::QueueState> state,
                                                        std::vector<NewJob> jobs, TimePoint now) {
    auto outcomes = state->store->enqueue(jobs, now);
    if (outcomes) state->wake_workers();
    return outcomes;
}

}  // namespace

Task<JobsResult<std::vector<EnqueueOutcome>>> Queue::co_enqueue_many(
    std::vector<EnqueueRequest> jobs) {
    // Validation is cheap and needs no I/O: only the store call leaves the loop.
    const TimePoint now = state_->now();
    auto prepared = prepare(jobs, now);
    if (!prepared) co_return prepared.error();
    auto stored =
        detail::store_call(*state_->store, enqueue_on_pool, state_, std::move(*prepared), now);
    co_return co_await std::move(stored);
}

Task<JobsResult<EnqueueOutcome>> Queue::co_enqueue(std::string name, boost::json::value args,
                                                   EnqueueOptions options) {
    std::vector<EnqueueRequest> jobs;
    jobs.push_back(EnqueueRequest{std::move(name), std::move(args), std::move(options)});
    auto outcomes = co_await co_enqueue_many(std::move(jobs));
    if (!outcomes) co_return outcomes.error();
    co_return outcomes->front();
}

void Queue::notify() const noexcept { state_->wake_workers(); }

JobsResult<JobState> Queue::cancel(JobId id) {
    const TimePoint now = state_->now();
    // A job cancelled before it ran is kept for the longest finished-job TTL of its definition.
    std::optional<TimePoint> expires_at;
    if (auto job = state_->store->get(id)) {
        if (auto definition = state_->find(job->name)) {
            expires_at = now + definition->options.finished_ttl;
        }
    }
    auto state = state_->store->cancel(id, now, expires_at);
    if (state && *state == JobState::running) state_->cancel_local(id);
    return state;
}

JobsResult<void> Queue::retry(JobId id) {
    auto retried = state_->store->retry(id, state_->now());
    if (retried) state_->wake_workers();
    return retried;
}

JobsResult<void> Queue::remove(JobId id, bool force) { return state_->store->remove(id, force); }
JobsResult<JobRecord> Queue::get(JobId id) const { return state_->store->get(id); }
JobsResult<JobPage> Queue::list(const JobFilter& filter, const PageRequest& page) const {
    return state_->store->list(filter, page);
}
JobsResult<std::vector<QueueCounts>> Queue::counts() const { return state_->store->counts(); }
TimePoint Queue::now() const { return state_->now(); }
Clock& Queue::clock() const noexcept { return *state_->clock; }
const std::shared_ptr<Store>& Queue::store() const noexcept { return state_->store; }

}  // namespace afterwork
