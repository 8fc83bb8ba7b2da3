// SPDX-License-Identifier: MIT
#include <afterwork/jobs/worker.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <afterwork/runtime/cancellation.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/outcome.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/runtime/task_group.hpp>
#include <afterwork/runtime/task_handle.hpp>

#include "jobs/progress.hpp"
#include "jobs/queue_state.hpp"
#include "jobs/store_call.hpp"

namespace afterwork {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

std::atomic<std::uint64_t> worker_counter{0};

std::string default_worker_id() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
        std::snprintf(host, sizeof host, "host");
    }
    return fmt::format("{}-{}-{}", host, getpid(), ++worker_counter);
}

// One claimed job from claim to its outcome written. Fields other than the constants are
// guarded by the worker's mutex. One allocation holds the run and its handler's context.
struct Run {
    JobId id = 0;
    int attempt = 0;
    int max_attempts = 1;
    std::shared_ptr<const detail::JobDefinition> definition;
    std::optional<JobContext> context;  // set unless the job has no definition here
    TaskHandle<void> handle;            // while the handler runs
    // Why this worker asked the run to stop (user, lease_lost, shutdown); decides what its
    // outcome becomes.
    CancelReason stop = CancelReason::none;
    bool ended = false;  // the handler has returned or thrown
};

// How an attempt ended, for the store.
struct Outcome {
    std::optional<std::string> result;
    RunOutcome run;
    CancelReason stop = CancelReason::none;  // the run's `stop` when it ended
    std::optional<detail::ProgressValue> progress;  // not yet written
};

// A successful attempt waiting for the batched write.
struct PendingCompletion {
    Completion completion;
    std::shared_ptr<const Run> run;  // forgotten once written, if still the job's run here
    std::chrono::seconds result_ttl{0};  // expires_at = the completion's time + this
    std::optional<detail::ProgressValue> progress;
};

}  // namespace

struct detail::WorkerState : detail::WorkerLink, std::enable_shared_from_this<detail::WorkerState> {
    std::shared_ptr<detail::QueueState> queue;
    std::shared_ptr<Store> store;
    Executor executor;               // the first of `executors`: outcome writes
    std::vector<Executor> executors;  // where handlers run, in turn
    std::size_t next_executor = 0;    // on the strand only
    Executor strand;  // on the first executor: the claim and housekeeping loops, timer cancels
    WorkerOptions options;

    mutable std::mutex mutex;  // everything below
    std::unordered_map<JobId, std::shared_ptr<Run>> runs;
    std::size_t active = 0;  // handlers running (the concurrency limit counts these)
    bool started = false;
    bool stopping = false;
    // Set when `active` or `writes_pending` drops to 0 and when a flush ends: `stop` waits on
    // it for the handlers, then for their outcomes.
    Event idle_event;
    bool stopped = false;  // a stop has run to its end: later stops return at once
    std::size_t writes_pending = 0;  // outcome writes spawned and not yet done (not flushes)
    TaskHandle<void> claim_loop;
    TaskHandle<void> housekeeping;
    std::vector<PendingCompletion> completions;
    bool flushing = false;
    std::shared_ptr<const detail::ProgressSink> progress_sink;
    std::mt19937_64 random{std::random_device{}()};
    WorkerStats stats;

    TaskGroup drivers;
    // Set when something may be claimable since the claim loop last looked (a job enqueued, a
    // slot freed, a failed attempt written, the clock moved by command, a stop): the loop
    // clears it, looks, then waits on it until its next poll.
    Event wake_claims;
    std::uint64_t clock_token = 0;  // the subscription to the clock's jumps

    WorkerState() : drivers("job runs") {}

    void wake() noexcept override { wake_claims.set(); }

    // With the mutex held: one outcome write has ended.
    void write_done() noexcept {
        if (--writes_pending == 0) idle_event.set();
    }

    void stop_run(Run& run, CancelReason reason) {  // mutex held
        if (run.stop == CancelReason::none || reason == CancelReason::lease_lost) run.stop = reason;
        run.context->request_cancel();
        if (run.handle) run.handle.cancel(reason);
    }

    void cancel_local(JobId id) noexcept override {
        std::lock_guard lock(mutex);
        auto found = runs.find(id);
        // Recorded even before the driver stored the handle (spawn may run the handler up to
        // its first suspension at once): the driver cancels it as soon as it has it.
        if (found != runs.end() && found->second->context) {
            stop_run(*found->second, CancelReason::user);
        }
    }

    TimePoint now() const { return queue->now(); }
};

namespace {

using StatePtr = std::shared_ptr<detail::WorkerState>;

// ---- outcomes -------------------------------------------------------------------------------

Task<void> flush_completions(StatePtr state);

// With the mutex held: adds a success to the next batched write; true when the caller must
// `start_flush` (after unlocking) because no flusher runs.
bool push_completion(detail::WorkerState& state, PendingCompletion pending) {
    state.completions.push_back(std::move(pending));
    if (state.flushing) return false;
    state.flushing = true;
    return true;
}

void start_flush(const StatePtr& state) {
    state->drivers.spawn(state->executor, flush_completions(state), "job completions");
}

void queue_completion(const StatePtr& state, PendingCompletion pending) {
    bool start = false;
    {
        std::lock_guard lock(state->mutex);
        start = push_completion(*state, std::move(pending));
    }
    if (start) start_flush(state);
}

// Writes the progress the handlers left unwritten and turns the batch into completions that
// expire their time to live after `now`.
std::vector<Completion> prepare_completions(const detail::WorkerState& state,
                                            std::vector<PendingCompletion>& batch,
                                            TimePoint now) {
    for (const auto& pending : batch) {
        if (pending.progress) {
            (void)state.store->set_progress(pending.completion.id,
                                            state.options.id,
                                            pending.progress->fraction,
                                            pending.progress->message);
        }
    }
    std::vector<Completion> completions;
    completions.reserve(batch.size());
    for (auto& pending : batch) {
        pending.completion.expires_at = now + pending.result_ttl;
        completions.push_back(std::move(pending.completion));
    }
    return completions;
}

std::vector<JobsResult<void>> write_completions(StatePtr state,
                                                std::vector<PendingCompletion> batch) {
    // One `now` for finished_at and the expiry, so a result lives exactly its TTL.
    const TimePoint now = state->now();
    const auto completions = prepare_completions(*state, batch, now);
    auto results = state->store->complete_many(state->options.id, completions, now);
    if (!results) {
        return std::vector<JobsResult<void>>(completions.size(), results.error());
    }
    return std::move(*results);
}

// With the mutex held: tracks a run of a job this worker claimed. A run of an earlier attempt
// of the same job may still be here: its lease ended, the store gave the job out again (to
// this worker), so that run has lost the lease and must write nothing.
void track_run(detail::WorkerState& state, const std::shared_ptr<Run>& run) {
    auto [found, inserted] = state.runs.try_emplace(run->id, run);
    if (inserted) return;
    auto stale = std::exchange(found->second, run);
    if (stale->context && !stale->ended) {
        spdlog::warn("worker {}: claimed job {} again while its attempt {} still runs here: "
                     "cancelling that run, whose lease is lost",
                     state.options.id,
                     run->id,
                     stale->attempt);
        state.stop_run(*stale, CancelReason::lease_lost);
    }
}

// With the mutex held: forgets the run of job `id` unless a newer attempt took its place.
void forget_run(detail::WorkerState& state, JobId id, const Run* run) {
    auto found = state.runs.find(id);
    if (found != state.runs.end() && found->second.get() == run) state.runs.erase(found);
}

// With the mutex held: counts what the store said of each completion and forgets the runs.
void record_completions(detail::WorkerState& state,
                        const std::vector<std::shared_ptr<const Run>>& runs,
                        const std::vector<JobsResult<void>>& results) {
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const JobId id = runs[i]->id;
        if (results[i]) {
            ++state.stats.succeeded;
        } else if (results[i].error().code() == JobsErrc::lease_lost ||
                   results[i].error().code() == JobsErrc::not_found) {
            ++state.stats.lease_lost;
            spdlog::warn("worker {}: job {} finished after its lease ended: result dropped",
                         state.options.id,
                         id);
        } else {
            // The lease runs out and the job is requeued: at-least-once.
            spdlog::error("worker {}: could not record job {} as succeeded: {}",
                          state.options.id,
                          id,
                          results[i].error().what());
        }
        forget_run(state, id, runs[i].get());
    }
}

std::vector<std::shared_ptr<const Run>> runs_of(const std::vector<PendingCompletion>& batch) {
    std::vector<std::shared_ptr<const Run>> runs;
    runs.reserve(batch.size());
    for (const auto& pending : batch) runs.push_back(pending.run);
    return runs;
}

Task<void> flush_completions(StatePtr state) {
    // Handlers that end at once end inside `spawn`, one after another in the same turn of the
    // loop: let that turn finish first so its completions go to the store as one batch.
    co_await yield();
    for (;;) {
        std::vector<PendingCompletion> batch;
        {
            std::lock_guard lock(state->mutex);
            if (state->completions.empty()) {
                state->flushing = false;
                state->idle_event.set();
                co_return;
            }
            batch.swap(state->completions);
        }
        const auto runs = runs_of(batch);
        auto results =
            co_await detail::store_call(*state->store, write_completions, state, std::move(batch));
        std::lock_guard lock(state->mutex);
        record_completions(*state, runs, results);
    }
}

enum class Verdict { fail, cancelled, release, drop };

struct Written {
    JobsResult<JobState> state = JobState::running;
    Verdict verdict = Verdict::fail;
};

Written write_outcome(StatePtr state,
                      JobId id,
                      Verdict verdict,
                      std::string message,
                      std::optional<TimePoint> retry_at,
                      std::chrono::seconds finished_ttl,
                      std::optional<detail::ProgressValue> progress) {
    const auto& worker = state->options.id;
    Store& store = *state->store;
    if (progress) (void)store.set_progress(id, worker, progress->fraction, progress->message);
    const TimePoint now = state->now();
    Written written;
    written.verdict = verdict;
    switch (verdict) {
        case Verdict::fail:
            written.state = store.fail(id, worker, message, now, retry_at, now + finished_ttl);
            break;
        case Verdict::cancelled: {
            auto marked = store.mark_cancelled(id, worker, now, now + finished_ttl);
            if (marked) {
                written.state = JobState::cancelled;
            } else {
                written.state = marked.error();
            }
            break;
        }
        case Verdict::release: {
            const JobId ids[] = {id};
            auto released = store.release(worker, ids, now);
            if (released) {
                written.state = JobState::queued;
            } else {
                written.state = released.error();
            }
            break;
        }
        case Verdict::drop:
            break;
    }
    return written;
}

// Writes what `end_run` could not write at once: a failure, a cancel, a release, or a
// success whose progress writer was still busy.
// Ends an outcome write counted in `writes_pending`, however the write ends.
struct WriteDone {
    detail::WorkerState& state;
    ~WriteDone() {
        std::lock_guard lock(state.mutex);
        state.write_done();
    }
};

Task<void> write_outcome_later(StatePtr state, std::shared_ptr<Run> run, Outcome outcome) {
    WriteDone done{*state};
    const auto& definition = *run->definition;
    if (!outcome.progress) {
        if (auto channel = run->context->end_progress()) outcome.progress = co_await channel->close();
    }
    const CancelReason stop = outcome.stop;
    const RunOutcome& run_outcome = outcome.run;
    const auto ttl = definition.options.finished_ttl;
    // A cancel asked for while the handler ran wins even if it then returned normally (a plain
    // function that saw the flag returns early): the job ends cancelled, as the user asked.
    if (run_outcome.succeeded() && (stop == CancelReason::none || stop == CancelReason::shutdown)) {
        Completion completion{run->id, std::move(outcome.result), std::nullopt};
        queue_completion(state,
                         PendingCompletion{std::move(completion),
                                           run,
                                           definition.options.result_ttl,
                                           std::move(outcome.progress)});
        co_return;  // the flusher forgets the run once written
    }
    Verdict verdict = Verdict::fail;
    std::string message;
    std::optional<TimePoint> retry_at;
    switch (stop) {
        case CancelReason::lease_lost:
            verdict = Verdict::drop;
            break;
        case CancelReason::user:
            verdict = Verdict::cancelled;
            break;
        case CancelReason::shutdown:
            verdict = Verdict::release;
            break;
        case CancelReason::none:
        case CancelReason::deadline:
        case CancelReason::abandoned:
            if (run_outcome.cancelled() && run_outcome.reason == CancelReason::deadline) {
                message = fmt::format("timed out after {} ms", definition.options.timeout->count());
            } else if (run_outcome.cancelled()) {
                // Nobody here asked: the handler was cancelled from outside. Give it back.
                verdict = Verdict::release;
            } else {
                message = run_outcome.message();
            }
            break;
    }
    if (verdict == Verdict::fail && run->attempt < run->max_attempts) {
        const auto ceiling = backoff_ceiling(definition.options.backoff, run->attempt);
        milliseconds delay{0};
        {
            std::lock_guard lock(state->mutex);
            delay = milliseconds(
                std::uniform_int_distribution<std::int64_t>(0, ceiling.count())(state->random));
        }
        retry_at = state->now() + delay;
    }
    if (verdict == Verdict::fail) {
        spdlog::warn("worker {}: job {} ({}) attempt {}/{} failed: {}",
                     state->options.id,
                     run->id,
                     definition.name,
                     run->attempt,
                     run->max_attempts,
                     message);
    }
    Written written;
    if (verdict != Verdict::drop) {
        written = co_await detail::store_call(*state->store,
                                              write_outcome,
                                              state,
                                              run->id,
                                              verdict,
                                              std::move(message),
                                              retry_at,
                                              ttl,
                                              std::move(outcome.progress));
    }
    // A failed attempt is due again at its retry time, which the claim loop may have looked
    // past (it looks when the handler ends, before this write): it looks again, so the retry
    // runs when due rather than at the next poll.
    if (written.state && *written.state == JobState::failed) state->wake_claims.set();
    std::lock_guard lock(state->mutex);
    if (verdict == Verdict::drop) {
        ++state->stats.lease_lost;
    } else if (!written.state) {
        if (written.state.error().code() == JobsErrc::lease_lost ||
            written.state.error().code() == JobsErrc::not_found) {
            ++state->stats.lease_lost;
        } else {
            spdlog::error("worker {}: could not record the outcome of job {}: {}",
                          state->options.id,
                          run->id,
                          written.state.error().what());
        }
    } else if (verdict == Verdict::release) {
        ++state->stats.released;
    } else {
        switch (*written.state) {
            case JobState::failed:
                ++state->stats.retried;
                break;
            case JobState::dead:
                ++state->stats.dead;
                break;
            case JobState::cancelled:
                ++state->stats.cancelled;
                break;
            default:
                break;
        }
    }
    forget_run(*state, run->id, run.get());
}

// The handler has ended (on its loop). The common case — it succeeded and no progress write
// is in flight — joins the batched completion without another coroutine, in one lock.
void end_run(const StatePtr& state, const std::shared_ptr<Run>& run, Outcome outcome) {
    // A plain function may still run on its pool after a timeout or cancel ended the wait:
    // the flag tells it to stop.
    if (!outcome.run.succeeded()) run->context->request_cancel();
    bool progress_settled = true;
    if (auto channel = run->context->end_progress()) {
        auto unwritten = channel->close_if_idle();
        progress_settled = unwritten.has_value();
        if (unwritten) outcome.progress = std::move(*unwritten);
    }
    bool start_flush_after = false;
    bool write_later = false;
    {
        std::lock_guard lock(state->mutex);
        run->handle = {};
        run->ended = true;
        outcome.stop = run->stop;
        // A cancel asked for while the handler ran wins even if it then returned normally:
        // the job ends cancelled, as the user asked (write_outcome_later).
        const bool succeeded = outcome.run.succeeded() && (outcome.stop == CancelReason::none ||
                                                  outcome.stop == CancelReason::shutdown);
        if (succeeded && progress_settled) {
            start_flush_after = push_completion(
                *state,
                PendingCompletion{Completion{run->id, std::move(outcome.result), std::nullopt},
                                  run,
                                  run->definition->options.result_ttl,
                                  std::move(outcome.progress)});
        } else {
            write_later = true;
            ++state->writes_pending;
        }
        --state->active;
        state->stats.running = state->active;
        if (state->active == 0) state->idle_event.set();
    }
    if (start_flush_after) start_flush(state);
    if (write_later) {
        state->drivers.spawn(
            state->executor, write_outcome_later(state, run, std::move(outcome)), "job outcome");
    }
    state->wake_claims.set();  // a slot is free
}

Task<std::optional<std::string>> attempt(std::shared_ptr<Run> run) {
    std::shared_ptr<JobContext> context(run, &*run->context);
    co_return co_await run->definition->start(std::move(context));
}

// One attempt as its own task, so a cancel reaches this handler alone. It never throws: the
// outcome goes to `end_run` whatever happens.
Task<void> run_handler(StatePtr state, std::shared_ptr<Run> run) {
    Outcome outcome;
    const GuardOptions limit{.time_limit = run->definition->options.timeout,
                             .clock = state->queue->clock.get()};
    outcome.run = co_await run_guarded(attempt(run), outcome.result, limit);
    end_run(state, run, std::move(outcome));
}

// A claimed job this worker cannot run: fail the attempt, due again later for a worker that
// can (see worker.hpp).
JobsResult<JobState> fail_unknown(StatePtr state, JobRecord job) {
    const TimePoint now = state->now();
    const bool retry = job.attempt < job.max_attempts;
    return state->store->fail(
        job.id,
        state->options.id,
        fmt::format("no definition of job \"{}\" in worker {}", job.name, state->options.id),
        now,
        retry ? std::optional<TimePoint>(now + state->options.unknown_retry_delay) : std::nullopt,
        now + state->options.dead_ttl);
}

Task<void> drive_unknown(StatePtr state, JobRecord job, std::shared_ptr<const Run> placeholder) {
    const JobId id = job.id;
    WriteDone done{*state};
    auto outcome = co_await detail::store_call(*state->store, fail_unknown, state, std::move(job));
    // Due again after unknown_retry_delay: the claim loop looks again (see write_outcome_later).
    if (outcome && *outcome == JobState::failed) state->wake_claims.set();
    std::lock_guard lock(state->mutex);
    if (outcome && *outcome == JobState::dead) ++state->stats.dead;
    if (outcome && *outcome == JobState::failed) ++state->stats.retried;
    forget_run(*state, id, placeholder.get());
}

// Called on the strand with the claimed jobs.
void start_runs(const StatePtr& state, std::vector<JobRecord> jobs) {
    std::shared_ptr<const detail::JobDefinition> definition;
    for (auto& job : jobs) {
        // Claims are mostly of one name: look it up when it changes.
        if (!definition || definition->name != job.name) definition = state->queue->find(job.name);
        if (!definition) {
            spdlog::error(
                "worker {}: claimed job {} named \"{}\", which it has no definition "
                "for",
                state->options.id,
                job.id,
                job.name);
            auto placeholder = std::make_shared<Run>();  // heartbeats renew its lease
            placeholder->id = job.id;
            {
                std::lock_guard lock(state->mutex);
                track_run(*state, placeholder);
                ++state->writes_pending;
            }
            state->drivers.spawn(state->executor,
                                 drive_unknown(state, std::move(job), std::move(placeholder)),
                                 "unknown job");
            continue;
        }
        boost::system::error_code ec;
        boost::json::value args = boost::json::parse(job.args, ec);  // the store checked it
        auto run = std::make_shared<Run>();
        run->id = job.id;
        run->attempt = job.attempt;
        run->max_attempts = job.max_attempts;
        run->definition = definition;
        run->context.emplace(job, std::move(args), state->progress_sink);
        {
            std::lock_guard lock(state->mutex);
            track_run(*state, run);
            ++state->active;
            ++state->stats.claimed;
            state->stats.running = state->active;
            // A stop between claim and here: give it back at once.
            if (state->stopping) run->stop = CancelReason::shutdown;
        }
        // The handler may run, and even end, inside `spawn`.
        const Executor& executor =
            state->executors[state->next_executor++ % state->executors.size()];
        auto handle =
            spawn(executor, run_handler(state, run), SpawnOptions{.name = definition->name});
        std::lock_guard lock(state->mutex);
        if (run->ended) continue;
        run->handle = handle;
        // A cancel that came between claim and now.
        if (run->stop != CancelReason::none) handle.cancel(run->stop);
    }
}

// What one claim did: the jobs it claimed, and the completions it wrote on the way.
struct Claimed {
    std::vector<JobsResult<void>> completed;
    JobsResult<std::vector<JobRecord>> jobs = std::vector<JobRecord>();
};

Claimed claim_jobs(StatePtr state, std::size_t limit, std::vector<PendingCompletion> batch) {
    ClaimRequest request;
    request.worker_id = state->options.id;
    request.queues = state->options.queues;
    request.limit = limit;
    request.now = state->now();
    request.lease = state->options.lease;
    request.rate_limits = state->queue->rate_limits();
    if (batch.empty()) return Claimed{{}, state->store->claim(request)};
    const auto completions = prepare_completions(*state, batch, request.now);
    auto done = state->store->complete_and_claim(state->options.id, completions, request);
    if (!done) {
        return Claimed{std::vector<JobsResult<void>>(completions.size(), done.error()),
                       done.error()};
    }
    return Claimed{std::move(done->completed), std::move(done->claimed)};
}

JobsResult<std::optional<TimePoint>> next_due(StatePtr state) {
    return state->store->next_due_at();
}

Task<void> claim_loop(StatePtr state) {
    Clock& clock = *state->queue->clock;
    for (;;) {
        std::size_t free = 0;
        // Cleared before looking: a wake-up from now on ends the wait below at once.
        state->wake_claims.clear();
        {
            std::lock_guard lock(state->mutex);
            if (state->stopping) co_return;
            free = state->options.concurrency - std::min(state->options.concurrency, state->active);
        }
        SteadyTime::duration wait = state->options.poll_interval;
        if (free > 0) {
            // The jobs that finished since the last write go with the claim: one transaction
            // for both (the flusher then finds nothing to do).
            std::vector<PendingCompletion> batch;
            {
                std::lock_guard lock(state->mutex);
                batch.swap(state->completions);
            }
            const auto completed_runs = runs_of(batch);
            // A claim that completes must reach start_runs, or its jobs would sit leased by
            // nobody until the lease ends: store_call's wait is not cut short by a stop.
            Task<Claimed> claim =
                detail::store_call(*state->store, claim_jobs, state, free, std::move(batch));
            auto [completed, claimed] = co_await std::move(claim);
            if (!completed_runs.empty()) {
                std::lock_guard lock(state->mutex);
                record_completions(*state, completed_runs, completed);
            }
            if (!claimed) {
                spdlog::warn(
                    "worker {}: claim failed: {}", state->options.id, claimed.error().what());
            } else {
                const bool full_batch = claimed->size() == free;
                start_runs(state, std::move(*claimed));
                if (full_batch) continue;  // there may be more
                Task<JobsResult<std::optional<TimePoint>>> due =
                    detail::store_call(*state->store, next_due, state);
                auto next = co_await std::move(due);
                if (next && *next) {
                    // Until it is due, and at least a millisecond: a due job in a queue this
                    // worker does not serve must not make it spin.
                    const auto until =
                        std::chrono::duration_cast<SteadyTime::duration>(**next - clock.now());
                    wait = std::clamp<SteadyTime::duration>(until, milliseconds(1), wait);
                }
            }
        }
        {
            std::lock_guard lock(state->mutex);
            if (state->stopping) co_return;
        }
        co_await state->wake_claims.wait_for(clock, wait);
    }
}

std::vector<LeaseStatus> renew(StatePtr state, std::vector<JobId> ids) {
    auto statuses =
        state->store->heartbeat(state->options.id, ids, state->now() + state->options.lease);
    if (!statuses) {
        // A missed heartbeat is not a lost lease: the next one may get through in time.
        spdlog::warn("worker {}: heartbeat failed: {}", state->options.id, statuses.error().what());
        return {};
    }
    return std::move(*statuses);
}

JobsResult<ExpiredLeases> requeue(StatePtr state) {
    const TimePoint now = state->now();
    return state->store->requeue_expired(now, now + state->options.dead_ttl);
}

void purge(StatePtr state) {
    constexpr std::size_t kBatch = 1000;
    // Bounded per round, so one round stays short; the next round goes on.
    for (int round = 0; round < 20; ++round) {
        auto purged = state->store->purge(state->now(), kBatch);
        if (!purged) {
            spdlog::warn("worker {}: purge failed: {}", state->options.id, purged.error().what());
            return;
        }
        if (*purged < kBatch) return;
    }
}

// Heartbeats, lease expiry and purge, on the strand, apart from the handlers.
Task<void> housekeeping(StatePtr state) {
    const auto& options = state->options;
    Clock& clock = *state->queue->clock;
    auto next_heartbeat = clock.steady_now() + options.heartbeat_interval;
    auto next_requeue = clock.steady_now();
    auto next_purge = clock.steady_now() + options.purge_interval;
    for (;;) {
        const auto wake_at = std::min({next_heartbeat, next_requeue, next_purge});
        if (wake_at > clock.steady_now()) co_await sleep_until(clock, wake_at);
        if (clock.steady_now() >= next_heartbeat) {
            next_heartbeat = clock.steady_now() + options.heartbeat_interval;
            std::vector<JobId> ids;
            {
                std::lock_guard lock(state->mutex);
                ids.reserve(state->runs.size());
                for (const auto& [id, run] : state->runs) ids.push_back(id);
            }
            if (!ids.empty()) {
                auto statuses =
                    co_await detail::store_call(*state->store, renew, state, std::move(ids));
                std::lock_guard lock(state->mutex);
                for (const auto& status : statuses) {
                    auto found = state->runs.find(status.id);
                    // A run whose handler has ended waits for its outcome write, which may
                    // have finished the job already: that write decides, not the heartbeat.
                    if (found == state->runs.end() || !found->second->context ||
                        found->second->ended) {
                        continue;
                    }
                    if (!status.held) {
                        spdlog::warn("worker {}: lost the lease of job {}: cancelling its run",
                                     options.id,
                                     status.id);
                        state->stop_run(*found->second, CancelReason::lease_lost);
                    } else if (status.cancel_requested) {
                        state->stop_run(*found->second, CancelReason::user);
                    }
                }
            }
        }
        if (clock.steady_now() >= next_requeue) {
            next_requeue = clock.steady_now() + options.requeue_interval;
            auto expired = co_await detail::store_call(*state->store, requeue, state);
            if (expired && !expired->requeued.empty()) {
                {
                    std::lock_guard lock(state->mutex);
                    state->stats.requeued_expired += expired->requeued.size();
                }
                state->queue->wake_workers();
            }
        }
        if (clock.steady_now() >= next_purge) {
            next_purge = clock.steady_now() + options.purge_interval;
            co_await detail::store_call(*state->store, purge, state);
        }
    }
}

}  // namespace

Worker::Worker(Queue& queue, Executor executor, WorkerOptions options)
    : Worker(queue, std::vector<Executor>{std::move(executor)}, std::move(options)) {}

Worker::Worker(Queue& queue, std::vector<Executor> executors, WorkerOptions options)
    : state_(std::make_shared<detail::WorkerState>()) {
    if (executors.empty()) throw std::invalid_argument("Worker: no executor to run jobs on");
    if (options.concurrency == 0) throw std::invalid_argument("Worker: concurrency must be >= 1");
    if (options.lease.count() <= 0 || options.poll_interval.count() <= 0 ||
        options.requeue_interval.count() <= 0 || options.purge_interval.count() <= 0 ||
        options.progress_interval.count() < 0 || options.heartbeat_interval.count() < 0) {
        throw std::invalid_argument("Worker: the lease and intervals must be positive");
    }
    if (options.heartbeat_interval.count() == 0) {
        options.heartbeat_interval = std::max(milliseconds(1), options.lease / 3);
    }
    if (options.id.empty()) options.id = default_worker_id();
    state_->queue = queue.state_;
    state_->store = queue.store();
    state_->strand = asio::make_strand(executors.front());
    state_->executor = executors.front();
    state_->executors = std::move(executors);
    state_->options = std::move(options);
    state_->progress_sink = std::make_shared<detail::ProgressSink>(detail::ProgressSink{
        state_->store, state_->options.id, state_->executor, state_->options.progress_interval,
        queue.state_->clock});
    // A clock moved by command (a test's manual clock, moved during a look) may have made a
    // job due that the look did not see: look again, as the scheduler does.
    state_->clock_token = queue.state_->clock->subscribe(
        [weak = std::weak_ptr<detail::WorkerState>(state_)] {
            if (auto state = weak.lock()) state->wake_claims.set();
        });
}

Worker::~Worker() {
    stop(std::chrono::seconds(0));
    state_->queue->clock->unsubscribe(state_->clock_token);
}

void Worker::start() {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->started)
            throw std::logic_error("worker " + state_->options.id + " started twice");
        if (state_->stopping)
            throw std::logic_error("worker " + state_->options.id + " was stopped");
        state_->started = true;
    }
    state_->queue->add_worker(state_);
    auto claims = spawn(
        state_->strand, claim_loop(state_), SpawnOptions{.name = "worker " + state_->options.id});
    auto chores =
        spawn(state_->strand, housekeeping(state_), SpawnOptions{.name = "worker housekeeping"});
    std::lock_guard lock(state_->mutex);
    state_->claim_loop = claims;
    state_->housekeeping = chores;
}

void Worker::request_stop() noexcept {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopping) return;
        state_->stopping = true;
    }
    state_->wake();
}

std::string_view Worker::service_name() const noexcept { return state_->options.id; }

namespace {

// Waits (from a task) until `done()` holds under the state's mutex, or `deadline`.
template <class Done>
Task<bool> wait_idle(StatePtr state, std::chrono::steady_clock::time_point deadline, Done done) {
    for (;;) {
        state->idle_event.clear();  // before looking: a later notify ends the wait at once
        {
            std::lock_guard lock(state->mutex);
            if (done(*state)) co_return true;
        }
        // A statement of its own: g++ 12 mishandles a co_await inside a condition.
        const bool woken = co_await state->idle_event.wait_until(deadline);
        if (!woken) {
            std::lock_guard lock(state->mutex);
            co_return done(*state);
        }
    }
}

}  // namespace

Task<bool> Worker::stop(std::chrono::steady_clock::time_point deadline) {
    request_stop();
    StatePtr state = state_;
    TaskHandle<void> claims;
    TaskHandle<void> chores;
    {
        std::lock_guard lock(state->mutex);
        if (!state->started || state->stopped) co_return true;
        claims = state->claim_loop;
        chores = state->housekeeping;
    }
    const auto bound = [] { return std::chrono::steady_clock::now() + std::chrono::seconds(10); };
    // 0. No more claims: a claim in flight still hands its jobs over (they are released below).
    bool ok = true;
    if (claims) {
        claims.cancel(CancelReason::shutdown);
        ok = co_await claims.wait_until(bound());
    }
    // 1. Running jobs get until the deadline.
    const auto handlers_ended = [](const detail::WorkerState& s) { return s.active == 0; };
    const bool handlers_done = co_await wait_idle(state, deadline, handlers_ended);
    if (!handlers_done) {
        // 2. Then they are cancelled; their outcomes release them to the store.
        std::lock_guard lock(state->mutex);
        for (auto& [id, run] : state->runs) {
            if (run->context) state->stop_run(*run, CancelReason::shutdown);
        }
    }
    // Then their outcomes are written.
    ok = co_await wait_idle(state, bound(), [](const detail::WorkerState& s) {
             return s.active == 0 && s.writes_pending == 0 && !s.flushing;
         }) && ok;
    ok = co_await state->drivers.join_until(bound()) && ok;
    // 3. The housekeeping stops last, so leases stay renewed while the jobs wind down.
    if (chores) {
        chores.cancel(CancelReason::shutdown);
        ok = co_await chores.wait_until(bound()) && ok;
    }
    std::lock_guard lock(state->mutex);
    state->stopped = true;
    co_return ok;
}

bool Worker::stop(std::chrono::steady_clock::duration grace) {
    request_stop();
    {
        std::lock_guard lock(state_->mutex);
        if (!state_->started || state_->stopped) return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    auto stopping =
        spawn(state_->executor, stop(deadline), SpawnOptions{.name = "stop worker " + id()});
    // Bounded like the steps of the stop itself, so a loop that no longer runs (a worker
    // destroyed after its loop was stopped) costs a wait, not a hang.
    if (!stopping.wait_for(grace + std::chrono::seconds(40))) return false;
    return stopping.get();
}

const std::string& Worker::id() const noexcept {
    return state_->options.id;
}

WorkerStats Worker::stats() const {
    std::lock_guard lock(state_->mutex);
    return state_->stats;
}

}  // namespace afterwork
