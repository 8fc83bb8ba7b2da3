// SPDX-License-Identifier: MIT
// Worker on a real loop with a manual clock (the queue's): leases, heartbeats, requeues,
// retries, delays, timeouts, progress throttling and polls happen when a test moves the clock,
// never because time passed. The store calls run on the blocking pool, so what an `advance`
// sets off is seen by waiting for its effect in the store or the worker's counters; "not yet"
// is checked after the loop settled. Only stop deadlines (how long `stop` waits) are real time.
#include <afterwork/jobs/worker.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/runtime/task_handle.hpp>

#include "support/eventually.hpp"
#include "support/settle.hpp"
#include "unit/jobs/queue_fixture.hpp"

namespace afterwork {

struct Sum {
    int a = 0;
    int b = 0;
};
BOOST_DESCRIBE_STRUCT(Sum, (), (a, b))

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using testing::eventually;
using testing::settle;

// Holds plain-function handlers (on a pool thread) until the test opens it.
class Gate {
public:
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        opened_.notify_all();
    }
    void close() {
        std::lock_guard lock(mutex_);
        open_ = false;
    }
    void wait() {
        std::unique_lock lock(mutex_);
        opened_.wait(lock, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable opened_;
    bool open_ = false;
};

// Shared between a test and its handlers (handlers are plain functions or captureless
// coroutine lambdas calling named coroutines, so the state is global).
std::atomic<int> g_started{0};
std::atomic<int> g_saw_cancel{0};
Gate g_release;
Event g_never;  // never set: a coroutine waiting on it runs until cancelled

Task<json::value> add_async(JobContext& job, Sum args) {
    co_await yield();
    co_return json::value{{"sum", args.a + args.b}, {"attempt", job.attempt()}};
}

int add_plain(JobContext&, const Sum& args) { return args.a + args.b; }

void always_fails(JobContext& job, const json::value&) {
    throw std::runtime_error("boom " + std::to_string(job.attempt()));
}

// Waits until cancelled, recording that it saw the cancellation.
Task<void> wait_forever(JobContext&, json::value) {
    ++g_started;
    try {
        co_await g_never.wait();
    } catch (const boost::system::system_error&) {
        ++g_saw_cancel;
        throw;
    }
}

void noop_elsewhere(JobContext&, const json::value&) {}

// A plain function looks at the flag between steps of its work.
void poll_flag(JobContext& job, const json::value&) {
    ++g_started;
    while (!job.cancel_requested()) std::this_thread::sleep_for(1ms);
    ++g_saw_cancel;
}

void report_progress(JobContext& job, const json::value&) {
    for (int i = 0; i < 100'000; ++i) job.set_progress(i / 200'000.0, "spinning");
    job.set_progress(0.5, "half way");
    ++g_started;
    g_release.wait();
    job.set_progress(0.75, "last");
}

// A store that can fail heartbeats (a worker that hangs, seen from the store) and counts
// progress writes (the throttle, seen from the store).
class ProbedStore final : public Store {
public:
    explicit ProbedStore(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}
    std::atomic<bool> drop_heartbeats{false};
    std::atomic<int> progress_writes{0};

    std::string describe() const override { return "flaky"; }
    using Store::enqueue;
    JobsResult<std::vector<EnqueueOutcome>> enqueue(std::span<const NewJob> jobs,
                                                    TimePoint now) override {
        return inner_->enqueue(jobs, now);
    }
    JobsResult<std::vector<JobRecord>> claim(const ClaimRequest& request) override {
        return inner_->claim(request);
    }
    JobsResult<std::vector<LeaseStatus>> heartbeat(std::string_view worker,
                                                   std::span<const JobId> ids,
                                                   TimePoint until) override {
        if (drop_heartbeats) return JobsError(JobsErrc::busy, "dropped");
        return inner_->heartbeat(worker, ids, until);
    }
    JobsResult<void> set_progress(JobId id, std::string_view worker, double fraction,
                                  std::string_view message) override {
        ++progress_writes;
        return inner_->set_progress(id, worker, fraction, message);
    }
    JobsResult<std::vector<JobsResult<void>>> complete_many(
        std::string_view worker, std::span<const Completion> completions,
        TimePoint now) override {
        return inner_->complete_many(worker, completions, now);
    }
    JobsResult<JobState> fail(JobId id, std::string_view worker, std::string_view message,
                              TimePoint now, std::optional<TimePoint> retry_at,
                              std::optional<TimePoint> expires_at) override {
        return inner_->fail(id, worker, message, now, retry_at, expires_at);
    }
    JobsResult<void> mark_cancelled(JobId id, std::string_view worker, TimePoint now,
                                    std::optional<TimePoint> expires_at) override {
        return inner_->mark_cancelled(id, worker, now, expires_at);
    }
    JobsResult<std::size_t> release(std::string_view worker, std::span<const JobId> ids,
                                    TimePoint now) override {
        return inner_->release(worker, ids, now);
    }
    JobsResult<ExpiredLeases> requeue_expired(TimePoint now,
                                              std::optional<TimePoint> expires) override {
        return inner_->requeue_expired(now, expires);
    }
    JobsResult<std::optional<TimePoint>> next_due_at() const override {
        return inner_->next_due_at();
    }
    JobsResult<JobState> cancel(JobId id, TimePoint now,
                                std::optional<TimePoint> expires_at) override {
        return inner_->cancel(id, now, expires_at);
    }
    JobsResult<void> retry(JobId id, TimePoint now) override { return inner_->retry(id, now); }
    JobsResult<void> remove(JobId id, bool force) override { return inner_->remove(id, force); }
    JobsResult<std::size_t> purge(TimePoint now, std::size_t limit) override {
        return inner_->purge(now, limit);
    }
    JobsResult<std::size_t> purge_finished(TimePoint finished_before,
                                           std::span<const JobState> states,
                                           std::size_t limit) override {
        return inner_->purge_finished(finished_before, states, limit);
    }
    JobsResult<JobRecord> get(JobId id) const override { return inner_->get(id); }
    JobsResult<JobPage> list(const JobFilter& filter, const PageRequest& page) const override {
        return inner_->list(filter, page);
    }
    JobsResult<std::vector<QueueCounts>> counts() const override { return inner_->counts(); }

private:
    std::shared_ptr<Store> inner_;
};

class Workers : public testing::StoreTest {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        g_started = 0;
        g_saw_cancel = 0;
        g_release.close();
        loop_.start();
        probe_ = std::make_shared<ProbedStore>(store_);
        queue_ = std::make_unique<Queue>(probe_, QueueOptions{.clock = clock_});
    }
    void TearDown() override {
        g_release.open();
        for (auto& worker : workers_) worker->stop(0s);
        workers_.clear();
        loop_.stop();
        loop_.join();
        StoreTest::TearDown();
    }
    Worker& start_worker(WorkerOptions options = {}, Queue* queue = nullptr) {
        workers_.push_back(
            std::make_unique<Worker>(queue ? *queue : *queue_, loop_.executor(), options));
        workers_.back()->start();
        return *workers_.back();
    }
    JobRecord job(JobId id) { return store_->get(id).value(); }
    bool in_state(JobId id, JobState state) { return job(id).state == state; }

    // Attempt `attempt` of `id` failed and waits for its retry: checks its retry time against
    // the backoff, moves the clock to just before it (nothing runs), then to it.
    void advance_to_retry(JobId id, int attempt, const Backoff& backoff) {
        const auto failed = job(id);
        if (failed.state != JobState::failed || failed.attempt != attempt) {
            // Its jitter drew no delay: the next attempt may have started already.
            EXPECT_GT(failed.attempt, attempt);
            return;
        }
        const auto now = clock_->now();
        EXPECT_GE(failed.run_at, now);  // full jitter: anywhere in [0, ceiling]
        EXPECT_LE(failed.run_at, now + backoff_ceiling(backoff, attempt));
        const auto wait = failed.run_at - now;
        if (wait > 1ms) {
            clock_->advance(wait - 1ms);
            settle(loop_);
            EXPECT_EQ(job(id).attempt, attempt) << "not before its retry time";
            clock_->advance(1ms);
        } else {
            clock_->advance(wait);
        }
    }

    const TimePoint t0_{std::chrono::sys_days(std::chrono::year(2026) / 3 / 1)};
    std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(t0_);
    Loop loop_{"jobs"};
    std::shared_ptr<ProbedStore> probe_;
    std::unique_ptr<Queue> queue_;
    std::vector<std::unique_ptr<Worker>> workers_;
};

TEST_P(Workers, CoroutineAndPlainJobsSucceedWithResults) {
    queue_->define("add_async", add_async);
    queue_->define("add_plain", add_plain);
    start_worker();
    auto a = queue_->enqueue("add_async", Sum{2, 3}).value().id;
    auto b = queue_->enqueue("add_plain", Sum{4, 5}).value().id;
    ASSERT_TRUE(eventually([&] {
        return in_state(a, JobState::succeeded) && in_state(b, JobState::succeeded);
    }));
    EXPECT_EQ(json::parse(*job(a).result), (json::value{{"sum", 5}, {"attempt", 1}}));
    EXPECT_EQ(*job(b).result, "9");
    EXPECT_EQ(job(a).attempt, 1);
    EXPECT_EQ(job(a).finished_at, t0_);  // the queue's clock
    ASSERT_TRUE(job(a).expires_at);      // result TTL
    EXPECT_EQ(*job(a).expires_at, t0_ + 24h);
}

// A long poll: only the worker's own look after the failure and the retry time it reads from
// the store (next_due_at) can start the next attempt when the clock reaches it.
TEST_P(Workers, FailuresAreRetriedWhenTheirBackoffEndsThenDead) {
    const Backoff backoff{.base = 10s, .cap = 40s};
    queue_->define("fails", always_fails, {.max_attempts = 3, .backoff = backoff});
    auto& worker = start_worker({.poll_interval = 1h});
    auto id = queue_->enqueue("fails", nullptr).value().id;
    for (int round = 1; round <= 2; ++round) {
        for (std::uint64_t attempt = 1; attempt <= 2; ++attempt) {
            // The counters follow the store write.
            ASSERT_TRUE(eventually([&] {
                return worker.stats().retried == (round - 1) * 2 + attempt;
            })) << "round " << round << ", attempt " << attempt;
            advance_to_retry(id, static_cast<int>(attempt), backoff);
        }
        ASSERT_TRUE(eventually([&] { return worker.stats().dead == std::uint64_t(round); }));
        auto dead = job(id);
        EXPECT_EQ(dead.state, JobState::dead);
        EXPECT_EQ(dead.attempt, 3);
        ASSERT_EQ(dead.errors.size(), std::size_t(round) * 3);
        EXPECT_EQ(dead.errors[0].message, "boom 1");
        EXPECT_EQ(dead.errors[2].message, "boom 3");
        EXPECT_EQ(dead.errors[0].at, t0_);
        // Each retry waited until the run_at the failure set.
        EXPECT_LE(dead.errors[0].at, dead.errors[1].at);
        EXPECT_LE(dead.errors[1].at, dead.errors[2].at);
        EXPECT_EQ(worker.stats().retried, std::uint64_t(round) * 2);
        // Retried by hand: a fresh set of attempts.
        if (round == 1) {
            ASSERT_TRUE(queue_->retry(id));
        }
    }
}

Task<void> throws_at_once(JobContext&, json::value) {
    co_await yield();
    throw std::runtime_error("boom");
}

// The limit is an hour and the clock does not move: an attempt that failed at once must be
// written with its own error at once, not held until the limit and stored as a timeout.
TEST_P(Workers, AHandlerThatThrowsUnderATimeoutFailsWithItsOwnErrorAtOnce) {
    queue_->define("throws", throws_at_once, {.max_attempts = 1, .timeout = 1h});
    start_worker();
    auto id = queue_->enqueue("throws", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead); }));
    ASSERT_EQ(job(id).errors.size(), 1u);
    EXPECT_EQ(job(id).errors[0].message, "boom");
}

TEST_P(Workers, TimeoutCancelsTheHandlerAndCountsAsAFailedAttempt) {
    queue_->define("slow", wait_forever, {.max_attempts = 1, .timeout = 30s});
    start_worker({.lease = 1h});
    auto id = queue_->enqueue("slow", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    clock_->advance(30s - 1ms);
    settle(loop_, 6);
    EXPECT_EQ(g_saw_cancel.load(), 0) << "not before the limit";
    EXPECT_EQ(job(id).state, JobState::running);
    clock_->advance(1ms);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead); }));
    ASSERT_EQ(job(id).errors.size(), 1u);
    EXPECT_EQ(job(id).errors[0].message, "timed out after 30000 ms");
    EXPECT_EQ(job(id).errors[0].at, t0_ + 30s);
    EXPECT_EQ(g_saw_cancel.load(), 1);
}

// The clock does not move, so no heartbeat runs: the cancel can only come from the queue.
TEST_P(Workers, CancelOfARunningCoroutineReachesItAtOnce) {
    queue_->define("forever", wait_forever);
    start_worker();
    auto id = queue_->enqueue("forever", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    EXPECT_EQ(queue_->cancel(id).value(), JobState::running);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::cancelled); }));
    EXPECT_EQ(g_saw_cancel.load(), 1);
    EXPECT_TRUE(job(id).errors.empty());  // not a failure
}

TEST_P(Workers, CancelOfARunningPlainFunctionSetsTheFlag) {
    queue_->define("poll", poll_flag);
    start_worker();
    auto id = queue_->enqueue("poll", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    ASSERT_TRUE(queue_->cancel(id));
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::cancelled); }));
    EXPECT_TRUE(eventually([&] { return g_saw_cancel.load() == 1; }));
}

TEST_P(Workers, CancelFromAnotherProcessArrivesWithTheHeartbeat) {
    queue_->define("forever", wait_forever);
    start_worker({.lease = 30s});  // a heartbeat every 10 s
    auto id = queue_->enqueue("forever", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    // Straight on the store: this process's queue does not see it.
    ASSERT_EQ(second_store()->cancel(id, clock_->now(), std::nullopt).value(),
              JobState::running);
    clock_->advance(10s - 1ms);
    settle(loop_);
    EXPECT_EQ(g_saw_cancel.load(), 0) << "not before the heartbeat";
    clock_->advance(1ms);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::cancelled); }));
    EXPECT_EQ(g_saw_cancel.load(), 1);
}

TEST_P(Workers, ProgressIsThrottledVisibleWhileRunningAndTheLastValueLands) {
    queue_->define("progress", report_progress);
    start_worker({.progress_interval = 1s});
    auto id = queue_->enqueue("progress", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));  // 100 001 values set
    // The first value is written at once, the next not before the interval: while the clock
    // stands still, one write.
    ASSERT_TRUE(eventually([&] { return probe_->progress_writes.load() == 1; }));
    settle(loop_);
    EXPECT_EQ(probe_->progress_writes.load(), 1);
    clock_->advance(1s);
    auto other = second_store();
    ASSERT_TRUE(eventually([&] {
        auto seen = other->get(id).value();
        return seen.state == JobState::running && seen.progress == 0.5 &&
               seen.progress_message == "half way";
    }));
    EXPECT_LE(probe_->progress_writes.load(), 2);
    g_release.open();
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    EXPECT_EQ(job(id).progress, 0.75);
    EXPECT_EQ(job(id).progress_message, "last");
}

TEST_P(Workers, RateLimitHoldsJobsBackAcrossTheStoreUntilItsPeriodPasses) {
    queue_->define("limited", add_plain, {.rate_limit = JobRateLimit{2, 1h}});
    queue_->define("free", add_plain);
    start_worker();
    std::vector<JobId> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(queue_->enqueue("limited", Sum{i, 0}).value().id);
    auto succeeded = [&] {
        int count = 0;
        for (auto id : ids) count += in_state(id, JobState::succeeded) ? 1 : 0;
        return count;
    };
    ASSERT_TRUE(eventually([&] { return succeeded() == 2; }));
    // A later, unlimited job runs: the worker claimed again and still left the two.
    auto free = queue_->enqueue("free", Sum{1, 1}).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(free, JobState::succeeded); }));
    EXPECT_EQ(succeeded(), 2);
    // An hour later the period has passed: the other two run.
    clock_->advance(1h + 1s);
    ASSERT_TRUE(eventually([&] { return succeeded() == 4; }));
}

Task<json::value> first_attempt_hangs(JobContext& job, json::value args) {
    if (job.attempt() == 1) co_await wait_forever(job, std::move(args));
    co_return json::value(job.attempt());
}

TEST_P(Workers, AnExpiredLeaseGivesTheJobToAnotherWorkerAndCancelsTheStaleRun) {
    auto flaky = std::make_shared<ProbedStore>(store_);
    Queue hung_queue(flaky, {.clock = clock_});
    hung_queue.define("job", first_attempt_hangs, {.max_attempts = 3});
    queue_->define("job", first_attempt_hangs, {.max_attempts = 3});
    // The first worker takes the job and then stops renewing its lease (30 s, a heartbeat
    // every 10 s); it runs one job at a time, so it cannot take the job back itself.
    auto& hung = start_worker({.id = "hung", .concurrency = 1, .lease = 30s,
                               .requeue_interval = 1h},
                              &hung_queue);
    flaky->drop_heartbeats = true;
    auto id = hung_queue.enqueue("job", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    // The second worker looks for expired leases every 5 s: at 29 s the lease (to 30 s) holds.
    start_worker({.id = "healthy"});
    clock_->advance(29s);
    settle(loop_);
    EXPECT_EQ(job(id).attempt, 1) << "the lease has not ended yet";
    // At 34 s it sees the lease expired, requeues the job and runs attempt 2.
    clock_->advance(5s);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    auto done = job(id);
    EXPECT_EQ(done.attempt, 2);
    EXPECT_EQ(*done.result, "2");
    ASSERT_EQ(done.errors.size(), 1u);
    EXPECT_NE(done.errors[0].message.find("lease of worker \"hung\" expired"), std::string::npos)
        << done.errors[0].message;
    // Its heartbeat back, the hung worker learns it lost the lease and cancels its run.
    flaky->drop_heartbeats = false;
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return g_saw_cancel.load() == 1; }));
    ASSERT_TRUE(eventually([&] { return hung.stats().lease_lost == 1; }));
    EXPECT_EQ(job(id).state, JobState::succeeded);  // its stale run changed nothing
}

// A job that runs for many leases keeps its lease: every heartbeat (a third of the lease)
// renews it, and the requeue of expired leases, every 5 s, never takes it.
TEST_P(Workers, HeartbeatsKeepTheLeaseOfALongRunningJob) {
    queue_->define("forever", wait_forever);
    auto& worker = start_worker({.lease = 30s});
    auto id = queue_->enqueue("forever", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    EXPECT_EQ(job(id).lease_until, t0_ + 30s);
    for (int beat = 1; beat <= 10; ++beat) {
        clock_->advance(10s);
        ASSERT_TRUE(eventually([&] { return job(id).lease_until == clock_->now() + 30s; }))
            << "heartbeat " << beat;
    }
    auto running = job(id);
    EXPECT_EQ(running.state, JobState::running);
    EXPECT_EQ(running.attempt, 1);
    EXPECT_TRUE(running.errors.empty());
    EXPECT_EQ(g_saw_cancel.load(), 0);
    EXPECT_EQ(worker.stats().requeued_expired, 0u);
    EXPECT_EQ(worker.stats().lease_lost, 0u);
}

// The worker's own housekeeping requeues the job its hung attempt holds and it claims attempt 2
// itself: the stale attempt has lost its lease and is cancelled; attempt 2 is tracked and wins.
TEST_P(Workers, AWorkerThatClaimsAJobAgainCancelsItsOwnStaleRun) {
    auto flaky = std::make_shared<ProbedStore>(store_);
    Queue solo_queue(flaky, {.clock = clock_});
    solo_queue.define("job", first_attempt_hangs, {.max_attempts = 3});
    flaky->drop_heartbeats = true;
    auto& solo = start_worker({.id = "solo", .lease = 30s}, &solo_queue);
    auto id = solo_queue.enqueue("job", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    clock_->advance(31s);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    EXPECT_EQ(job(id).attempt, 2);
    ASSERT_TRUE(eventually([&] { return g_saw_cancel.load() == 1; }));
    EXPECT_TRUE(eventually([&] { return solo.stats().running == 0; }));
    EXPECT_EQ(solo.stats().requeued_expired, 1u);
    EXPECT_EQ(job(id).state, JobState::succeeded);
}

// `stop`'s grace is real time (how long shutdown waits): it is about the machine, not the work.
TEST_P(Workers, GracefulStopReleasesUnfinishedJobs) {
    queue_->define("forever", wait_forever, {.max_attempts = 1});
    queue_->define("quick", add_plain);
    auto& worker = start_worker();
    auto quick = queue_->enqueue("quick", Sum{1, 2}).value().id;
    auto id = queue_->enqueue("forever", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    ASSERT_TRUE(eventually([&] { return in_state(quick, JobState::succeeded); }));
    EXPECT_TRUE(worker.stop(20ms));
    EXPECT_EQ(g_saw_cancel.load(), 1);
    auto released = job(id);
    EXPECT_EQ(released.state, JobState::queued);
    EXPECT_EQ(released.attempt, 0);  // not counted: another worker gets all its attempts
    EXPECT_FALSE(released.lease_owner);
    EXPECT_EQ(worker.stats().released, 1u);
    // Stopped: a new job stays queued.
    auto later = queue_->enqueue("quick", Sum{1, 1}).value().id;
    EXPECT_EQ(job(later).state, JobState::queued);
}

Task<bool> stop_service(Service& service, std::chrono::steady_clock::time_point deadline) {
    co_return co_await service.stop(deadline);
}

// The same stop awaited from a task on another loop, through the Service interface every
// stoppable part of an app shares; a second stop returns at once.
TEST_P(Workers, AStopAwaitedFromATaskReleasesUnfinishedJobs) {
    queue_->define("forever", wait_forever, {.max_attempts = 1});
    auto& worker = start_worker();
    auto id = queue_->enqueue("forever", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    Loop caller("caller");
    caller.start();
    Service& service = worker;
    EXPECT_EQ(service.service_name(), worker.id());
    auto stopped = spawn(caller.executor(),
                         stop_service(service, std::chrono::steady_clock::now() + 20ms));
    EXPECT_TRUE(stopped.get());
    EXPECT_EQ(g_saw_cancel.load(), 1);
    EXPECT_EQ(job(id).state, JobState::queued);
    EXPECT_EQ(worker.stats().released, 1u);
    EXPECT_TRUE(spawn(caller.executor(), stop_service(service, std::chrono::steady_clock::now()))
                    .get());
}

// The clock does not move: the poll never comes.
TEST_P(Workers, AnInProcessEnqueueWakesAnIdleWorkerWithoutThePoll) {
    queue_->define("add", add_plain);
    start_worker();
    // Let it go idle first: a job that ran proves the loop went round once.
    auto first = queue_->enqueue("add", Sum{1, 1}).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(first, JobState::succeeded); }));
    for (int i = 0; i < 3; ++i) {
        auto id = queue_->enqueue("add", Sum{i, i}).value().id;
        ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    }
}

TEST_P(Workers, AJobEnqueuedByAnotherProcessIsFoundByThePoll) {
    queue_->define("add", add_plain);
    start_worker({.poll_interval = 10s});
    auto first = queue_->enqueue("add", Sum{1, 1}).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(first, JobState::succeeded); }));
    // Another queue on the same jobs: its enqueue wakes no worker of this one.
    Queue elsewhere(second_store(), {.clock = clock_});
    elsewhere.define("add", add_plain);
    auto id = elsewhere.enqueue("add", Sum{2, 2}).value().id;
    clock_->advance(10s);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
}

// A long poll: the worker sleeps until the job's run time (next_due_at), learnt when the
// enqueue woke it.
TEST_P(Workers, AScheduledJobRunsWhenDueWithoutThePoll) {
    queue_->define("add", add_plain);
    start_worker({.poll_interval = 1h});
    auto first = queue_->enqueue("add", Sum{1, 1}).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(first, JobState::succeeded); }));
    auto id = queue_->enqueue("add", Sum{2, 2}, {.delay = 50s}).value().id;
    EXPECT_EQ(job(id).state, JobState::scheduled);
    EXPECT_EQ(job(id).run_at, t0_ + 50s);
    clock_->advance(50s - 1ms);
    settle(loop_);
    EXPECT_EQ(job(id).state, JobState::scheduled) << "not before its run time";
    clock_->advance(1ms);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
}

// A long poll: the attempt after the unknown-job delay starts when the clock reaches it.
TEST_P(Workers, JobsWithoutADefinitionHereFailWithAClearError) {
    Queue other(store_, {.clock = clock_});
    other.define("elsewhere", noop_elsewhere, {.max_attempts = 2});
    queue_->define("add", add_plain);
    auto& worker = start_worker({.id = "w1", .poll_interval = 1h, .unknown_retry_delay = 30s});
    auto id = other.enqueue("elsewhere", nullptr).value().id;
    queue_->notify();  // another queue's enqueue wakes no worker of this one
    ASSERT_TRUE(eventually([&] { return worker.stats().retried == 1; }));
    EXPECT_EQ(job(id).state, JobState::failed);
    EXPECT_EQ(job(id).run_at, t0_ + 30s);
    clock_->advance(30s);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead); }));
    ASSERT_EQ(job(id).errors.size(), 2u);
    EXPECT_EQ(job(id).errors[0].message, "no definition of job \"elsewhere\" in worker w1");
    EXPECT_EQ(job(id).errors[1].at, t0_ + 30s);
}

TEST_P(Workers, ManyJobsLeaveNothingBehind) {
    queue_->define("add", add_plain);
    auto& worker = start_worker({.concurrency = 32});
    std::vector<EnqueueRequest> batch;
    for (int i = 0; i < 500; ++i) batch.push_back({"add", json::value{{"a", i}, {"b", 1}}});
    ASSERT_TRUE(queue_->enqueue_many(batch));
    ASSERT_TRUE(eventually([&] { return worker.stats().succeeded == 500; }, 30s))
        << "claimed " << worker.stats().claimed << ", succeeded " << worker.stats().succeeded
        << ", running " << worker.stats().running;
    EXPECT_EQ(worker.stats().running, 0u);
    auto counts = store_->counts().value();
    ASSERT_EQ(counts.size(), 1u);
    EXPECT_EQ(counts[0][JobState::succeeded], 500);
}

// Records on which thread each job ran.
std::mutex g_threads_mutex;
std::set<std::thread::id> g_threads;

Task<void> note_thread(JobContext&, const json::value&) {
    {
        std::lock_guard lock(g_threads_mutex);
        g_threads.insert(std::this_thread::get_id());
    }
    co_await yield();
}

TEST_P(Workers, HandlersTakeTurnsOverSeveralLoops) {
    {
        std::lock_guard lock(g_threads_mutex);
        g_threads.clear();
    }
    queue_->define("note", note_thread);
    Loop second("jobs-2");
    second.start();
    Worker worker(*queue_, std::vector<Executor>{loop_.executor(), second.executor()},
                  {.concurrency = 8});
    worker.start();
    std::vector<EnqueueRequest> batch;
    for (int i = 0; i < 200; ++i) batch.push_back({"note", json::value(i)});
    ASSERT_TRUE(queue_->enqueue_many(batch));
    EXPECT_TRUE(eventually([&] { return worker.stats().succeeded == 200; }, 30s))
        << "succeeded " << worker.stats().succeeded;
    EXPECT_TRUE(worker.stop(5s));
    second.stop();
    second.join();
    std::lock_guard lock(g_threads_mutex);
    EXPECT_EQ(g_threads.size(), 2u);
    EXPECT_THROW(Worker(*queue_, std::vector<Executor>{}), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Stores, Workers, ::testing::ValuesIn(testing::store_kinds()));

}  // namespace
}  // namespace afterwork
