// SPDX-License-Identifier: MIT
// The REST API over a job queue, through the TestClient: every endpoint, the bearer token, and
// bad, missing and hostile input that must change nothing.

#include <afterwork/observe/jobs_api.hpp>

#include <memory>
#include <string>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/jobs/memory_store.hpp>
#include <afterwork/jobs/sqlite_store.hpp>
#include <afterwork/testing/test_client.hpp>

#include "support/process.hpp"

namespace afterwork {
namespace {

using testing::Headers;
using testing::TestClient;

struct Email {
    std::string to;
    std::optional<int> retries;
};
BOOST_DESCRIBE_STRUCT(Email, (), (to, retries))

const Headers kAuthorized = {{"Authorization", "Bearer s3cret"}};

class JobsApi : public ::testing::Test {
protected:
    explicit JobsApi(std::shared_ptr<Store> store = std::make_shared<MemoryStore>())
        : store_(std::move(store)), queue_(store_) {
        queue_.define("send_email", [](JobContext&, Email) {});
        queue_.define("raw", [](JobContext&, const boost::json::value&) {});
        mount_jobs_api(app_, queue_, {.admin_token = "s3cret"});
        client_.emplace(app_);
    }

    testing::TestResponse enqueue(const boost::json::value& body,
                                  const Headers& headers = kAuthorized) {
        return client_->post_json("/afterwork/api/jobs", body, headers);
    }

    JobId enqueue_id(const boost::json::value& body) {
        auto response = enqueue(body);
        EXPECT_EQ(response.status, 201) << response.body;
        return response.status == 201 ? response.json().at("id").to_number<JobId>() : 0;
    }

    std::size_t jobs_stored() {
        auto page = store_->list({}, {.limit = kMaxPageSize});
        return page ? page->jobs.size() : 0;
    }

    std::shared_ptr<Store> store_;
    Queue queue_;
    App app_;
    std::optional<TestClient> client_;
};

TEST_F(JobsApi, EnqueueGetListAndQueueDepths) {
    auto created = enqueue({{"name", "send_email"},
                            {"args", {{"to", "ada@example.com"}}},
                            {"priority", 5},
                            {"delay", 60}});
    ASSERT_EQ(created.status, 201) << created.body;
    const auto id = created.json().at("id").to_number<JobId>();
    EXPECT_EQ(created.json().at("created"), true);
    EXPECT_EQ(created.json().at("job").at("state"), "scheduled");

    auto job = client_->get("/afterwork/api/jobs/" + std::to_string(id));
    ASSERT_EQ(job.status, 200);
    EXPECT_EQ(job.json().at("name"), "send_email");
    EXPECT_EQ(job.json().at("priority"), 5);
    EXPECT_EQ(job.json().at("args").at("to"), "ada@example.com");
    EXPECT_TRUE(job.json().at("run_at").is_string());

    enqueue_id({{"name", "raw"}, {"args", {1, 2, 3}}, {"queue", "bulk"}});
    auto list = client_->get("/afterwork/api/jobs?limit=1").json();
    ASSERT_EQ(list.at("jobs").as_array().size(), 1u);
    EXPECT_EQ(list.at("jobs").at(0).at("name"), "raw");  // newest first
    const auto next = list.at("next_before").to_number<JobId>();
    auto second = client_->get("/afterwork/api/jobs?limit=1&before=" + std::to_string(next));
    EXPECT_EQ(second.json().at("jobs").at(0).at("id").to_number<JobId>(), id);
    EXPECT_TRUE(second.json().at("next_before").is_null());

    auto bulk = client_->get("/afterwork/api/jobs?queue=bulk").json().at("jobs").as_array();
    ASSERT_EQ(bulk.size(), 1u);
    auto scheduled = client_->get("/afterwork/api/jobs?state=scheduled").json().at("jobs");
    EXPECT_EQ(scheduled.as_array().size(), 1u);
    auto by_name = client_->get("/afterwork/api/jobs?name=raw").json().at("jobs");
    EXPECT_EQ(by_name.as_array().size(), 1u);

    auto queues = client_->get("/afterwork/api/queues").json().as_array();
    ASSERT_EQ(queues.size(), 2u);
    EXPECT_EQ(queues.at(0).at("queue"), "bulk");
    EXPECT_EQ(queues.at(0).at("counts").at("queued"), 1);
    EXPECT_EQ(queues.at(1).at("counts").at("scheduled"), 1);
    EXPECT_EQ(queues.at(1).at("total"), 1);
}

TEST_F(JobsApi, AUniqueKeyAnswersWithTheExistingJob) {
    const auto first = enqueue_id({{"name", "raw"}, {"unique_key", "report-42"}});
    auto again = enqueue({{"name", "raw"}, {"unique_key", "report-42"}});
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.json().at("created"), false);
    EXPECT_EQ(again.json().at("id").to_number<JobId>(), first);
    EXPECT_EQ(jobs_stored(), 1u);
}

TEST_F(JobsApi, CancelRetryAndDelete) {
    const auto id = enqueue_id({{"name", "raw"}});
    const auto base = "/afterwork/api/jobs/" + std::to_string(id);

    auto retry_queued = client_->post(base + "/retry", "", kAuthorized);
    EXPECT_EQ(retry_queued.status, 409) << retry_queued.body;
    EXPECT_TRUE(retry_queued.json().at("detail").is_string());

    auto cancelled = client_->post(base + "/cancel", "", kAuthorized);
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    EXPECT_EQ(cancelled.json().at("state"), "cancelled");

    auto retried = client_->post(base + "/retry", "", kAuthorized);
    ASSERT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(retried.json().at("state"), "queued");

    EXPECT_EQ(client_->del(base, kAuthorized).status, 204);
    EXPECT_EQ(client_->get(base).status, 404);
    EXPECT_EQ(client_->del(base, kAuthorized).status, 404);
    EXPECT_EQ(client_->post(base + "/cancel", "", kAuthorized).status, 404);
    EXPECT_EQ(client_->post(base + "/retry", "", kAuthorized).status, 404);
}

TEST_F(JobsApi, MutationsNeedTheBearerToken) {
    const boost::json::value body = {{"name", "raw"}};
    for (const Headers& headers : {Headers{},
                                   Headers{{"Authorization", "Bearer wrong"}},
                                   Headers{{"Authorization", "Bearer s3cret2"}},
                                   Headers{{"Authorization", "s3cret"}},
                                   Headers{{"Authorization", "Basic czNjcmV0"}},
                                   Headers{{"Authorization", "Bearer "}}}) {
        auto response = enqueue(body, headers);
        EXPECT_EQ(response.status, 401) << response.body;
        EXPECT_EQ(response.header("WWW-Authenticate"), "Bearer");
    }
    EXPECT_EQ(jobs_stored(), 0u);
    const auto id = enqueue_id(body);
    const auto base = "/afterwork/api/jobs/" + std::to_string(id);
    EXPECT_EQ(client_->post(base + "/cancel").status, 401);
    EXPECT_EQ(client_->post(base + "/retry").status, 401);
    EXPECT_EQ(client_->del(base).status, 401);
    EXPECT_EQ(client_->get(base).json().at("state"), "queued");  // reads need no token
}

TEST(JobsApiToken, WithoutATokenMutationsAreRefused) {
    auto store = std::make_shared<MemoryStore>();
    Queue queue(store);
    queue.define("raw", [](JobContext&, const boost::json::value&) {});
    App app;
    ::unsetenv("AFTERWORK_ADMIN_TOKEN");
    mount_jobs_api(app, queue, {.prefix = "/api/"});
    TestClient client(app);
    auto response = client.post_json("/api/jobs", {{"name", "raw"}}, kAuthorized);
    EXPECT_EQ(response.status, 403);
    EXPECT_NE(response.body.find("AFTERWORK_ADMIN_TOKEN"), std::string::npos);
    EXPECT_EQ(client.get("/api/jobs").status, 200);
}

TEST_F(JobsApi, BadInputGetsA4xxAndStoresNothing) {
    struct Case {
        std::string body;
        int status;
        std::string mentions;
    };
    const std::vector<Case> cases = {
        {R"({"name":"no_such_job"})", 422, "no_such_job"},
        {R"({"name":"send_email","args":{"to":42}})", 422, "to"},
        {R"({"name":"send_email","args":{}})", 422, "to"},
        {R"({"name":"send_email","args":"not an object"})", 422, ""},
        {R"({"name":"raw","delay":-1})", 422, "delay"},
        {R"({"name":"raw","run_at":"tomorrow"})", 422, "run_at"},
        {R"({"name":"raw","priority":1000})", 422, "priority"},
        {R"({"name":"raw","max_attempts":0})", 422, ""},
        {R"({"name":"raw","delay":5,"run_at":"2030-01-01T00:00:00Z"})", 422, ""},
        {R"({"args":{}})", 422, "name"},
        {R"({"name":7})", 422, "name"},
        {R"({"name":"raw")", 422, "json"},
        {R"([1,2,3])", 422, ""},
        {"", 422, ""},
        {std::string(100'000, '['), 422, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.body.substr(0, 80));
        Headers headers = kAuthorized;
        headers.emplace_back("Content-Type", "application/json");
        auto response = client_->post("/afterwork/api/jobs", c.body, headers);
        EXPECT_EQ(response.status, c.status) << response.body.substr(0, 300);
        EXPECT_NE(response.body.find(c.mentions), std::string::npos) << response.body;
        EXPECT_NO_THROW(response.json());
    }
    EXPECT_EQ(jobs_stored(), 0u);

    EXPECT_EQ(client_->get("/afterwork/api/jobs/abc").status, 422);
    EXPECT_EQ(client_->get("/afterwork/api/jobs/-4").status, 422);
    EXPECT_EQ(client_->get("/afterwork/api/jobs/0").status, 422);
    EXPECT_EQ(client_->get("/afterwork/api/jobs/99999999999999999999999").status, 422);
    EXPECT_EQ(client_->get("/afterwork/api/jobs/12345").status, 404);
    EXPECT_EQ(client_->get("/afterwork/api/jobs?state=sleeping").status, 422);
    EXPECT_EQ(client_->get("/afterwork/api/jobs?limit=0").status, 422);
    EXPECT_EQ(client_->get("/afterwork/api/jobs?limit=100000").status, 422);
    EXPECT_EQ(client_->get("/afterwork/api/jobs?before=x").status, 422);
    EXPECT_EQ(client_->request("PUT", "/afterwork/api/jobs", "", kAuthorized).status, 405);
}

class JobsApiReadOnly : public JobsApi {
protected:
    static std::shared_ptr<Store> read_only_store(const testing::TempDir& dir) {
        const auto path = dir.path() / "afterwork.db";
        SqliteStore::open(path).value();  // creates the schema
        return std::shared_ptr<Store>(SqliteStore::open(path, {.read_only = true}).value());
    }
    inline static testing::TempDir dir_ = testing::free_data_dir();
    JobsApiReadOnly() : JobsApi(read_only_store(dir_)) {}
};

TEST_F(JobsApiReadOnly, AStoreThatCannotBeWrittenIs503WithTheReason) {
    auto response = enqueue({{"name", "raw"}});
    EXPECT_EQ(response.status, 503) << response.body;
    EXPECT_EQ(response.header("Retry-After"), "1");
    EXPECT_NE(response.body.find("detail"), std::string::npos);
    EXPECT_EQ(client_->get("/afterwork/api/jobs").status, 200);
}

}  // namespace
}  // namespace afterwork
