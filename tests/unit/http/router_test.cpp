// SPDX-License-Identifier: MIT
#include "http/router.hpp"

#include <gtest/gtest.h>

namespace afterwork::detail {
namespace {

App::Handler dummy() {
    return [](Request&, BackgroundTasks&) -> Task<Response> { co_return empty_response(204); };
}

TEST(Router, MatchesStaticAndParameterSegments) {
    Router router;
    router.add("GET", "/reports/{job_id}/status", dummy());
    router.add("GET", "/reports/latest/status", dummy());
    RouteMatch match;
    ASSERT_EQ(router.match("GET", "/reports/abc/status", match), Router::Outcome::found);
    EXPECT_EQ(match.route->pattern, "/reports/{job_id}/status");
    ASSERT_EQ(match.values.size(), 1u);
    EXPECT_EQ(match.values[0], "abc");
    RouteMatch latest;
    ASSERT_EQ(router.match("GET", "/reports/latest/status", latest), Router::Outcome::found);
    EXPECT_EQ(latest.route->pattern, "/reports/latest/status");
}

TEST(Router, BacktracksFromAStaticPrefixToAParameter) {
    Router router;
    router.add("GET", "/users/me", dummy());
    router.add("GET", "/users/{id}/posts", dummy());
    RouteMatch match;
    ASSERT_EQ(router.match("GET", "/users/me/posts", match), Router::Outcome::found);
    EXPECT_EQ(match.route->pattern, "/users/{id}/posts");
    EXPECT_EQ(match.values.at(0), "me");
}

TEST(Router, RejectsEmptySegmentsForParameters) {
    Router router;
    router.add("GET", "/items/{id}", dummy());
    RouteMatch match;
    EXPECT_EQ(router.match("GET", "/items/", match), Router::Outcome::not_found);
    EXPECT_EQ(router.match("GET", "/items", match), Router::Outcome::not_found);
    EXPECT_EQ(router.match("GET", "/items/1/2", match), Router::Outcome::not_found);
}

TEST(Router, TailParameterTakesTheRestOfThePath) {
    Router router;
    router.add("GET", "/files/{path:path}", dummy());
    RouteMatch match;
    ASSERT_EQ(router.match("GET", "/files/a/b/c.txt", match), Router::Outcome::found);
    EXPECT_EQ(match.values.at(0), "a/b/c.txt");
}

TEST(Router, WrongMethodIsMethodNotAllowedWithAllow) {
    Router router;
    router.add("GET", "/things", dummy());
    router.add("POST", "/things", dummy());
    RouteMatch match;
    ASSERT_EQ(router.match("DELETE", "/things", match), Router::Outcome::method_not_allowed);
    EXPECT_EQ(match.allow, "GET, POST");
}

TEST(Router, HeadFallsBackToGet) {
    Router router;
    router.add("GET", "/healthz", dummy());
    RouteMatch match;
    EXPECT_EQ(router.match("HEAD", "/healthz", match), Router::Outcome::found);
}

TEST(Router, RootPath) {
    Router router;
    router.add("GET", "/", dummy());
    RouteMatch match;
    EXPECT_EQ(router.match("GET", "/", match), Router::Outcome::found);
}

TEST(Router, RejectsMalformedAndDuplicatePatterns) {
    Router router;
    router.add("GET", "/a/{id}", dummy());
    EXPECT_THROW(router.add("GET", "/a/{other}", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("GET", "no-slash", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("GET", "/x/{bad name}", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("GET", "/x/{id}/{id}", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("GET", "/x/pre{id}", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("GET", "/x/{p:path}/more", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("GET", "/x/{id:uuid}", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("", "/x", dummy()), std::invalid_argument);
    EXPECT_THROW(router.add("GET", "/x", App::Handler{}), std::invalid_argument);
    router.add("POST", "/a/{id}", dummy());  // same pattern, other method: fine
}

}  // namespace
}  // namespace afterwork::detail
