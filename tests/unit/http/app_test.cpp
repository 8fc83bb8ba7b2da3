// SPDX-License-Identifier: MIT
#include <afterwork/http/app.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <afterwork/testing/test_client.hpp>
#include <support/eventually.hpp>

namespace afterwork {
namespace {

using testing::TestClient;

struct Address {
    std::string city;
    std::optional<std::string> zip;
};
BOOST_DESCRIBE_STRUCT(Address, (), (city, zip))

struct Signup {
    std::string email;
    int age = 0;
    std::optional<std::string> source = "organic";
    std::optional<Address> address;
};
BOOST_DESCRIBE_STRUCT(Signup, (), (email, age, source, address))

class TeapotError : public std::runtime_error {
public:
    TeapotError() : std::runtime_error("short and stout") {}
};

TEST(App, RoutesWithTypedPathAndQueryParameters) {
    App app;
    app.get("/reports/{job_id}", [](Request& request) -> Task<Response> {
        auto id = request.path_param<int>("job_id");
        auto verbose = request.query_or<bool>("verbose", false);
        co_return json_response({{"id", id}, {"verbose", verbose}});
    });
    TestClient client(app);
    auto ok = client.get("/reports/17?verbose=true");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.json(), boost::json::parse(R"({"id":17,"verbose":true})"));

    auto bad_path = client.get("/reports/seventeen");
    EXPECT_EQ(bad_path.status, 422);
    auto detail = bad_path.json().at("detail").at(0);
    EXPECT_EQ(detail.at("loc"), boost::json::parse(R"(["path","job_id"])"));
    EXPECT_EQ(detail.at("type"), "int_parsing");

    auto bad_query = client.get("/reports/1?verbose=maybe");
    EXPECT_EQ(bad_query.status, 422);
    EXPECT_EQ(bad_query.json().at("detail").at(0).at("loc"),
              boost::json::parse(R"(["query","verbose"])"));
}

TEST(App, DecodesPercentEncodedPathsAndQueries) {
    App app;
    app.get("/echo/{text}", [](Request& request) -> Task<Response> {
        co_return json_response({{"text", request.path_param("text")},
                                 {"q", request.query("q").value_or("-")}});
    });
    TestClient client(app);
    auto response = client.get("/echo/a%20b%40c?q=x+y%26z");
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.json(), boost::json::parse(R"({"text":"a b@c","q":"x y&z"})"));
    EXPECT_EQ(client.get("/echo/%zz").status, 400);
    EXPECT_EQ(client.get("/echo/a?q=%4").status, 400);
}

TEST(App, UnknownPathIs404AndWrongMethodIs405) {
    App app;
    app.get("/only-get", [](Request&) -> Task<Response> { co_return empty_response(204); });
    TestClient client(app);
    auto missing = client.get("/nope");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.json(), boost::json::parse(R"({"detail":"Not Found"})"));
    auto wrong = client.post("/only-get");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.header("Allow"), "GET");
}

TEST(App, BindsJsonBodiesAndReportsEveryInvalidField) {
    App app;
    app.post("/signup", [](Request& request) -> Task<Response> {
        auto body = request.json<Signup>();
        co_return json_response(201, {{"email", body.email},
                                      {"age", body.age},
                                      {"source", body.source ? *body.source : "null"},
                                      {"city", body.address ? body.address->city : "-"}});
    });
    TestClient client(app);
    auto ok = client.post_json("/signup", {{"email", "a@b.c"}, {"age", 30}});
    ASSERT_EQ(ok.status, 201);
    EXPECT_EQ(ok.json().at("source"), "organic") << "an absent optional keeps its default";

    auto nested = client.post_json(
        "/signup", {{"email", "a@b.c"}, {"age", 1}, {"address", {{"city", "Pune"}}}});
    EXPECT_EQ(nested.json().at("city"), "Pune");

    auto invalid = client.post_json("/signup", {{"age", "old"}, {"address", {{"zip", 1}}}});
    ASSERT_EQ(invalid.status, 422);
    auto detail = invalid.json().at("detail").as_array();
    std::vector<std::string> locs;
    for (const auto& issue : detail) locs.push_back(boost::json::serialize(issue.at("loc")));
    EXPECT_EQ(locs, (std::vector<std::string>{R"(["body","email"])", R"(["body","age"])",
                                              R"(["body","address","city"])",
                                              R"(["body","address","zip"])"}));
    EXPECT_EQ(detail.at(0).at("type"), "missing");
    EXPECT_EQ(detail.at(0).at("msg"), "Field required");

    auto not_json = client.post("/signup", "{not json");
    ASSERT_EQ(not_json.status, 422);
    EXPECT_EQ(not_json.json().at("detail").at(0).at("type"), "json_invalid");
}

TEST(App, HttpErrorsKeepTheirStatusAndHeaders) {
    App app;
    app.get("/busy", [](Request&) -> Task<Response> {
        throw HttpError(503, "busy", {{"Retry-After", "5"}});
        co_return empty_response(204);
    });
    TestClient client(app);
    auto response = client.get("/busy");
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(response.json(), boost::json::parse(R"({"detail":"busy"})"));
    EXPECT_EQ(response.header("retry-after"), "5");
}

TEST(App, UnhandledExceptionIs500WithRequestIdAndNoDetail) {
    App app;
    app.get("/crash", [](Request&) -> Task<Response> {
        throw std::runtime_error("secret database password in message");
        co_return empty_response(204);
    });
    TestClient client(app);
    auto response = client.get("/crash", {{"x-request-id", "req-123"}});
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(response.json(), boost::json::parse(
                                   R"({"detail":"Internal Server Error","request_id":"req-123"})"));
    EXPECT_EQ(response.body.find("secret"), std::string::npos);
}

TEST(App, GeneratesRequestIdsWhenTheClientSendsNoneOrAnInsaneOne) {
    App app;
    app.get("/id", [](Request& request) -> Task<Response> {
        co_return json_response({{"id", request.request_id()}});
    });
    TestClient client(app);
    auto first = client.get("/id").json().at("id").as_string();
    auto second = client.get("/id").json().at("id").as_string();
    EXPECT_GE(first.size(), 8u);
    EXPECT_LE(first.size(), 13u);
    EXPECT_NE(first, second);
    auto hostile = client.get("/id", {{"x-request-id", "a\"b<script>"}}).json().at("id");
    EXPECT_NE(hostile, "a\"b<script>");
}

TEST(App, UserExceptionHandlersComeFirst) {
    App app;
    app.on_exception<TeapotError>([](Request&, const TeapotError& e) {
        return json_response(418, {{"detail", e.what()}});
    });
    app.get("/tea", [](Request&) -> Task<Response> {
        throw TeapotError();
        co_return empty_response(204);
    });
    TestClient client(app);
    auto response = client.get("/tea");
    EXPECT_EQ(response.status, 418);
    EXPECT_EQ(response.json().at("detail"), "short and stout");
}

TEST(App, MiddlewareWrapsHandlersSeesFailuresAndCanAnswerAlone) {
    App app;
    std::atomic<int> requests{0};
    std::atomic<int> errors{0};
    app.use([&](Request& request, Next next) -> Task<Response> {
        requests.fetch_add(1);
        try {
            Response response = co_await next(request);
            response.add_header("x-wrapped", "yes");
            co_return response;
        } catch (...) {
            errors.fetch_add(1);
            throw;
        }
    });
    app.use([](Request& request, Next next) -> Task<Response> {
        if (request.header("x-blocked")) co_return json_response(403, {{"detail", "blocked"}});
        co_return co_await next(request);
    });
    app.get("/ok", [](Request&) -> Task<Response> { co_return json_response({{"ok", true}}); });
    app.get("/boom", [](Request&) -> Task<Response> {
        throw std::logic_error("x");
        co_return empty_response(204);
    });
    TestClient client(app);
    auto ok = client.get("/ok");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.header("x-wrapped"), "yes");
    EXPECT_EQ(client.get("/ok", {{"x-blocked", "1"}}).status, 403);
    EXPECT_EQ(client.get("/boom").status, 500);
    EXPECT_EQ(client.get("/missing").status, 404);
    EXPECT_EQ(requests.load(), 4);
    EXPECT_EQ(errors.load(), 1);
}

TEST(App, PlainFunctionHandlersRunOffTheLoop) {
    App app;
    app.get("/sync", [](Request& request) {
        return json_response({{"path", request.path()}});
    });
    app.get("/sync-json", [](Request&) { return boost::json::value{{"a", 1}}; });
    app.get("/async-json", [](Request&) -> Task<boost::json::value> {
        co_return boost::json::value{{"b", 2}};
    });
    TestClient client(app);
    EXPECT_EQ(client.get("/sync").json().at("path"), "/sync");
    EXPECT_EQ(client.get("/sync-json").json().at("a"), 1);
    EXPECT_EQ(client.get("/async-json").json().at("b"), 2);
}

TEST(App, SharesStateSetUpAtStartupAndFreezesIt) {
    struct Counter {
        std::atomic<int> value{0};
    };
    App app;
    app.on_startup([](App& self) { self.state().emplace<Counter>(); });
    app.post("/hit", [](Request& request) -> Task<Response> {
        auto& counter = request.state().get<Counter>();
        co_return json_response({{"value", ++counter.value}});
    });
    app.get("/mutate", [](Request& request) -> Task<Response> {
        request.state().emplace<int>(5);  // not allowed while serving
        co_return empty_response(204);
    });
    TestClient client(app);
    EXPECT_EQ(client.post("/hit").json().at("value"), 1);
    EXPECT_EQ(client.post("/hit").json().at("value"), 2);
    EXPECT_EQ(client.get("/mutate").status, 500);
}

TEST(App, MissingPathParameterIsAHandlerBug) {
    App app;
    app.get("/x/{id}", [](Request& request) -> Task<Response> {
        co_return json_response({{"v", request.path_param("other")}});
    });
    TestClient client(app);
    EXPECT_EQ(client.get("/x/1").status, 500);
}

TEST(App, StartsOnlyOnce) {
    App app;
    TestClient client(app);
    EXPECT_THROW(app.start(TestClient::default_options()), std::logic_error);
}

// The app's scheduler starts with the app and stops with it; a driven clock comes through
// configure_scheduler.
TEST(AppScheduler, SchedulesRunWhileServingAndStopWithTheApp) {
    using namespace std::chrono_literals;
    const auto start = parse_iso8601("2026-06-01T08:59:00Z");
    auto clock = std::make_shared<ManualClock>(start);
    App app;
    app.configure_scheduler({.clock = clock});
    auto runs = std::make_shared<std::atomic<int>>(0);
    auto blocking_runs = std::make_shared<std::atomic<int>>(0);
    app.cron("0 9 * * *", "digest", [runs]() -> Task<void> {
        ++*runs;
        co_return;
    }, {.tz = "UTC"});
    app.schedule(IntervalTrigger(1min), "plain", [blocking_runs] { ++*blocking_runs; });
    EXPECT_THROW(app.configure_scheduler({}), std::logic_error);
    EXPECT_THROW(app.cron("0 25 * * *", "bad", [] {}), ScheduleError);
    EXPECT_THROW(app.cron("0 9 * * *", "digest", [] {}), ScheduleError);  // id taken
    EXPECT_THROW(app.cron("0 9 * * *", "zone", [] {}, {.tz = "Nowhere/Special"}), ScheduleError);
    {
        TestClient client(app);
        clock->advance(1min);
        EXPECT_TRUE(testing::eventually([&] { return runs->load() == 1 && blocking_runs->load() == 1; }));
        auto digest = app.scheduler().find("digest");
        ASSERT_TRUE(digest);
        EXPECT_EQ(digest->next_run, parse_iso8601("2026-06-02T09:00:00Z"));
    }
    // Stopped with the app: its firing loop and instances have ended, the listing stays.
    EXPECT_TRUE(app.scheduler().wait_stopped(0s));
    auto digest = app.scheduler().find("digest");
    ASSERT_TRUE(digest);
    EXPECT_EQ(digest->running, 0);
    EXPECT_EQ(digest->last_outcome, ScheduleOutcome::succeeded);
}

}  // namespace
}  // namespace afterwork
