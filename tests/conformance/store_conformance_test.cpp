// SPDX-License-Identifier: MIT
// The Store conformance suite: one set of behaviours every job store must show, instantiated
// once per store (memory, SQLite; Redis later, unchanged). Time is driven by hand — every call
// gets its `now` — so nothing sleeps.
//
// A store kind provides a Backing: a fresh, empty database for one test that can open several
// handles on the same data (SQLite: several connections, as several processes would have;
// memory: the one object), for the tests of global rate limits and concurrent claims.

#include <afterwork/jobs/memory_store.hpp>
#include <afterwork/jobs/store.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#ifdef AFTERWORK_WITH_SQLITE
#include <afterwork/jobs/sqlite_store.hpp>
#endif

#include "support/process.hpp"

namespace afterwork {

// Readable failure output for the values the suite compares.
void PrintTo(JobState state, std::ostream* os) { *os << to_string(state); }
void PrintTo(JobsErrc code, std::ostream* os) { *os << make_error_code(code).message(); }
void PrintTo(const JobRecord& job, std::ostream* os) {
    *os << "{id " << job.id << ", " << job.name << "@" << job.queue << ", "
        << to_string(job.state) << ", attempt " << job.attempt << "/" << job.max_attempts
        << ", priority " << job.priority << ", errors " << job.errors.size()
        << (job.lease_owner ? ", lease " + *job.lease_owner : std::string()) << "}";
}

namespace {

using namespace std::chrono_literals;

// ---- store kinds -----------------------------------------------------------------------------

class Backing {
public:
    virtual ~Backing() = default;
    /// Another handle on the same data.
    virtual std::shared_ptr<Store> open() = 0;
};

class MemoryBacking final : public Backing {
public:
    std::shared_ptr<Store> open() override { return store_; }

private:
    std::shared_ptr<MemoryStore> store_ = std::make_shared<MemoryStore>();
};

#ifdef AFTERWORK_WITH_SQLITE
class SqliteBacking final : public Backing {
public:
    std::shared_ptr<Store> open() override {
        // A generous busy timeout: the concurrency tests make connections queue for the lock.
        auto store = SqliteStore::open(dir_.path() / "jobs.db", {.busy_timeout = 60s});
        return std::shared_ptr<Store>(std::move(store).value());
    }

private:
    testing::TempDir dir_ = testing::free_data_dir("afterwork-conf");
};
#endif

struct StoreKind {
    std::string name;
    std::function<std::unique_ptr<Backing>()> make;
};

std::string kind_name(const ::testing::TestParamInfo<StoreKind>& info) { return info.param.name; }

// ---- helpers ---------------------------------------------------------------------------------

// An arbitrary, whole-second instant; tests add offsets to it.
const TimePoint t0 = std::chrono::sys_days(std::chrono::year(2026) / 3 / 1) + 9h;

template <class T>
JobsErrc errc(const JobsResult<T>& result) {
    return result ? JobsErrc{} : result.error().code();
}

NewJob job(std::string name, std::string queue = "default", int priority = 0) {
    NewJob j;
    j.name = std::move(name);
    j.queue = std::move(queue);
    j.priority = priority;
    return j;
}

NewJob with_key(NewJob j, std::string key) {
    j.unique_key = std::move(key);
    return j;
}

NewJob with_attempts(NewJob j, int attempts) {
    j.max_attempts = attempts;
    return j;
}

NewJob with_run_at(NewJob j, TimePoint at) {
    j.run_at = at;
    return j;
}

std::vector<JobId> ids_of(const std::vector<JobRecord>& jobs) {
    std::vector<JobId> ids;
    for (const auto& j : jobs) ids.push_back(j.id);
    return ids;
}

class StoreConformance : public ::testing::TestWithParam<StoreKind> {
protected:
    void SetUp() override {
        backing_ = GetParam().make();
        store_ = backing_->open();
    }

    Store& store() { return *store_; }
    Backing& backing() { return *backing_; }

    JobId add(const NewJob& j, TimePoint now = t0) { return store().enqueue(j, now).value().id; }

    JobRecord get(JobId id) { return store().get(id).value(); }

    std::vector<JobRecord> claim(std::string worker, TimePoint now, std::size_t limit = 10,
                                 std::vector<std::string> queues = {},
                                 std::vector<RateLimit> limits = {}) {
        return store()
            .claim({.worker_id = std::move(worker),
                    .queues = std::move(queues),
                    .limit = limit,
                    .now = now,
                    .lease = 30s,
                    .rate_limits = std::move(limits)})
            .value();
    }

    // Claims `id` alone for `worker` (it must be the only due job).
    JobRecord claim_one(std::string worker, TimePoint now) {
        auto claimed = claim(std::move(worker), now, 1);
        if (claimed.size() != 1) throw std::runtime_error("expected exactly one job to claim");
        return claimed.front();
    }

    std::int64_t count(std::string_view queue, JobState state) {
        for (const auto& c : store().counts().value()) {
            if (c.queue == queue) return c[state];
        }
        return 0;
    }

private:
    std::unique_ptr<Backing> backing_;
    std::shared_ptr<Store> store_;
};

// ---- enqueue and get -------------------------------------------------------------------------

TEST_P(StoreConformance, KeepsEveryFieldThroughAJobsLife) {
    const NewJob request{.name = "report",
                         .args = R"({"user":42,"tags":["a","b"],"note":"h\u00e9 \"q\""})",
                         .queue = "exports",
                         .priority = 7,
                         .max_attempts = 2,
                         .unique_key = "report:42",
                         .run_at = t0 + 10s};
    // Nanoseconds are dropped: stores keep microseconds.
    const auto outcome = store().enqueue(request, t0 + 123us + 456ns).value();
    EXPECT_TRUE(outcome.created);
    EXPECT_GT(outcome.id, 0);

    JobRecord expected;
    expected.id = outcome.id;
    expected.name = "report";
    expected.queue = "exports";
    expected.priority = 7;
    expected.args = request.args;
    expected.state = JobState::scheduled;
    expected.max_attempts = 2;
    expected.unique_key = "report:42";
    expected.created_at = t0 + 123us;
    expected.run_at = t0 + 10s;
    EXPECT_EQ(get(outcome.id), expected);

    auto claimed = claim("w1", t0 + 10s, 5, {"exports"});
    ASSERT_EQ(claimed.size(), 1u);
    expected.state = JobState::running;
    expected.attempt = 1;
    expected.started_at = t0 + 10s;
    expected.lease_owner = "w1";
    expected.lease_until = t0 + 40s;
    EXPECT_EQ(claimed[0], expected);
    EXPECT_EQ(get(outcome.id), expected);

    ASSERT_TRUE(store().set_progress(outcome.id, "w1", 0.5, "half way"));
    expected.progress = 0.5;
    expected.progress_message = "half way";
    EXPECT_EQ(get(outcome.id), expected);

    EXPECT_EQ(store().fail(outcome.id, "w1", "boom: disk \"x\"", t0 + 11s, t0 + 20s, std::nullopt)
                  .value(),
              JobState::failed);
    expected.state = JobState::failed;
    expected.run_at = t0 + 20s;
    expected.lease_owner.reset();
    expected.lease_until.reset();
    expected.errors = {{1, "boom: disk \"x\"", t0 + 11s}};
    EXPECT_EQ(get(outcome.id), expected);

    claimed = claim("w2", t0 + 20s);
    ASSERT_EQ(claimed.size(), 1u);
    expected.state = JobState::running;
    expected.attempt = 2;
    expected.started_at = t0 + 20s;
    expected.lease_owner = "w2";
    expected.lease_until = t0 + 50s;
    expected.progress = 0.0;  // progress belongs to an attempt
    expected.progress_message.clear();
    EXPECT_EQ(claimed[0], expected);

    const auto heartbeat = store().heartbeat("w2", std::vector<JobId>{outcome.id}, t0 + 90s);
    ASSERT_TRUE(heartbeat);
    EXPECT_EQ(heartbeat->at(0), (LeaseStatus{outcome.id, true, false}));
    expected.lease_until = t0 + 90s;
    EXPECT_EQ(get(outcome.id), expected);

    ASSERT_TRUE(store().complete(outcome.id, "w2", R"({"url":"/r/42.csv"})", t0 + 25s,
                                 t0 + 25s + 24h));
    expected.state = JobState::succeeded;
    expected.finished_at = t0 + 25s;
    expected.lease_owner.reset();
    expected.lease_until.reset();
    expected.result = R"({"url":"/r/42.csv"})";
    expected.expires_at = t0 + 25s + 24h;
    EXPECT_EQ(get(outcome.id), expected);
}

TEST_P(StoreConformance, AssignsIncreasingIdsThatAreNeverReused) {
    const JobId a = add(job("a"));
    const JobId b = add(job("b"));
    EXPECT_GT(b, a);
    ASSERT_TRUE(store().remove(b, false));
    const JobId c = add(job("c"));
    EXPECT_GT(c, b);
    EXPECT_EQ(errc(store().get(b)), JobsErrc::not_found);
}

TEST_P(StoreConformance, EnqueuesABatchInOrder) {
    const std::vector<NewJob> batch = {job("a"), job("b", "other"), job("c")};
    const auto outcomes = store().enqueue(batch, t0).value();
    ASSERT_EQ(outcomes.size(), 3u);
    EXPECT_LT(outcomes[0].id, outcomes[1].id);
    EXPECT_LT(outcomes[1].id, outcomes[2].id);
    EXPECT_EQ(get(outcomes[1].id).queue, "other");
    EXPECT_EQ(get(outcomes[2].id).name, "c");
}

TEST_P(StoreConformance, RejectsABatchWithOneInvalidJobWhole) {
    std::vector<NewJob> batch = {job("a"), job("b"), job("c")};
    batch[1].priority = 101;
    const auto result = store().enqueue(batch, t0);
    ASSERT_EQ(errc(result), JobsErrc::invalid_argument);
    EXPECT_NE(std::string(result.error().what()).find("jobs[1].priority"), std::string::npos)
        << result.error().what();
    EXPECT_TRUE(store().list({}, {}).value().jobs.empty());
    EXPECT_TRUE(store().counts().value().empty());
}

TEST_P(StoreConformance, RejectsBadInputNamingTheField) {
    struct Case {
        NewJob job;
        std::string field;
    };
    std::vector<Case> cases;
    cases.push_back({job(""), "name"});
    cases.push_back({job(std::string(kMaxNameLength + 1, 'n')), "name"});
    cases.push_back({job("a", ""), "queue"});
    cases.push_back({job("a", "default", kMinPriority - 1), "priority"});
    cases.push_back({job("a", "default", kMaxPriority + 1), "priority"});
    cases.push_back({with_attempts(job("a"), 0), "max_attempts"});
    cases.push_back({with_key(job("a"), ""), "unique_key"});
    NewJob bad_json = job("a");
    bad_json.args = R"({"a": 1,)";
    cases.push_back({bad_json, "args"});
    NewJob empty_json = job("a");
    empty_json.args = "";
    cases.push_back({empty_json, "args"});
    for (const Case& c : cases) {
        const auto result = store().enqueue(c.job, t0);
        ASSERT_EQ(errc(result), JobsErrc::invalid_argument) << c.field;
        EXPECT_EQ(std::string(result.error().what()).rfind(c.field + ":", 0), 0u)
            << result.error().what();
    }
    EXPECT_TRUE(store().counts().value().empty());
    // The extremes of the ranges are fine.
    EXPECT_TRUE(store().enqueue(job("a", "default", kMinPriority), t0));
    EXPECT_TRUE(store().enqueue(job("a", "default", kMaxPriority), t0));
}

// ---- unique keys -----------------------------------------------------------------------------

TEST_P(StoreConformance, UniqueKeyReturnsTheActiveJob) {
    const JobId first = add(with_attempts(with_key(job("sync"), "sync:7"), 3));
    auto again = store().enqueue(with_key(job("sync"), "sync:7"), t0 + 1s).value();
    EXPECT_EQ(again, (EnqueueOutcome{first, false}));

    // Keys are global across names.
    again = store().enqueue(with_key(job("other-name", "other"), "sync:7"), t0).value();
    EXPECT_EQ(again.id, first);
    EXPECT_FALSE(again.created);

    claim_one("w1", t0 + 1s);  // running
    EXPECT_EQ(store().enqueue(with_key(job("sync"), "sync:7"), t0 + 2s).value().id, first);

    ASSERT_EQ(store().fail(first, "w1", "x", t0 + 3s, t0 + 60s, std::nullopt).value(),
              JobState::failed);  // retry pending
    EXPECT_EQ(store().enqueue(with_key(job("sync"), "sync:7"), t0 + 4s).value().id, first);
    EXPECT_EQ(store().list({}, {}).value().jobs.size(), 1u);
}

TEST_P(StoreConformance, UniqueKeyDedupesWithinABatch) {
    const std::vector<NewJob> batch = {with_key(job("a"), "k"), job("b"), with_key(job("c"), "k")};
    const auto outcomes = store().enqueue(batch, t0).value();
    ASSERT_EQ(outcomes.size(), 3u);
    EXPECT_TRUE(outcomes[0].created);
    EXPECT_TRUE(outcomes[1].created);
    EXPECT_EQ(outcomes[2], (EnqueueOutcome{outcomes[0].id, false}));
}

TEST_P(StoreConformance, UniqueKeyIsFreeAgainOnceTheJobFinished) {
    const JobId first = add(with_key(job("sync"), "sync:7"));
    claim_one("w1", t0);
    ASSERT_TRUE(store().complete(first, "w1", std::nullopt, t0 + 1s, std::nullopt));
    const auto second = store().enqueue(with_key(job("sync"), "sync:7"), t0 + 2s).value();
    EXPECT_TRUE(second.created);
    EXPECT_NE(second.id, first);

    ASSERT_EQ(store().cancel(second.id, t0 + 3s, std::nullopt).value(), JobState::cancelled);
    const auto third = store().enqueue(with_key(job("sync"), "sync:7"), t0 + 4s).value();
    EXPECT_TRUE(third.created);
}

// ---- scheduling and claim order --------------------------------------------------------------

TEST_P(StoreConformance, ScheduledJobBecomesDueAtItsRunAt) {
    EXPECT_EQ(store().next_due_at().value(), std::nullopt);
    const JobId later = add(with_run_at(job("later"), t0 + 60s));
    const JobId sooner = add(with_run_at(job("sooner"), t0 + 30s));
    EXPECT_EQ(get(later).state, JobState::scheduled);
    EXPECT_EQ(store().next_due_at().value(), t0 + 30s);

    EXPECT_TRUE(claim("w1", t0 + 29s).empty());
    EXPECT_EQ(ids_of(claim("w1", t0 + 30s)), std::vector<JobId>{sooner});
    EXPECT_EQ(store().next_due_at().value(), t0 + 60s);
    EXPECT_TRUE(claim("w1", t0 + 59s + 999999us).empty());
    EXPECT_EQ(get(later).state, JobState::scheduled);
    EXPECT_EQ(ids_of(claim("w1", t0 + 60s)), std::vector<JobId>{later});
    EXPECT_EQ(store().next_due_at().value(), std::nullopt);
}

TEST_P(StoreConformance, RunAtInThePastOrNowIsQueuedAtOnce) {
    const JobId past = add(with_run_at(job("past"), t0 - 1h));
    const JobId now = add(with_run_at(job("now"), t0));
    const JobId sub_micro = add(with_run_at(job("sub"), t0 + 500ns));
    EXPECT_EQ(get(past).state, JobState::queued);
    EXPECT_EQ(get(past).run_at, t0 - 1h);
    EXPECT_EQ(get(now).state, JobState::queued);
    EXPECT_EQ(get(sub_micro).state, JobState::queued);
}

TEST_P(StoreConformance, ClaimsByPriorityThenRunAtThenId) {
    const JobId low = add(job("low", "default", -3));
    const JobId plain = add(job("plain"));
    const JobId high_late = add(with_run_at(job("hl", "default", 5), t0 + 2s));
    const JobId high_early_1 = add(with_run_at(job("he1", "default", 5), t0 + 1s));
    const JobId high_early_2 = add(with_run_at(job("he2", "default", 5), t0 + 1s));
    const JobId top_other_queue = add(job("top", "other", 9));
    const JobId mid_other_queue = add(job("mid", "other", 1));

    EXPECT_EQ(ids_of(claim("w1", t0 + 10s, 10, {"default", "other"})),
              (std::vector<JobId>{top_other_queue, high_early_1, high_early_2, high_late,
                                  mid_other_queue, plain, low}));
}

TEST_P(StoreConformance, ClaimServesOnlyTheQueuesAskedForUpToTheLimit) {
    for (int i = 0; i < 3; ++i) add(job("a", "q1"));
    for (int i = 0; i < 2; ++i) add(job("b", "q2"));
    add(job("c", "q3"));

    EXPECT_TRUE(claim("w1", t0, 0).empty());
    EXPECT_TRUE(claim("w1", t0, 10, {"nowhere"}).empty());
    auto first = claim("w1", t0, 2, {"q1"});
    ASSERT_EQ(first.size(), 2u);
    for (const auto& j : first) EXPECT_EQ(j.queue, "q1");
    auto second = claim("w1", t0, 10, {"q2", "q3", "q2"});
    ASSERT_EQ(second.size(), 3u);
    for (const auto& j : second) EXPECT_NE(j.queue, "q1");
    // No queues: every queue.
    auto rest = claim("w1", t0, 10);
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].queue, "q1");
    EXPECT_TRUE(claim("w1", t0, 10).empty());
}

TEST_P(StoreConformance, ClaimRejectsBadRequests) {
    add(job("a"));
    const auto bad = [&](ClaimRequest r) { return errc(store().claim(r)); };
    EXPECT_EQ(bad({.worker_id = "", .now = t0}), JobsErrc::invalid_argument);
    EXPECT_EQ(bad({.worker_id = "w", .now = t0, .lease = 0s}), JobsErrc::invalid_argument);
    EXPECT_EQ(bad({.worker_id = "w", .queues = {""}, .now = t0}), JobsErrc::invalid_argument);
    EXPECT_EQ(bad({.worker_id = "w", .now = t0, .rate_limits = {{"a", -1, 1s}}}),
              JobsErrc::invalid_argument);
    EXPECT_EQ(bad({.worker_id = "w", .now = t0, .rate_limits = {{"a", 1, 0s}}}),
              JobsErrc::invalid_argument);
    EXPECT_EQ(count("default", JobState::queued), 1);
}

// ---- leases ------------------------------------------------------------------------------------

TEST_P(StoreConformance, ExpiredLeaseRequeuesWithTheAttemptCounted) {
    const JobId id = add(with_attempts(job("a"), 3));
    claim_one("w1", t0);  // lease until t0 + 30s

    auto expired = store().requeue_expired(t0 + 29s, std::nullopt).value();
    EXPECT_TRUE(expired.requeued.empty());
    EXPECT_EQ(get(id).state, JobState::running);

    expired = store().requeue_expired(t0 + 30s, std::nullopt).value();
    EXPECT_EQ(expired.requeued, std::vector<JobId>{id});
    EXPECT_TRUE(expired.dead.empty());
    const JobRecord after = get(id);
    EXPECT_EQ(after.state, JobState::queued);
    EXPECT_EQ(after.attempt, 1);
    EXPECT_FALSE(after.lease_owner);
    EXPECT_FALSE(after.lease_until);
    ASSERT_EQ(after.errors.size(), 1u);
    EXPECT_EQ(after.errors[0], (AttemptError{1, "lease of worker \"w1\" expired", t0 + 30s}));

    // Twice is harmless.
    expired = store().requeue_expired(t0 + 31s, std::nullopt).value();
    EXPECT_TRUE(expired.requeued.empty());

    EXPECT_EQ(claim_one("w2", t0 + 31s).attempt, 2);
}

TEST_P(StoreConformance, ExpiredLeaseOnTheLastAttemptIsDead) {
    const JobId id = add(with_attempts(job("a"), 1));
    const JobId cancelled = add(with_attempts(job("b"), 5));
    claim("w1", t0, 2);
    ASSERT_EQ(store().cancel(cancelled, t0 + 1s, std::nullopt).value(), JobState::running);

    const auto expired = store().requeue_expired(t0 + 40s, t0 + 40s + 7 * 24h).value();
    EXPECT_TRUE(expired.requeued.empty());
    EXPECT_EQ(expired.dead, std::vector<JobId>{id});
    EXPECT_EQ(expired.cancelled, std::vector<JobId>{cancelled});
    const JobRecord dead = get(id);
    EXPECT_EQ(dead.state, JobState::dead);
    EXPECT_EQ(dead.finished_at, t0 + 40s);
    EXPECT_EQ(dead.expires_at, t0 + 40s + 7 * 24h);
    EXPECT_EQ(dead.errors.size(), 1u);
    EXPECT_EQ(get(cancelled).state, JobState::cancelled);
    EXPECT_TRUE(claim("w2", t0 + 41s).empty());
}

TEST_P(StoreConformance, HeartbeatRenewsTheLeaseAndReportsCancel) {
    const JobId a = add(job("a"));
    const JobId b = add(job("b"));
    claim("w1", t0, 2);
    ASSERT_EQ(store().cancel(b, t0 + 1s, std::nullopt).value(), JobState::running);

    const auto statuses =
        store().heartbeat("w1", std::vector<JobId>{a, b, 999'999}, t0 + 60s).value();
    EXPECT_EQ(statuses, (std::vector<LeaseStatus>{{a, true, false}, {b, true, true}, {999'999,
                                                                                       false,
                                                                                       false}}));
    EXPECT_EQ(get(a).lease_until, t0 + 60s);
    // Renewed: not expired at the old deadline.
    EXPECT_TRUE(store().requeue_expired(t0 + 45s, std::nullopt).value().requeued.empty());
    EXPECT_EQ(get(a).state, JobState::running);

    // Another worker's heartbeat does not touch it.
    EXPECT_EQ(store().heartbeat("w2", std::vector<JobId>{a}, t0 + 500s).value().at(0).held,
              false);
    EXPECT_EQ(get(a).lease_until, t0 + 60s);
}

TEST_P(StoreConformance, LateOwnerMayRenewUntilSomeoneRequeues) {
    const JobId id = add(job("a"));
    claim_one("w1", t0);
    // The lease ended at t0 + 30s, but no one has requeued it: nothing is lost by renewing.
    EXPECT_TRUE(store().heartbeat("w1", std::vector<JobId>{id}, t0 + 90s).value().at(0).held);
    EXPECT_TRUE(store().requeue_expired(t0 + 60s, std::nullopt).value().requeued.empty());
}

TEST_P(StoreConformance, WorkerThatLostTheLeaseChangesNothing) {
    const JobId id = add(with_attempts(job("a"), 5));
    claim_one("w1", t0);
    ASSERT_EQ(store().requeue_expired(t0 + 30s, std::nullopt).value().requeued.size(), 1u);
    claim_one("w2", t0 + 31s);
    const JobRecord before = get(id);

    EXPECT_FALSE(store().heartbeat("w1", std::vector<JobId>{id}, t0 + 120s).value().at(0).held);
    EXPECT_EQ(errc(store().complete(id, "w1", "1", t0 + 32s, std::nullopt)), JobsErrc::lease_lost);
    EXPECT_EQ(errc(store().fail(id, "w1", "late", t0 + 32s, t0 + 40s, std::nullopt)),
              JobsErrc::lease_lost);
    EXPECT_EQ(errc(store().mark_cancelled(id, "w1", t0 + 32s, std::nullopt)),
              JobsErrc::lease_lost);
    EXPECT_EQ(errc(store().set_progress(id, "w1", 0.9, "late")), JobsErrc::lease_lost);
    EXPECT_EQ(store().release("w1", std::vector<JobId>{id}, t0 + 32s).value(), 0u);
    EXPECT_EQ(get(id), before);

    const auto lost = store().complete(id, "w1", std::nullopt, t0 + 32s, std::nullopt);
    EXPECT_NE(std::string(lost.error().what()).find("w2"), std::string::npos)
        << lost.error().what();

    // The new owner is unaffected.
    EXPECT_TRUE(store().complete(id, "w2", std::nullopt, t0 + 33s, std::nullopt));
}

TEST_P(StoreConformance, FinishingAJobThatIsNotRunningIsLeaseLost) {
    const JobId queued = add(job("a"));
    EXPECT_EQ(errc(store().complete(queued, "w1", std::nullopt, t0, std::nullopt)),
              JobsErrc::lease_lost);
    EXPECT_EQ(get(queued).state, JobState::queued);
    EXPECT_EQ(errc(store().complete(424242, "w1", std::nullopt, t0, std::nullopt)),
              JobsErrc::not_found);
}

// ---- failure, retry with backoff, dead letters -------------------------------------------------

TEST_P(StoreConformance, FailedAttemptsRetryAtTheirTimeUntilDead) {
    const JobId id = add(with_attempts(job("flaky"), 3));
    claim_one("w1", t0);
    EXPECT_EQ(store().fail(id, "w1", "first", t0 + 1s, t0 + 10s, std::nullopt).value(),
              JobState::failed);
    EXPECT_EQ(store().next_due_at().value(), t0 + 10s);
    EXPECT_TRUE(claim("w1", t0 + 9s).empty());
    EXPECT_EQ(claim_one("w1", t0 + 10s).attempt, 2);
    EXPECT_EQ(store().fail(id, "w1", "second", t0 + 11s, t0 + 30s, std::nullopt).value(),
              JobState::failed);
    EXPECT_EQ(claim_one("w1", t0 + 30s).attempt, 3);
    // The last attempt: dead even though a retry time was offered.
    EXPECT_EQ(store().fail(id, "w1", "third", t0 + 31s, t0 + 60s, t0 + 31s + 24h).value(),
              JobState::dead);
    const JobRecord dead = get(id);
    EXPECT_EQ(dead.finished_at, t0 + 31s);
    EXPECT_EQ(dead.expires_at, t0 + 31s + 24h);
    ASSERT_EQ(dead.errors.size(), 3u);
    EXPECT_EQ(dead.errors[0], (AttemptError{1, "first", t0 + 1s}));
    EXPECT_EQ(dead.errors[1], (AttemptError{2, "second", t0 + 11s}));
    EXPECT_EQ(dead.errors[2], (AttemptError{3, "third", t0 + 31s}));
    EXPECT_TRUE(claim("w1", t0 + 100s).empty());
}

TEST_P(StoreConformance, FailureWithoutRetryTimeIsDeadAtOnce) {
    const JobId id = add(with_attempts(job("a"), 5));
    claim_one("w1", t0);
    EXPECT_EQ(store().fail(id, "w1", "not retryable", t0 + 1s, std::nullopt, std::nullopt).value(),
              JobState::dead);
    EXPECT_EQ(get(id).attempt, 1);
}

TEST_P(StoreConformance, FailureAfterACancelRequestEndsCancelled) {
    const JobId id = add(with_attempts(job("a"), 5));
    claim_one("w1", t0);
    ASSERT_EQ(store().cancel(id, t0 + 1s, std::nullopt).value(), JobState::running);
    EXPECT_EQ(store().fail(id, "w1", "interrupted", t0 + 2s, t0 + 10s, std::nullopt).value(),
              JobState::cancelled);
    EXPECT_TRUE(claim("w1", t0 + 20s).empty());
}

TEST_P(StoreConformance, RetryRunsDeadFailedAndCancelledJobsAgain) {
    const JobId dead = add(with_attempts(job("dead"), 1));
    claim_one("w1", t0);
    ASSERT_EQ(store().fail(dead, "w1", "boom", t0 + 1s, std::nullopt, t0 + 1h).value(),
              JobState::dead);
    ASSERT_TRUE(store().retry(dead, t0 + 2s));
    JobRecord again = get(dead);
    EXPECT_EQ(again.state, JobState::queued);
    EXPECT_EQ(again.attempt, 0);
    EXPECT_EQ(again.run_at, t0 + 2s);
    EXPECT_FALSE(again.finished_at);
    EXPECT_FALSE(again.expires_at);
    EXPECT_FALSE(again.started_at);
    EXPECT_EQ(again.errors.size(), 1u);  // history is kept
    EXPECT_EQ(claim_one("w1", t0 + 3s).attempt, 1);

    ASSERT_EQ(store().fail(dead, "w1", "again", t0 + 4s, t0 + 1h, std::nullopt).value(),
              JobState::dead);  // max_attempts 1
    const JobId failed = add(with_attempts(job("failed"), 3), t0 + 5s);
    claim_one("w1", t0 + 5s);
    ASSERT_EQ(store().fail(failed, "w1", "x", t0 + 6s, t0 + 1h, std::nullopt).value(),
              JobState::failed);
    ASSERT_TRUE(store().retry(failed, t0 + 7s));  // now, not in an hour
    EXPECT_EQ(get(failed).run_at, t0 + 7s);
    EXPECT_EQ(get(failed).attempt, 0);

    const JobId cancelled = add(job("cancelled"), t0 + 8s);
    ASSERT_EQ(store().cancel(cancelled, t0 + 8s, t0 + 1h).value(), JobState::cancelled);
    ASSERT_TRUE(store().retry(cancelled, t0 + 9s));
    EXPECT_EQ(get(cancelled).state, JobState::queued);
}

TEST_P(StoreConformance, RetryRefusesActiveAndSucceededJobsAndChangesNothing) {
    const JobId scheduled = add(with_run_at(job("s"), t0 + 1h));
    const JobId running = add(job("r", "run"));
    const JobId queued = add(job("q", "wait"));
    const JobId succeeded = add(job("done", "done"));
    claim("w1", t0, 1, {"run"});
    claim("w1", t0, 1, {"done"});
    ASSERT_TRUE(store().complete(succeeded, "w1", "42", t0, std::nullopt));

    for (const JobId id : {scheduled, running, queued, succeeded}) {
        const JobRecord before = get(id);
        const auto result = store().retry(id, t0 + 1s);
        EXPECT_EQ(errc(result), JobsErrc::invalid_state) << id;
        EXPECT_NE(std::string(result.error().what()).find(std::to_string(id)), std::string::npos);
        EXPECT_EQ(get(id), before);
    }
    EXPECT_EQ(errc(store().retry(999'999, t0)), JobsErrc::not_found);
}

TEST_P(StoreConformance, RetryRefusesAUniqueKeyHeldByAnotherActiveJob) {
    const JobId old = add(with_attempts(with_key(job("a"), "k"), 1));
    claim_one("w1", t0);
    ASSERT_EQ(store().fail(old, "w1", "x", t0, std::nullopt, std::nullopt).value(),
              JobState::dead);
    const auto fresh = store().enqueue(with_key(job("a"), "k"), t0 + 1s).value();
    ASSERT_TRUE(fresh.created);
    const JobRecord before = get(old);
    EXPECT_EQ(errc(store().retry(old, t0 + 2s)), JobsErrc::duplicate);
    EXPECT_EQ(get(old), before);
    EXPECT_EQ(get(fresh.id).state, JobState::queued);
}

// ---- cancel --------------------------------------------------------------------------------

TEST_P(StoreConformance, CancelsWaitingJobsAtOnce) {
    const JobId queued = add(job("q"));
    const JobId scheduled = add(with_run_at(job("s", "later"), t0 + 1h));
    const JobId failed = add(with_attempts(job("f", "flaky"), 3));
    claim("w1", t0, 1, {"flaky"});
    ASSERT_EQ(store().fail(failed, "w1", "x", t0, t0 + 1h, std::nullopt).value(),
              JobState::failed);

    for (const JobId id : {queued, scheduled, failed}) {
        EXPECT_EQ(store().cancel(id, t0 + 5s, t0 + 5s + 24h).value(), JobState::cancelled);
        const JobRecord after = get(id);
        EXPECT_EQ(after.state, JobState::cancelled);
        EXPECT_EQ(after.finished_at, t0 + 5s);
        EXPECT_EQ(after.expires_at, t0 + 5s + 24h);
    }
    EXPECT_TRUE(claim("w1", t0 + 2h).empty());
    EXPECT_EQ(store().next_due_at().value(), std::nullopt);
}

TEST_P(StoreConformance, CancelOfARunningJobReachesItsWorker) {
    const JobId id = add(job("long"));
    claim_one("w1", t0);
    EXPECT_EQ(store().cancel(id, t0 + 1s, std::nullopt).value(), JobState::running);
    EXPECT_TRUE(get(id).cancel_requested);
    EXPECT_EQ(get(id).state, JobState::running);
    EXPECT_TRUE(store().heartbeat("w1", std::vector<JobId>{id}, t0 + 60s)
                    .value()
                    .at(0)
                    .cancel_requested);
    ASSERT_TRUE(store().mark_cancelled(id, "w1", t0 + 2s, t0 + 2s + 24h));
    const JobRecord after = get(id);
    EXPECT_EQ(after.state, JobState::cancelled);
    EXPECT_EQ(after.finished_at, t0 + 2s);
    EXPECT_EQ(after.expires_at, t0 + 2s + 24h);
    EXPECT_FALSE(after.lease_owner);
}

TEST_P(StoreConformance, CancelOfAFinishedJob) {
    const JobId done = add(job("done"));
    claim_one("w1", t0);
    ASSERT_TRUE(store().complete(done, "w1", std::nullopt, t0, std::nullopt));
    const JobRecord before = get(done);
    EXPECT_EQ(errc(store().cancel(done, t0 + 1s, std::nullopt)), JobsErrc::invalid_state);
    EXPECT_EQ(get(done), before);

    const JobId cancelled = add(job("c"));
    ASSERT_EQ(store().cancel(cancelled, t0 + 1s, std::nullopt).value(), JobState::cancelled);
    const JobRecord first = get(cancelled);
    // Idempotent: a second cancel changes nothing, not even the finish time.
    EXPECT_EQ(store().cancel(cancelled, t0 + 9s, t0 + 1h).value(), JobState::cancelled);
    EXPECT_EQ(get(cancelled), first);

    EXPECT_EQ(errc(store().cancel(999'999, t0, std::nullopt)), JobsErrc::not_found);
}

// ---- release, progress, remove, purge --------------------------------------------------------

TEST_P(StoreConformance, ReleaseGivesJobsBackWithoutUsingAnAttempt) {
    const JobId a = add(job("a"));
    const JobId b = add(job("b"));
    const JobId c = add(job("c"));
    claim("w1", t0, 2);  // a and b
    claim("w2", t0, 1);  // c
    ASSERT_EQ(store().cancel(b, t0 + 1s, std::nullopt).value(), JobState::running);

    EXPECT_EQ(store().release("w1", std::vector<JobId>{a, b, c, 999'999}, t0 + 2s).value(), 2u);
    const JobRecord released = get(a);
    EXPECT_EQ(released.state, JobState::queued);
    EXPECT_EQ(released.attempt, 0);
    EXPECT_FALSE(released.lease_owner);
    EXPECT_TRUE(released.errors.empty());
    // A job whose cancel was requested is not handed out again.
    EXPECT_EQ(get(b).state, JobState::cancelled);
    EXPECT_EQ(get(b).finished_at, t0 + 2s);
    // Another worker's job is untouched.
    EXPECT_EQ(get(c).state, JobState::running);
    EXPECT_EQ(get(c).lease_owner, "w2");

    EXPECT_EQ(claim_one("w3", t0 + 3s).attempt, 1);
}

TEST_P(StoreConformance, ProgressIsKeptAndChecked) {
    const JobId id = add(job("a"));
    EXPECT_EQ(errc(store().set_progress(id, "w1", 0.5, "")), JobsErrc::lease_lost);
    claim_one("w1", t0);
    for (const double bad : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
        EXPECT_EQ(errc(store().set_progress(id, "w1", bad, "x")), JobsErrc::invalid_argument);
    }
    ASSERT_TRUE(store().set_progress(id, "w1", 0.25, "rows 250/1000"));
    ASSERT_TRUE(store().set_progress(id, "w1", 1.0, "done"));
    EXPECT_EQ(get(id).progress, 1.0);
    EXPECT_EQ(get(id).progress_message, "done");
    EXPECT_EQ(errc(store().set_progress(999'999, "w1", 0.5, "")), JobsErrc::not_found);
}

TEST_P(StoreConformance, CompleteChecksTheResultJson) {
    const JobId id = add(job("a"));
    claim_one("w1", t0);
    EXPECT_EQ(errc(store().complete(id, "w1", "{not json", t0, std::nullopt)),
              JobsErrc::invalid_argument);
    EXPECT_EQ(get(id).state, JobState::running);
    ASSERT_TRUE(store().complete(id, "w1", R"([1,2,3])", t0, std::nullopt));
    EXPECT_EQ(get(id).result, "[1,2,3]");
}

TEST_P(StoreConformance, CompleteManyFinishesWhatTheWorkerHoldsAndReportsTheRest) {
    const JobId a = add(job("a"));
    const JobId b = add(job("b"));
    const JobId lost = add(job("lost"));
    const JobId bad = add(job("bad"));
    claim("w1", t0, 2);            // a, b
    claim("w2", t0, 1);            // lost belongs to w2
    claim("w1", t0, 1);            // bad
    const JobRecord lost_before = get(lost);
    const JobRecord bad_before = get(bad);

    const std::vector<Completion> batch = {{a, "1", t0 + 1h},
                                           {lost, "2", std::nullopt},
                                           {999'999, std::nullopt, std::nullopt},
                                           {bad, "{nope", std::nullopt},
                                           {b, std::nullopt, std::nullopt}};
    const auto results = store().complete_many("w1", batch, t0 + 5s).value();
    ASSERT_EQ(results.size(), batch.size());
    EXPECT_TRUE(results[0]);
    EXPECT_EQ(errc(results[1]), JobsErrc::lease_lost);
    EXPECT_EQ(errc(results[2]), JobsErrc::not_found);
    EXPECT_EQ(errc(results[3]), JobsErrc::invalid_argument);
    EXPECT_TRUE(results[4]);

    EXPECT_EQ(get(a).state, JobState::succeeded);
    EXPECT_EQ(get(a).result, "1");
    EXPECT_EQ(get(a).finished_at, t0 + 5s);
    EXPECT_EQ(get(a).expires_at, t0 + 1h);
    EXPECT_EQ(get(b).state, JobState::succeeded);
    EXPECT_FALSE(get(b).result);
    EXPECT_EQ(get(lost), lost_before);
    EXPECT_EQ(get(bad), bad_before);
    EXPECT_TRUE(store().complete_many("w1", {}, t0).value().empty());
}

TEST_P(StoreConformance, CompleteAndClaimFinishesTheBatchThenClaimsTheNext) {
    const JobId a = add(job("a"));
    const JobId lost = add(job("lost"));
    claim("w1", t0, 1);  // a
    claim("w2", t0, 1);  // lost belongs to w2
    const JobId next = add(job("next"), t0 + 1s);
    const JobRecord lost_before = get(lost);

    const std::vector<Completion> batch = {{a, "1", t0 + 1h}, {lost, std::nullopt, std::nullopt}};
    const ClaimRequest request{.worker_id = "w1", .limit = 5, .now = t0 + 5s, .lease = 30s};
    auto done = store().complete_and_claim("w1", batch, request).value();
    ASSERT_EQ(done.completed.size(), 2u);
    EXPECT_TRUE(done.completed[0]);
    EXPECT_EQ(errc(done.completed[1]), JobsErrc::lease_lost);
    ASSERT_TRUE(done.claimed);
    ASSERT_EQ(done.claimed->size(), 1u);
    EXPECT_EQ(done.claimed->front().id, next);
    EXPECT_EQ(done.claimed->front().lease_owner, "w1");

    EXPECT_EQ(get(a).state, JobState::succeeded);
    EXPECT_EQ(get(a).finished_at, t0 + 5s);
    EXPECT_EQ(get(a).expires_at, t0 + 1h);
    EXPECT_EQ(get(lost), lost_before);
    EXPECT_EQ(get(next).state, JobState::running);
}

TEST_P(StoreConformance, CompleteAndClaimWithABadClaimStillCompletes) {
    const JobId a = add(job("a"));
    const JobId waiting = add(job("waiting"));
    claim("w1", t0, 1);
    const std::vector<Completion> batch = {{a, std::nullopt, std::nullopt}};
    const ClaimRequest bad{.worker_id = "", .limit = 5, .now = t0 + 1s, .lease = 30s};
    auto done = store().complete_and_claim("w1", batch, bad).value();
    ASSERT_EQ(done.completed.size(), 1u);
    EXPECT_TRUE(done.completed[0]);
    EXPECT_EQ(errc(done.claimed), JobsErrc::invalid_argument);
    EXPECT_EQ(get(a).state, JobState::succeeded);
    EXPECT_EQ(get(waiting).state, JobState::queued);
}

TEST_P(StoreConformance, RemoveDeletesJobsButNotRunningOnesUnlessForced) {
    const JobId queued = add(job("q"));
    const JobId running = add(job("r", "run"));
    claim("w1", t0, 1, {"run"});

    ASSERT_TRUE(store().remove(queued, false));
    EXPECT_EQ(errc(store().get(queued)), JobsErrc::not_found);
    EXPECT_EQ(errc(store().remove(queued, false)), JobsErrc::not_found);

    EXPECT_EQ(errc(store().remove(running, false)), JobsErrc::invalid_state);
    EXPECT_EQ(get(running).state, JobState::running);
    ASSERT_TRUE(store().remove(running, true));
    EXPECT_EQ(errc(store().complete(running, "w1", std::nullopt, t0, std::nullopt)),
              JobsErrc::not_found);
    EXPECT_TRUE(store().counts().value().empty());
}

TEST_P(StoreConformance, PurgeDeletesFinishedJobsPastTheirTimeToLive) {
    std::vector<JobId> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(add(with_attempts(job("a"), 1)));
    const JobId keep_forever = add(job("forever"));
    const JobId active = add(with_run_at(job("active"), t0 + 10h));
    claim("w1", t0, 5);
    ASSERT_TRUE(store().complete(ids[0], "w1", "1", t0, t0 + 1h));
    ASSERT_TRUE(store().complete(ids[1], "w1", "2", t0, t0 + 2h));
    ASSERT_EQ(store().fail(ids[2], "w1", "x", t0, std::nullopt, t0 + 2h).value(), JobState::dead);
    ASSERT_TRUE(store().mark_cancelled(ids[3], "w1", t0, t0 + 2h));
    ASSERT_TRUE(store().complete(keep_forever, "w1", std::nullopt, t0, std::nullopt));

    EXPECT_EQ(store().purge(t0 + 1h - 1us, 100).value(), 0u);
    EXPECT_EQ(store().purge(t0 + 1h, 100).value(), 1u);
    EXPECT_EQ(errc(store().get(ids[0])), JobsErrc::not_found);
    // The limit bounds one call.
    EXPECT_EQ(store().purge(t0 + 5h, 2).value(), 2u);
    EXPECT_EQ(store().purge(t0 + 5h, 2).value(), 1u);
    EXPECT_EQ(store().purge(t0 + 5h, 2).value(), 0u);
    EXPECT_TRUE(store().get(keep_forever));
    EXPECT_TRUE(store().get(active));
    EXPECT_EQ(store().list({}, {}).value().jobs.size(), 2u);
}

TEST_P(StoreConformance, PurgeFinishedDeletesJobsThatFinishedBeforeTheCutoff) {
    const JobId succeeded = add(job("s"));
    const JobId dead = add(job("d"));
    const JobId cancelled = add(job("c"));
    const JobId kept_forever = add(job("forever"));
    const JobId recent = add(job("recent"));
    const JobId running = add(job("r"));
    const JobId failed = add(with_attempts(job("f"), 2));
    const JobId retried = add(job("retried"));
    ASSERT_EQ(claim("w1", t0, 10).size(), 8u);
    const JobId queued = add(job("q"));
    const JobId scheduled = add(with_run_at(job("sch"), t0 + 1h));
    // Expiry plays no part: far in the future, or none at all.
    ASSERT_TRUE(store().complete(succeeded, "w1", "1", t0 + 1s, t0 + 100h));
    ASSERT_EQ(store().fail(dead, "w1", "x", t0 + 2s, std::nullopt, t0 + 100h).value(),
              JobState::dead);
    ASSERT_TRUE(store().mark_cancelled(cancelled, "w1", t0 + 3s, std::nullopt));
    ASSERT_TRUE(store().complete(kept_forever, "w1", std::nullopt, t0 + 4s, std::nullopt));
    ASSERT_TRUE(store().complete(recent, "w1", std::nullopt, t0 + 10s, std::nullopt));
    ASSERT_EQ(store().fail(failed, "w1", "x", t0 + 1s, t0 + 1h, std::nullopt).value(),
              JobState::failed);
    // Died, then run again by hand: queued, with no finish time.
    ASSERT_EQ(store().fail(retried, "w1", "x", t0 + 1s, std::nullopt, std::nullopt).value(),
              JobState::dead);
    ASSERT_TRUE(store().retry(retried, t0 + 2s));
    std::vector<JobRecord> unfinished;
    for (const JobId id : {running, failed, retried, queued, scheduled}) {
        unfinished.push_back(get(id));
    }

    EXPECT_EQ(store().purge_finished(t0 + 1s, {}, 100).value(), 0u);  // strictly before
    EXPECT_EQ(store().purge_finished(t0 + 5s, {}, 100).value(), 4u);
    for (const JobId id : {succeeded, dead, cancelled, kept_forever}) {
        EXPECT_EQ(errc(store().get(id)), JobsErrc::not_found) << "job " << id;
    }
    EXPECT_EQ(get(recent).state, JobState::succeeded);
    EXPECT_EQ(store().purge_finished(t0 + 10s, {}, 100).value(), 0u);
    // Stores keep microseconds: a cutoff a nanosecond later is after the finish.
    EXPECT_EQ(store().purge_finished(t0 + 10s + 1ns, {}, 100).value(), 1u);
    EXPECT_EQ(errc(store().get(recent)), JobsErrc::not_found);

    // Whatever the cutoff, jobs that have not finished stay as they were.
    EXPECT_EQ(store().purge_finished(t0 + 1000h, {}, 100).value(), 0u);
    std::vector<JobRecord> after;
    for (const JobRecord& j : unfinished) after.push_back(get(j.id));
    EXPECT_EQ(after, unfinished);
    EXPECT_EQ(count("default", JobState::succeeded), 0);
    EXPECT_EQ(count("default", JobState::dead), 0);
    EXPECT_EQ(count("default", JobState::cancelled), 0);
    EXPECT_EQ(store().list({}, {}).value().jobs.size(), 5u);
}

TEST_P(StoreConformance, PurgeFinishedKeepsToItsStatesAndLimitOldestFirst) {
    std::vector<JobId> ids;
    for (int i = 0; i < 7; ++i) ids.push_back(add(job("a")));
    ASSERT_EQ(claim("w1", t0, 10).size(), 7u);
    // Finished out of id order, so "oldest first" is about finish times.
    ASSERT_TRUE(store().complete(ids[0], "w1", std::nullopt, t0 + 30s, std::nullopt));
    ASSERT_TRUE(store().complete(ids[1], "w1", std::nullopt, t0 + 10s, std::nullopt));
    ASSERT_TRUE(store().complete(ids[2], "w1", std::nullopt, t0 + 20s, std::nullopt));
    ASSERT_EQ(store().fail(ids[3], "w1", "x", t0 + 15s, std::nullopt, std::nullopt).value(),
              JobState::dead);
    ASSERT_EQ(store().fail(ids[4], "w1", "x", t0 + 25s, std::nullopt, std::nullopt).value(),
              JobState::dead);
    ASSERT_TRUE(store().mark_cancelled(ids[5], "w1", t0 + 5s, std::nullopt));
    ASSERT_TRUE(store().mark_cancelled(ids[6], "w1", t0 + 40s, std::nullopt));
    const TimePoint cutoff = t0 + 1h;
    const auto left = [&] { return ids_of(store().list({}, {}).value().jobs); };
    using Ids = std::vector<JobId>;

    // Succeeded only, two at a time: the two oldest finishes go first.
    const std::vector<JobState> succeeded = {JobState::succeeded};
    EXPECT_EQ(store().purge_finished(cutoff, succeeded, 2).value(), 2u);
    EXPECT_EQ(left(), (Ids{ids[6], ids[5], ids[4], ids[3], ids[0]}));
    EXPECT_EQ(store().purge_finished(cutoff, succeeded, 2).value(), 1u);
    EXPECT_EQ(store().purge_finished(cutoff, succeeded, 2).value(), 0u);

    // Several states share one limit and one order; repeats change nothing.
    const std::vector<JobState> dead_or_cancelled = {
        JobState::dead, JobState::cancelled, JobState::dead};
    EXPECT_EQ(store().purge_finished(cutoff, dead_or_cancelled, 2).value(), 2u);
    EXPECT_EQ(left(), (Ids{ids[6], ids[4]}));  // cancelled at 5s and dead at 15s went
    const std::vector<JobState> cancelled = {JobState::cancelled};
    EXPECT_EQ(store().purge_finished(t0 + 40s, cancelled, 10).value(), 0u);
    EXPECT_EQ(store().purge_finished(cutoff, cancelled, 10).value(), 1u);
    EXPECT_EQ(left(), (Ids{ids[4]}));
    EXPECT_EQ(store().purge_finished(cutoff, {}, 1).value(), 1u);
    EXPECT_TRUE(left().empty());
    EXPECT_TRUE(store().counts().value().empty());
}

TEST_P(StoreConformance, PurgeFinishedRefusesUnfinishedStatesAndALimitOfZero) {
    const JobId done = add(job("a"));
    claim("w1", t0);
    ASSERT_TRUE(store().complete(done, "w1", std::nullopt, t0, std::nullopt));
    const JobId queued = add(job("q"));

    for (const JobState state :
         {JobState::scheduled, JobState::queued, JobState::running, JobState::failed}) {
        const std::vector<JobState> states = {JobState::succeeded, state};
        const auto purged = store().purge_finished(t0 + 1h, states, 100);
        ASSERT_EQ(errc(purged), JobsErrc::invalid_argument) << to_string(state);
        EXPECT_NE(std::string(purged.error().what()).find(to_string(state)), std::string::npos)
            << purged.error().what();
    }
    EXPECT_EQ(errc(store().purge_finished(t0 + 1h, {}, 0)), JobsErrc::invalid_argument);
    const std::vector<JobState> succeeded = {JobState::succeeded};
    EXPECT_EQ(errc(store().purge_finished(t0 + 1h, succeeded, 0)), JobsErrc::invalid_argument);
    // Refused calls delete nothing.
    EXPECT_EQ(get(done).state, JobState::succeeded);
    EXPECT_EQ(get(queued).state, JobState::queued);
}

// ---- list and counts -----------------------------------------------------------------------

TEST_P(StoreConformance, ListsNewestFirstWithFilters) {
    const JobId a1 = add(job("email", "mail"));
    const JobId a2 = add(job("report", "exports"));
    const JobId a3 = add(job("email", "mail"));
    const JobId a4 = add(job("email", "bulk"));
    claim("w1", t0, 1, {"mail"});  // a1 running

    EXPECT_EQ(ids_of(store().list({}, {}).value().jobs), (std::vector<JobId>{a4, a3, a2, a1}));
    EXPECT_EQ(ids_of(store().list({.name = "email"}, {}).value().jobs),
              (std::vector<JobId>{a4, a3, a1}));
    EXPECT_EQ(ids_of(store().list({.queue = "mail"}, {}).value().jobs),
              (std::vector<JobId>{a3, a1}));
    EXPECT_EQ(ids_of(store().list({.state = JobState::queued}, {}).value().jobs),
              (std::vector<JobId>{a4, a3, a2}));
    EXPECT_EQ(ids_of(store().list({.state = JobState::queued, .queue = "mail", .name = "email"},
                                  {})
                         .value()
                         .jobs),
              (std::vector<JobId>{a3}));
    EXPECT_TRUE(store().list({.queue = "nowhere"}, {}).value().jobs.empty());
    EXPECT_TRUE(store().list({.state = JobState::dead}, {}).value().jobs.empty());

    EXPECT_EQ(errc(store().list({}, {.limit = 0})), JobsErrc::invalid_argument);
    EXPECT_EQ(errc(store().list({}, {.limit = kMaxPageSize + 1})), JobsErrc::invalid_argument);
}

TEST_P(StoreConformance, PagesStayStableWhileJobsAreAdded) {
    std::vector<JobId> ids;
    for (int i = 0; i < 7; ++i) ids.push_back(add(job("a")));

    auto page = store().list({}, {.limit = 3}).value();
    EXPECT_EQ(ids_of(page.jobs), (std::vector<JobId>{ids[6], ids[5], ids[4]}));
    ASSERT_TRUE(page.next_before_id);

    for (int i = 0; i < 3; ++i) add(job("a"));  // newer jobs do not shift older pages

    page = store().list({}, {.limit = 3, .before_id = page.next_before_id}).value();
    EXPECT_EQ(ids_of(page.jobs), (std::vector<JobId>{ids[3], ids[2], ids[1]}));
    ASSERT_TRUE(page.next_before_id);
    page = store().list({}, {.limit = 3, .before_id = page.next_before_id}).value();
    EXPECT_EQ(ids_of(page.jobs), (std::vector<JobId>{ids[0]}));
    EXPECT_FALSE(page.next_before_id);

    // A page that ends exactly at the last job says there is no more.
    page = store().list({}, {.limit = 2, .before_id = ids[2]}).value();
    EXPECT_EQ(ids_of(page.jobs), (std::vector<JobId>{ids[1], ids[0]}));
    EXPECT_FALSE(page.next_before_id);
}

TEST_P(StoreConformance, CountsJobsPerQueueAndState) {
    EXPECT_TRUE(store().counts().value().empty());
    add(job("a", "alpha"));
    add(job("a", "alpha"));
    add(with_run_at(job("a", "alpha"), t0 + 1h));
    add(job("b", "beta"));
    add(job("b", "beta"));
    const auto claimed = claim("w1", t0, 1, {"alpha"});
    ASSERT_EQ(claimed.size(), 1u);
    ASSERT_TRUE(store().complete(claimed[0].id, "w1", std::nullopt, t0, t0 + 1s));

    const auto counts = store().counts().value();
    ASSERT_EQ(counts.size(), 2u);
    EXPECT_EQ(counts[0].queue, "alpha");
    EXPECT_EQ(counts[0][JobState::queued], 1);
    EXPECT_EQ(counts[0][JobState::scheduled], 1);
    EXPECT_EQ(counts[0][JobState::succeeded], 1);
    EXPECT_EQ(counts[0][JobState::running], 0);
    EXPECT_EQ(counts[0].total(), 3);
    EXPECT_EQ(counts[1].queue, "beta");
    EXPECT_EQ(counts[1][JobState::queued], 2);
    EXPECT_EQ(counts[1].total(), 2);

    // A queue whose jobs are all gone disappears.
    ASSERT_EQ(store().purge(t0 + 2s, 100).value(), 1u);
    for (const auto& j : store().list({.queue = "beta"}, {}).value().jobs) {
        ASSERT_TRUE(store().remove(j.id, false));
    }
    const auto after = store().counts().value();
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].queue, "alpha");
    EXPECT_EQ(after[0].total(), 2);
}

// ---- rate limits -----------------------------------------------------------------------------

TEST_P(StoreConformance, RateLimitIsGlobalAcrossHandles) {
    for (int i = 0; i < 5; ++i) add(job("email", "default", 10));
    add(job("other"));
    add(job("other"));
    auto other_handle = backing().open();
    const std::vector<RateLimit> limits = {{"email", 2, 60s}};
    const auto claim_on = [&](Store& s, std::string worker, TimePoint now) {
        return s
            .claim({.worker_id = std::move(worker),
                    .limit = 10,
                    .now = now,
                    .lease = 1h,
                    .rate_limits = limits})
            .value();
    };

    // Two emails (highest priority) and, not held up by them, the other jobs.
    const auto first = claim_on(store(), "w1", t0);
    ASSERT_EQ(first.size(), 4u);
    EXPECT_EQ(first[0].name, "email");
    EXPECT_EQ(first[1].name, "email");
    EXPECT_EQ(first[2].name, "other");

    // The other worker sees the same budget.
    EXPECT_TRUE(claim_on(*other_handle, "w2", t0 + 1s).empty());
    EXPECT_TRUE(claim_on(*other_handle, "w2", t0 + 59s).empty());
    // The window slides: the starts at t0 leave it at t0 + 60s.
    const auto later = claim_on(*other_handle, "w2", t0 + 60s);
    ASSERT_EQ(later.size(), 2u);
    EXPECT_EQ(later[0].name, "email");
    EXPECT_TRUE(claim_on(store(), "w1", t0 + 61s).empty());
    EXPECT_EQ(claim_on(store(), "w1", t0 + 120s).size(), 1u);
}

TEST_P(StoreConformance, RateLimitAppliesAcrossQueuesAndZeroHoldsANameBack) {
    add(job("sms", "q1", 5));
    add(job("sms", "q2", 4));
    add(job("sms", "q1", 3));
    add(job("push", "q2", 1));
    const auto one_sms = store()
                             .claim({.worker_id = "w1",
                                     .limit = 10,
                                     .now = t0,
                                     .rate_limits = {{"sms", 1, 1h}, {"push", 0, 1h}}})
                             .value();
    ASSERT_EQ(one_sms.size(), 1u);
    EXPECT_EQ(one_sms[0].priority, 5);
    // Without limits the rest flows.
    EXPECT_EQ(claim("w1", t0, 10).size(), 3u);
}

// ---- concurrency -----------------------------------------------------------------------------

TEST_P(StoreConformance, ConcurrentClaimsNeverHandOneJobToTwoWorkers) {
    constexpr int kJobs = 300;
    constexpr int kWorkers = 4;
    std::vector<NewJob> batch;
    for (int i = 0; i < kJobs; ++i) batch.push_back(job("j", i % 2 ? "odd" : "even", i % 7));
    ASSERT_EQ(store().enqueue(batch, t0).value().size(), static_cast<std::size_t>(kJobs));

    std::vector<std::vector<JobId>> taken(kWorkers);
    std::vector<std::string> failures(kWorkers);
    std::vector<std::thread> threads;
    for (int w = 0; w < kWorkers; ++w) {
        // Each worker has its own handle: for SQLite its own connection, as a process would.
        threads.emplace_back([&, w, handle = backing().open()] {
            const std::string worker = "w" + std::to_string(w);
            for (;;) {
                auto claimed = handle->claim({.worker_id = worker, .limit = 3, .now = t0});
                if (!claimed) {
                    failures[w] = claimed.error().what();
                    return;
                }
                if (claimed->empty()) return;
                for (const JobRecord& j : *claimed) {
                    taken[w].push_back(j.id);
                    if (!handle->complete(j.id, worker, std::nullopt, t0, std::nullopt)) {
                        failures[w] = "complete failed";
                        return;
                    }
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    for (const auto& f : failures) EXPECT_EQ(f, "");

    std::map<JobId, int> times;
    for (const auto& ids : taken) {
        for (const JobId id : ids) times[id] += 1;
    }
    EXPECT_EQ(times.size(), static_cast<std::size_t>(kJobs));
    for (const auto& [id, n] : times) EXPECT_EQ(n, 1) << "job " << id;
    EXPECT_EQ(count("odd", JobState::succeeded) + count("even", JobState::succeeded), kJobs);
}

// ---- instantiations --------------------------------------------------------------------------

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance,
                         ::testing::Values(StoreKind{
                             "Memory", [] { return std::make_unique<MemoryBacking>(); }}),
                         kind_name);

#ifdef AFTERWORK_WITH_SQLITE
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(StoreKind{
                             "Sqlite", [] { return std::make_unique<SqliteBacking>(); }}),
                         kind_name);
#endif

}  // namespace
}  // namespace afterwork
