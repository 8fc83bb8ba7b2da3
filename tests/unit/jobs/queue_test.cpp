// SPDX-License-Identifier: MIT
#include <afterwork/jobs/queue.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/run_task.hpp"
#include "unit/jobs/queue_fixture.hpp"

#if AFTERWORK_WITH_SQLITE
#include <sqlite3.h>

#include <afterwork/jobs/sqlite_queue.hpp>
#endif

namespace afterwork {

struct Welcome {
    std::string email;
    int age = 0;
    std::optional<std::string> source;
};
BOOST_DESCRIBE_STRUCT(Welcome, (), (email, age, source))

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

void noop_raw(JobContext&, const json::value&) {}
Task<void> welcome(JobContext&, Welcome) { co_return; }

class Queues : public testing::StoreTest {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        queue_ = std::make_unique<Queue>(store_);
        queue_->define("raw", noop_raw);
        queue_->define("welcome", welcome, {.queue = "mail", .priority = 5, .max_attempts = 4});
    }
    void expect_refused(const JobsResult<EnqueueOutcome>& result, JobsErrc code,
                        std::string_view fragment) {
        ASSERT_FALSE(result.has_value());
        EXPECT_EQ(result.error().code(), code);
        EXPECT_NE(std::string(result.error().what()).find(fragment), std::string::npos)
            << result.error().what();
        EXPECT_EQ(total_jobs(), 0);  // nothing stored
    }
    std::unique_ptr<Queue> queue_;
};

TEST_P(Queues, DefinitionsAreListedAndDuplicatesRefused) {
    EXPECT_EQ(queue_->names(), (std::vector<std::string>{"raw", "welcome"}));
    EXPECT_TRUE(queue_->defined("raw"));
    EXPECT_THROW(queue_->define("raw", noop_raw), std::invalid_argument);
    EXPECT_THROW(queue_->define("p", noop_raw, {.priority = 101}), std::invalid_argument);
    EXPECT_THROW(queue_->define("a", noop_raw, {.max_attempts = 0}), std::invalid_argument);
    EXPECT_THROW(queue_->define("", noop_raw), std::invalid_argument);
}

TEST_P(Queues, EnqueueTakesTheDefinitionsPolicy) {
    auto outcome = queue_->enqueue("welcome", Welcome{"a@b.c", 30, std::nullopt}).value();
    EXPECT_TRUE(outcome.created);
    auto job = queue_->get(outcome.id).value();
    EXPECT_EQ(job.queue, "mail");
    EXPECT_EQ(job.priority, 5);
    EXPECT_EQ(job.max_attempts, 4);
    EXPECT_EQ(job.state, JobState::queued);
    EXPECT_EQ(json::parse(job.args).at("email"), "a@b.c");

    auto custom = queue_->enqueue("raw", json::value{{"x", 1}},
                                  {.priority = -3, .queue = "other", .max_attempts = 9})
                      .value();
    job = queue_->get(custom.id).value();
    EXPECT_EQ(job.queue, "other");
    EXPECT_EQ(job.priority, -3);
    EXPECT_EQ(job.max_attempts, 9);
}

TEST_P(Queues, UnknownNameIsNotFoundAndStoresNothing) {
    expect_refused(queue_->enqueue("nope", nullptr), JobsErrc::not_found, "no job definition");
}

TEST_P(Queues, ArgumentsAreValidatedWhenEnqueuedNamingTheField) {
    expect_refused(queue_->enqueue("welcome", json::value{{"age", "x"}}),
                   JobsErrc::invalid_argument, "args.email: Field required");
    expect_refused(queue_->enqueue("welcome", json::value{{"email", "a"}, {"age", "x"}}),
                   JobsErrc::invalid_argument, "args.age: Input should be a valid integer");
    expect_refused(queue_->enqueue("welcome", json::value(42)), JobsErrc::invalid_argument,
                   "welcome: args: Input should be a valid dictionary");
    // Lax mode as in request bodies: "42" is an int.
    EXPECT_TRUE(queue_->enqueue("welcome", json::value{{"email", "a"}, {"age", "42"}}));
}

TEST_P(Queues, BadOptionsAreInvalidArgumentsAndStoreNothing) {
    expect_refused(queue_->enqueue("raw", nullptr, {.delay = -1ms}), JobsErrc::invalid_argument,
                   "delay: -1 ms is negative");
    expect_refused(queue_->enqueue("raw", nullptr, {.priority = 101}),
                   JobsErrc::invalid_argument, "priority: 101 is out of range -100..100");
    expect_refused(queue_->enqueue("raw", nullptr, {.priority = -101}),
                   JobsErrc::invalid_argument, "priority");
    expect_refused(queue_->enqueue("raw", nullptr, {.max_attempts = 0}),
                   JobsErrc::invalid_argument, "max_attempts");
    expect_refused(
        queue_->enqueue("raw", nullptr, {.delay = 1s, .run_at = std::chrono::system_clock::now()}),
        JobsErrc::invalid_argument, "not both");
    expect_refused(queue_->enqueue("raw", nullptr, {.queue = ""}), JobsErrc::invalid_argument,
                   "queue");
    expect_refused(queue_->enqueue("raw", nullptr, {.unique_key = ""}),
                   JobsErrc::invalid_argument, "unique_key");
}

TEST_P(Queues, EnqueueManyIsAllOrNothingAndNamesTheIndex) {
    std::vector<EnqueueRequest> jobs{{"raw", nullptr}, {"welcome", json::value{{"age", 1}}}};
    auto refused = queue_->enqueue_many(jobs);
    ASSERT_FALSE(refused);
    EXPECT_NE(std::string(refused.error().what()).find("jobs[1] (welcome): args.email"),
              std::string::npos)
        << refused.error().what();
    EXPECT_EQ(total_jobs(), 0);

    jobs[1].args = json::value{{"email", "e"}, {"age", 1}};
    auto outcomes = queue_->enqueue_many(jobs).value();
    ASSERT_EQ(outcomes.size(), 2u);
    EXPECT_LT(outcomes[0].id, outcomes[1].id);
    EXPECT_EQ(total_jobs(), 2);
}

TEST_P(Queues, DelayMakesTheJobScheduled) {
    auto id = queue_->enqueue("raw", nullptr, {.delay = 1h}).value().id;
    auto job = queue_->get(id).value();
    EXPECT_EQ(job.state, JobState::scheduled);
    EXPECT_GE(job.run_at, job.created_at + 1h - 1ms);
}

TEST_P(Queues, UniqueKeyReturnsTheSameJob) {
    auto first = queue_->enqueue("raw", nullptr, {.unique_key = "k"}).value();
    auto again = queue_->enqueue("raw", json::value{{"other", 1}}, {.unique_key = "k"}).value();
    EXPECT_TRUE(first.created);
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(queue_->get(first.id).value().unique_key, "raw:k");
    EXPECT_EQ(total_jobs(), 1);
}

TEST_P(Queues, UniqueByArgumentsDedupesEqualArguments) {
    queue_->define("by_args", noop_raw, {.unique = UniquePolicy::by_args});
    queue_->define("by_key", noop_raw, {.unique = UniquePolicy::by_key});
    auto a = queue_->enqueue("by_args", json::value{{"x", 1}}).value();
    auto b = queue_->enqueue("by_args", json::value{{"x", 1}}).value();
    auto c = queue_->enqueue("by_args", json::value{{"x", 2}}).value();
    EXPECT_EQ(a.id, b.id);
    EXPECT_FALSE(b.created);
    EXPECT_NE(a.id, c.id);
    auto missing = queue_->enqueue("by_key", nullptr);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), JobsErrc::invalid_argument);
}

TEST_P(Queues, CancelOfAQueuedJobIsImmediate) {
    auto id = queue_->enqueue("raw", nullptr, {.delay = 1h}).value().id;
    EXPECT_EQ(queue_->cancel(id).value(), JobState::cancelled);
    auto job = queue_->get(id).value();
    EXPECT_EQ(job.state, JobState::cancelled);
    ASSERT_TRUE(job.expires_at);  // the definition's finished-job TTL
    EXPECT_GE(*job.expires_at, *job.finished_at + std::chrono::hours(24 * 7) - 1ms);
    EXPECT_EQ(queue_->cancel(424242).error().code(), JobsErrc::not_found);
}

TEST_P(Queues, CoEnqueueRunsTheStoreCallOffTheLoop) {
    Queue* queue = queue_.get();
    auto outcome = testing::run_task(queue->co_enqueue("raw", json::value{{"a", 1}}));
    ASSERT_TRUE(outcome);
    EXPECT_EQ(queue_->get(outcome->id).value().state, JobState::queued);
    auto refused = testing::run_task(queue->co_enqueue("nope", nullptr));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), JobsErrc::not_found);
}

#if AFTERWORK_WITH_SQLITE
TEST_P(Queues, EnqueueInJoinsTheCallersTransaction) {
    if (GetParam() != "sqlite") GTEST_SKIP() << "SQLite only";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_->path() / "jobs.db").c_str(), &db), SQLITE_OK);
    std::vector<EnqueueRequest> jobs{{"raw", nullptr}};
    ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_TRUE(enqueue_in(db, *queue_, jobs));
    ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(total_jobs(), 0);

    ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    auto outcomes = enqueue_in(db, *queue_, jobs);
    ASSERT_TRUE(outcomes);
    std::vector<EnqueueRequest> bad{{"welcome", json::value{{"age", 1}}}};
    EXPECT_EQ(enqueue_in(db, *queue_, bad).error().code(), JobsErrc::invalid_argument);
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    EXPECT_EQ(total_jobs(), 1);
    EXPECT_EQ(queue_->get(outcomes->front().id).value().state, JobState::queued);
}
#endif

INSTANTIATE_TEST_SUITE_P(Stores, Queues, ::testing::ValuesIn(testing::store_kinds()));

TEST(Backoff, CeilingDoublesUpToTheCap) {
    Backoff backoff{.base = 100ms, .cap = 1000ms};
    EXPECT_EQ(backoff_ceiling(backoff, 1), 100ms);
    EXPECT_EQ(backoff_ceiling(backoff, 2), 200ms);
    EXPECT_EQ(backoff_ceiling(backoff, 4), 800ms);
    EXPECT_EQ(backoff_ceiling(backoff, 5), 1000ms);
    EXPECT_EQ(backoff_ceiling(backoff, 10'000), 1000ms);
    EXPECT_EQ(backoff_ceiling(Backoff{.base = 0ms}, 3), 0ms);
}

}  // namespace
}  // namespace afterwork
