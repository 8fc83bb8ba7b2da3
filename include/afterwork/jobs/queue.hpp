// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Queue`: the producer side of durable jobs — named job definitions and `enqueue` — over a
/// `Store`. A `Worker` (worker.hpp) runs the definitions of a queue.
///
/// A definition names a handler and its policy (queue, priority, attempts, backoff, timeout,
/// rate limit, unique key, time to live):
///
///     struct Welcome { std::string email; std::string name; };
///     BOOST_DESCRIBE_STRUCT(Welcome, (), (email, name))
///
///     queue.define("send_welcome", [](JobContext& job, Welcome args) -> Task<> { ... },
///                  {.max_attempts = 5, .timeout = 30s});
///     queue.enqueue("send_welcome", Welcome{"a@b.c", "Ann"}).value();
///
/// **Handler forms.** A coroutine (`Task<R>`) runs on the worker's loop; a plain function runs
/// on the blocking pool (`to_thread`), or on the CPU pool with `DefinitionOptions::cpu`. The
/// handler takes `(JobContext&, const boost::json::value& args)` or `(JobContext&, T args)`
/// for a struct `T` described with `BOOST_DESCRIBE_STRUCT` (by value or const reference). For a
/// described `T` the arguments are checked when the job is ENQUEUED, with the rules the http
/// layer applies to request bodies (pydantic's lax mode), so a bad job is refused at once
/// instead of failing later on a worker. `R` is `void` or anything `to_json` converts; the
/// result is stored with the job (as JSON) for `result_ttl`.
///
/// **Enqueue.** `enqueue` is synchronous: it validates, then writes to the store, which may
/// block on disk — call it from plain threads and at startup. From a coroutine on an event
/// loop use `co_enqueue`, which runs the store call on the blocking pool. Bad input — unknown
/// name (`not_found`), arguments that do not match the definition, a negative delay, both a
/// delay and a run-at, a priority or attempt count out of range (`invalid_argument`) — stores
/// nothing. Workers of this process serving the queue wake at once.
///
/// **Unique jobs.** `EnqueueOptions::unique_key`, or the definition's `UniquePolicy`: while a
/// job with the same key is scheduled, queued, running or failed, an enqueue returns that
/// job's id with `created = false`. Keys are per definition (the store key is
/// `<name>:<key>`).
///
/// @par Thread safety
/// Thread-safe: define, enqueue, cancel and the rest may be called from any thread. Define
/// every job before a worker starts (a worker fails jobs it has no definition for).
///
/// @par Lifetime
/// Workers hold the queue's internals: the `Queue` object may go before them.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include <afterwork/detail/json_binding.hpp>
#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/job_context.hpp>
#include <afterwork/jobs/store.hpp>
#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

/// Exponential backoff with full jitter: the retry after failed attempt `n` waits a uniformly
/// random time in [0, min(cap, base * 2^(n-1))] — AWS's "full jitter", which spreads the
/// retries of many failed jobs instead of bunching them.
struct Backoff {
    std::chrono::milliseconds base{1000};
    std::chrono::milliseconds cap{std::chrono::minutes(10)};
};

/// The upper bound of the delay after failed attempt `attempt` (1-based): min(cap, base *
/// 2^(attempt-1)), without overflow.
std::chrono::milliseconds backoff_ceiling(const Backoff& backoff, int attempt) noexcept;

/// How a definition makes its jobs unique.
enum class UniquePolicy {
    none,     ///< only an explicit `EnqueueOptions::unique_key` makes a job unique
    by_key,   ///< every enqueue must give a `unique_key` (else invalid_argument)
    by_args,  ///< the key is a hash of the arguments: the same arguments are one job
};

/// At most `max_starts` jobs of a definition start per `period`, across every worker and
/// process that shares the store.
struct JobRateLimit {
    std::int64_t max_starts = 0;
    std::chrono::milliseconds period{1000};
};

/// A definition's policy. An aggregate: `{.max_attempts = 5, .timeout = 30s}`.
struct DefinitionOptions {
    std::string queue = "default";
    int priority = 0;      ///< kMinPriority..kMaxPriority, higher first
    int max_attempts = 3;  ///< 1..kMaxAttemptsLimit; 1 means no retry
    Backoff backoff{};
    /// A longer attempt is cancelled and counts as failed ("timed out after N ms").
    std::optional<std::chrono::milliseconds> timeout;
    std::optional<JobRateLimit> rate_limit;
    UniquePolicy unique = UniquePolicy::none;
    /// How long a succeeded job (and its result) is kept before it is purged.
    std::chrono::seconds result_ttl{std::chrono::hours(24)};
    /// How long a dead or cancelled job is kept, for a person to look at or retry.
    std::chrono::seconds finished_ttl{std::chrono::hours(24 * 7)};
    /// A plain-function handler runs on the CPU pool instead of the blocking pool.
    bool cpu = false;
};

/// Per-enqueue choices; unset fields take the definition's.
struct EnqueueOptions {
    std::optional<std::chrono::milliseconds> delay;  ///< not negative; not with run_at
    std::optional<TimePoint> run_at;
    std::optional<int> priority;
    std::optional<std::string> queue;
    std::optional<std::string> unique_key;
    std::optional<int> max_attempts;
};

/// One job of `enqueue_many`.
struct EnqueueRequest {
    std::string name;
    boost::json::value args;
    EnqueueOptions options{};
};

/// `Queue` settings.
struct QueueOptions {
    /// The time of every store call (due times, leases, retries) and of this queue's workers'
    /// sleeps; default `system_clock()`. A `ManualClock` drives it in tests.
    std::shared_ptr<Clock> clock;
};

class Worker;

namespace detail {

/// What a queue shares with the workers of this process (src/jobs/queue_state.hpp).
struct QueueState;

/// A definition with its handler erased: what a worker runs.
struct JobDefinition {
    std::string name;
    DefinitionOptions options;
    /// Checks arguments at enqueue: the issues, empty when they bind.
    std::function<std::vector<ValidationIssue>(const boost::json::value&)> check;
    /// Starts one attempt; the task returns the result as JSON text (nullopt for void).
    std::function<Task<std::optional<std::string>>(std::shared_ptr<JobContext>)> start;
};

template <class F>
struct handler_traits : handler_traits<decltype(&F::operator())> {};
template <class C, class R, class Ctx, class A>
struct handler_traits<R (C::*)(Ctx, A) const> {
    using arg = std::remove_cvref_t<A>;
};
template <class C, class R, class Ctx, class A>
struct handler_traits<R (C::*)(Ctx, A)> {
    using arg = std::remove_cvref_t<A>;
};
template <class R, class Ctx, class A>
struct handler_traits<R (*)(Ctx, A)> {
    using arg = std::remove_cvref_t<A>;
};
template <class R, class Ctx, class A>
struct handler_traits<R(Ctx, A)> {
    using arg = std::remove_cvref_t<A>;
};

template <class T>
struct task_value {
    using type = T;
};
template <class T>
struct task_value<Task<T>> {
    using type = T;
};

/// The arguments as the handler takes them: the JSON itself, or bound to `Arg` (checked at
/// enqueue, so a failure here means the definition changed since).
template <class Arg>
Arg bind_args(const boost::json::value& args) {
    if constexpr (std::is_same_v<Arg, boost::json::value>) {
        return args;
    } else {
        Arg out{};
        auto issues = bind_json_issues(args, out, boost::json::array{"args"});
        if (!issues.empty()) {
            throw std::invalid_argument("arguments do not match the definition: " +
                                        describe_issues(issues));
        }
        return out;
    }
}

std::string serialize_json(const boost::json::value& value);

template <class U>
std::optional<std::string> result_text(const U& value) {
    return serialize_json(to_json(value));
}

template <class F, class Arg>
Task<std::optional<std::string>> run_coroutine_handler(std::shared_ptr<F> function,
                                                        std::shared_ptr<JobContext> context) {
    Arg args = bind_args<Arg>(context->args());
    using R = typename task_value<std::invoke_result_t<F&, JobContext&, Arg&>>::type;
    auto inner = std::invoke(*function, *context, args);
    if constexpr (std::is_void_v<R>) {
        co_await std::move(inner);
        co_return std::nullopt;
    } else {
        R value = co_await std::move(inner);
        co_return result_text(value);
    }
}

template <class F, class Arg>
Task<std::optional<std::string>> run_plain_handler(std::shared_ptr<F> function,
                                                    std::shared_ptr<JobContext> context,
                                                    bool cpu) {
    // The call owns the function and the context: when the wait is cancelled (timeout,
    // cancel) the call still runs to its end on the pool.
    auto call = [function, context]() -> std::optional<std::string> {
        Arg args = bind_args<Arg>(context->args());
        using R = std::invoke_result_t<F&, JobContext&, Arg&>;
        if constexpr (std::is_void_v<R>) {
            std::invoke(*function, *context, args);
            return std::nullopt;
        } else {
            return result_text(std::invoke(*function, *context, args));
        }
    };
    Task<std::optional<std::string>> offloaded =
        cpu ? on_cpu(std::move(call)) : to_thread(std::move(call));
    co_return co_await std::move(offloaded);
}

}  // namespace detail

/// The producer side of durable jobs. See the file comment.
/// @par Thread safety
/// Thread-safe.
class Queue {
public:
    explicit Queue(std::shared_ptr<Store> store, QueueOptions options = {});
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;
    ~Queue();

    /// Defines the job `name`. See the file comment for the handler forms.
    /// @throws std::invalid_argument for an empty or duplicate name or options out of range.
    template <class F>
    void define(std::string name, F handler, DefinitionOptions options = {}) {
        using Function = std::decay_t<F>;
        using Arg = typename detail::handler_traits<Function>::arg;
        static_assert(std::is_same_v<Arg, boost::json::value> || detail::is_described_struct<Arg>,
                      "afterwork::Queue::define: the handler takes (JobContext&, "
                      "boost::json::value) or (JobContext&, T) for a described struct T");
        using R = std::invoke_result_t<Function&, JobContext&, Arg&>;
        auto function = std::make_shared<Function>(std::move(handler));
        detail::JobDefinition definition;
        definition.name = std::move(name);
        definition.check = [](const boost::json::value& args) {
            std::vector<ValidationIssue> issues;
            if constexpr (!std::is_same_v<Arg, boost::json::value>) {
                Arg out{};
                issues = detail::bind_json_issues(args, out, boost::json::array{"args"});
            }
            return issues;
        };
        if constexpr (is_task_v<R>) {
            definition.start = [function](std::shared_ptr<JobContext> context) {
                return detail::run_coroutine_handler<Function, Arg>(function, std::move(context));
            };
        } else {
            const bool cpu = options.cpu;
            definition.start = [function, cpu](std::shared_ptr<JobContext> context) {
                return detail::run_plain_handler<Function, Arg>(function, std::move(context), cpu);
            };
        }
        definition.options = std::move(options);
        add_definition(std::move(definition));
    }

    /// True when `name` is defined.
    bool defined(std::string_view name) const;
    /// The defined names, sorted.
    std::vector<std::string> names() const;

    /// Validates and stores one job; wakes this process's workers. Blocks on the store: see
    /// the file comment. Errors: `not_found` (unknown name), `invalid_argument` (bad input,
    /// naming the field), and the store's errors; none stores anything.
    [[nodiscard]] JobsResult<EnqueueOutcome> enqueue(std::string_view name,
                                                     boost::json::value args,
                                                     const EnqueueOptions& options = {});

    /// `enqueue` with a described struct as the arguments.
    template <class T>
        requires detail::is_described_struct<T>
    [[nodiscard]] JobsResult<EnqueueOutcome> enqueue(std::string_view name,
                                                     const T& args,
                                                     const EnqueueOptions& options = {}) {
        return enqueue(name, to_json(args), options);
    }

    /// Several jobs in one store transaction: all are stored or none. An invalid job fails the
    /// call with its index (`jobs[2].args.email: Field required`).
    [[nodiscard]] JobsResult<std::vector<EnqueueOutcome>> enqueue_many(
        std::span<const EnqueueRequest> jobs);

    /// `enqueue` from a coroutine: the store call runs on the blocking pool.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the store call still runs
    /// to its end, so the job may have been stored.
    [[nodiscard]] Task<JobsResult<EnqueueOutcome>> co_enqueue(std::string name,
                                                              boost::json::value args,
                                                              EnqueueOptions options = {});

    /// `enqueue_many` from a coroutine; cancellation as `co_enqueue`.
    [[nodiscard]] Task<JobsResult<std::vector<EnqueueOutcome>>> co_enqueue_many(
        std::vector<EnqueueRequest> jobs);

    /// Checks `jobs` against their definitions and turns them into store jobs, without
    /// storing anything (used by transactional enqueue, see sqlite_queue.hpp).
    [[nodiscard]] JobsResult<std::vector<NewJob>> prepare(std::span<const EnqueueRequest> jobs,
                                                          TimePoint now) const;

    /// Wakes this process's idle workers (after a transactional enqueue commits).
    void notify() const noexcept;

    /// Cancels a job (see `Store::cancel`). A job running on a worker of this process is
    /// cancelled at once: its handler sees operation_aborted at its next suspension point and
    /// `JobContext::cancel_requested()` turns true; the job ends `cancelled`. A job running
    /// elsewhere learns it at its worker's next heartbeat.
    [[nodiscard]] JobsResult<JobState> cancel(JobId id);
    /// Runs a dead, failed or cancelled job again (`Store::retry`); wakes the workers.
    [[nodiscard]] JobsResult<void> retry(JobId id);
    [[nodiscard]] JobsResult<void> remove(JobId id, bool force = false);
    [[nodiscard]] JobsResult<JobRecord> get(JobId id) const;
    [[nodiscard]] JobsResult<JobPage> list(const JobFilter& filter = {},
                                           const PageRequest& page = {}) const;
    [[nodiscard]] JobsResult<std::vector<QueueCounts>> counts() const;

    /// The clock of this queue and its workers.
    TimePoint now() const;
    Clock& clock() const noexcept;
    const std::shared_ptr<Store>& store() const noexcept;

private:
    friend class Worker;  // reaches the definitions and registers itself to be woken

    void add_definition(detail::JobDefinition definition);

    std::shared_ptr<detail::QueueState> state_;
};

}  // namespace afterwork
