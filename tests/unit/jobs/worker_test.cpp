// SPDX-License-Identifier: MIT
#include <afterwork/jobs/worker.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/runtime/task_handle.hpp>

#include "support/eventually.hpp"
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

// Shared between a test and its handlers (handlers are plain functions or captureless
// coroutine lambdas calling named coroutines, so the state is global).
std::atomic<int> g_started{0};
std::atomic<int> g_saw_cancel{0};
std::atomic<bool> g_release{false};

Task<json::value> add_async(JobContext& job, Sum args) {
    co_await sleep_for(1ms);
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
        co_await sleep_for(1h);
    } catch (const boost::system::system_error&) {
        ++g_saw_cancel;
        throw;
    }
}

void noop_elsewhere(JobContext&, const json::value&) {}

void poll_flag(JobContext& job, const json::value&) {
    ++g_started;
    while (!job.cancel_requested()) std::this_thread::sleep_for(1ms);
    ++g_saw_cancel;
}

void report_progress(JobContext& job, const json::value&) {
    for (int i = 0; i < 100'000; ++i) job.set_progress(i / 200'000.0, "spinning");
    job.set_progress(0.5, "half way");
    ++g_started;
    while (!g_release.load()) std::this_thread::sleep_for(1ms);
    job.set_progress(0.75, "last");
}

class Workers : public testing::StoreTest {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        g_started = 0;
        g_saw_cancel = 0;
        g_release = false;
        loop_.start();
        queue_ = std::make_unique<Queue>(store_);
    }
    void TearDown() override {
        g_release = true;
        for (auto& worker : workers_) worker->stop(0s);
        workers_.clear();
        loop_.stop();
        loop_.join();
        StoreTest::TearDown();
    }
    Worker& start_worker(WorkerOptions options = {}, Queue* queue = nullptr) {
        if (options.poll_interval == WorkerOptions{}.poll_interval) options.poll_interval = 20ms;
        workers_.push_back(
            std::make_unique<Worker>(queue ? *queue : *queue_, loop_.executor(), options));
        workers_.back()->start();
        return *workers_.back();
    }
    JobRecord job(JobId id) { return store_->get(id).value(); }
    bool in_state(JobId id, JobState state) { return job(id).state == state; }

    Loop loop_{"jobs"};
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
    ASSERT_TRUE(job(a).expires_at);  // result TTL
    EXPECT_GE(*job(a).expires_at, *job(a).finished_at + 24h - 1ms);
}

TEST_P(Workers, FailuresAreRetriedWithBackoffThenDead) {
    queue_->define("fails", always_fails,
                   {.max_attempts = 3, .backoff = {.base = 5ms, .cap = 20ms}});
    auto& worker = start_worker();
    auto id = queue_->enqueue("fails", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead); }));
    auto dead = job(id);
    EXPECT_EQ(dead.attempt, 3);
    ASSERT_EQ(dead.errors.size(), 3u);
    EXPECT_EQ(dead.errors[0].message, "boom 1");
    EXPECT_EQ(dead.errors[2].message, "boom 3");
    // Each retry waited at least until the run_at the failure set (full jitter: >= 0).
    EXPECT_LE(dead.errors[0].at, dead.errors[1].at);
    // The counters follow the store write.
    ASSERT_TRUE(eventually([&] { return worker.stats().dead == 1; }));
    EXPECT_EQ(worker.stats().retried, 2u);

    // Retried by hand: a fresh set of attempts.
    ASSERT_TRUE(queue_->retry(id));
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead) && job(id).errors.size() == 6; }));
}

Task<void> throws_at_once(JobContext&, json::value) {
    co_await sleep_for(1ms);
    throw std::runtime_error("boom");
}

// The limit is an hour: an attempt that failed at once must be written with its own error at
// once, not held until the limit and stored as a timeout.
TEST_P(Workers, AHandlerThatThrowsUnderATimeoutFailsWithItsOwnErrorAtOnce) {
    queue_->define("throws", throws_at_once, {.max_attempts = 1, .timeout = 1h});
    start_worker();
    auto id = queue_->enqueue("throws", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead); }));
    ASSERT_EQ(job(id).errors.size(), 1u);
    EXPECT_EQ(job(id).errors[0].message, "boom");
}

TEST_P(Workers, TimeoutCancelsTheHandlerAndCountsAsAFailedAttempt) {
    queue_->define("slow", wait_forever, {.max_attempts = 1, .timeout = 30ms});
    start_worker();
    auto id = queue_->enqueue("slow", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead); }));
    ASSERT_EQ(job(id).errors.size(), 1u);
    EXPECT_EQ(job(id).errors[0].message, "timed out after 30 ms");
    EXPECT_EQ(g_saw_cancel.load(), 1);
}

TEST_P(Workers, CancelOfARunningCoroutineReachesItAtOnce) {
    queue_->define("forever", wait_forever);
    // A long lease: the heartbeat (a third of it) cannot be what delivers the cancel.
    start_worker({.lease = 1h});
    auto id = queue_->enqueue("forever", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    EXPECT_EQ(queue_->cancel(id).value(), JobState::running);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::cancelled); }, 5s));
    EXPECT_EQ(g_saw_cancel.load(), 1);
    EXPECT_TRUE(job(id).errors.empty());  // not a failure
}

TEST_P(Workers, CancelOfARunningPlainFunctionSetsTheFlag) {
    queue_->define("poll", poll_flag);
    start_worker({.lease = 1h});
    auto id = queue_->enqueue("poll", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    ASSERT_TRUE(queue_->cancel(id));
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::cancelled); }, 5s));
    EXPECT_TRUE(eventually([&] { return g_saw_cancel.load() == 1; }));
}

TEST_P(Workers, CancelFromAnotherProcessArrivesWithTheHeartbeat) {
    queue_->define("forever", wait_forever);
    start_worker({.lease = 300ms});
    auto id = queue_->enqueue("forever", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    // Straight on the store: this process's queue does not see it.
    ASSERT_EQ(second_store()->cancel(id, std::chrono::system_clock::now(), std::nullopt).value(),
              JobState::running);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::cancelled); }));
    EXPECT_EQ(g_saw_cancel.load(), 1);
}

TEST_P(Workers, ProgressIsVisibleWhileRunningAndTheLastValueLands) {
    queue_->define("progress", report_progress);
    start_worker({.progress_interval = 20ms});
    auto id = queue_->enqueue("progress", nullptr).value().id;
    auto other = second_store();
    ASSERT_TRUE(eventually([&] {
        auto seen = other->get(id).value();
        return seen.state == JobState::running && seen.progress == 0.5 &&
               seen.progress_message == "half way";
    }));
    g_release = true;
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    EXPECT_EQ(job(id).progress, 0.75);
    EXPECT_EQ(job(id).progress_message, "last");
}

TEST_P(Workers, RateLimitHoldsJobsBackAcrossTheStore) {
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
}

// A store whose heartbeats can be made to fail: a worker that hangs, seen from the store.
class FlakyHeartbeats final : public Store {
public:
    explicit FlakyHeartbeats(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}
    std::atomic<bool> drop{false};

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
        if (drop) return JobsError(JobsErrc::busy, "dropped");
        return inner_->heartbeat(worker, ids, until);
    }
    JobsResult<void> set_progress(JobId id, std::string_view worker, double fraction,
                                  std::string_view message) override {
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

Task<json::value> first_attempt_hangs(JobContext& job, json::value args) {
    if (job.attempt() == 1) co_await wait_forever(job, std::move(args));
    co_return json::value(job.attempt());
}

TEST_P(Workers, AnExpiredLeaseGivesTheJobToAnotherWorkerAndCancelsTheStaleRun) {
    auto flaky = std::make_shared<FlakyHeartbeats>(store_);
    Queue hung_queue(flaky);
    hung_queue.define("job", first_attempt_hangs, {.max_attempts = 3});
    queue_->define("job", first_attempt_hangs, {.max_attempts = 3});
    // The first worker takes the job and then stops renewing its short lease.
    auto& hung = start_worker({.id = "hung", .lease = 200ms, .heartbeat_interval = 20ms,
                               .requeue_interval = 1h},
                              &hung_queue);
    flaky->drop = true;
    auto id = hung_queue.enqueue("job", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return g_started.load() == 1; }));
    // The second worker sees the lease expired, requeues the job and runs attempt 2.
    start_worker({.id = "healthy", .requeue_interval = 20ms});
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    auto done = job(id);
    EXPECT_EQ(done.attempt, 2);
    EXPECT_EQ(*done.result, "2");
    ASSERT_EQ(done.errors.size(), 1u);
    EXPECT_NE(done.errors[0].message.find("lease of worker \"hung\" expired"), std::string::npos)
        << done.errors[0].message;
    // Its heartbeat back, the hung worker learns it lost the lease and cancels its run.
    flaky->drop = false;
    ASSERT_TRUE(eventually([&] { return g_saw_cancel.load() == 1; }));
    ASSERT_TRUE(eventually([&] { return hung.stats().lease_lost == 1; }));
    EXPECT_EQ(job(id).state, JobState::succeeded);  // its stale run changed nothing
}

// The worker's own housekeeping requeues the job its hung attempt holds and it claims attempt 2
// itself: the stale attempt has lost its lease and is cancelled; attempt 2 is tracked and wins.
TEST_P(Workers, AWorkerThatClaimsAJobAgainCancelsItsOwnStaleRun) {
    auto flaky = std::make_shared<FlakyHeartbeats>(store_);
    Queue solo_queue(flaky);
    solo_queue.define("job", first_attempt_hangs, {.max_attempts = 3});
    flaky->drop = true;
    auto& solo = start_worker({.id = "solo", .lease = 200ms, .heartbeat_interval = 20ms,
                               .requeue_interval = 20ms},
                              &solo_queue);
    auto id = solo_queue.enqueue("job", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    EXPECT_EQ(job(id).attempt, 2);
    ASSERT_TRUE(eventually([&] { return g_saw_cancel.load() == 1; }));
    EXPECT_TRUE(eventually([&] { return solo.stats().running == 0; }));
    EXPECT_EQ(job(id).state, JobState::succeeded);
}

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

TEST_P(Workers, AnInProcessEnqueueWakesAnIdleWorkerWithoutThePoll) {
    queue_->define("add", add_plain);
    start_worker({.poll_interval = 1h});
    // Let it go idle first: a job that ran proves the loop went round once.
    auto first = queue_->enqueue("add", Sum{1, 1}).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(first, JobState::succeeded); }));
    for (int i = 0; i < 3; ++i) {
        auto id = queue_->enqueue("add", Sum{i, i}).value().id;
        ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
    }
}

TEST_P(Workers, AScheduledJobRunsWhenDueWithoutThePoll) {
    queue_->define("add", add_plain);
    start_worker({.poll_interval = 1h});
    auto first = queue_->enqueue("add", Sum{1, 1}).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(first, JobState::succeeded); }));
    // Enqueued elsewhere (no wake), due in 50 ms: next_due_at bounds the idle wait... but the
    // worker learns of it only through the wake of this enqueue, which then sleeps until due.
    auto id = queue_->enqueue("add", Sum{2, 2}, {.delay = 50ms}).value().id;
    EXPECT_EQ(job(id).state, JobState::scheduled);
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::succeeded); }));
}

TEST_P(Workers, JobsWithoutADefinitionHereFailWithAClearError) {
    Queue other(store_);
    other.define("elsewhere", noop_elsewhere, {.max_attempts = 1});
    queue_->define("add", add_plain);
    start_worker({.id = "w1"});
    auto id = other.enqueue("elsewhere", nullptr).value().id;
    ASSERT_TRUE(eventually([&] { return in_state(id, JobState::dead); }));
    ASSERT_EQ(job(id).errors.size(), 1u);
    EXPECT_EQ(job(id).errors[0].message, "no definition of job \"elsewhere\" in worker w1");
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
    co_await sleep_for(1ms);  // so both loops have jobs in flight at once
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
                  {.concurrency = 8, .poll_interval = 20ms});
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
